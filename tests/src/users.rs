//! A second local user, for the stories where someone else on the machine
//! tries to get in (`tests/tests/security.rs`).
//!
//! The tests run as root in CI: [`other_user`] creates (once, with
//! `useradd`) an unprivileged account `hupsafe-other` with a home of its own,
//! and commands run as that user through [`Other::command`]. Not root (a
//! developer's machine): the story is skipped with one line, and fails under
//! `HUPSAFE_TEST_REQUIRE_ALL=1` as every skip does.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The account's name.
pub const NAME: &str = "hupsafe-other";

/// Another local user: not root, not us, with a home directory.
#[derive(Clone, Debug)]
pub struct Other {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl Other {
    /// `program` to be run as this user (its ids only, HOME, a plain
    /// PATH); the caller adds arguments and the rest of the environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("USER", NAME)
            .current_dir(&self.home)
            .uid(self.uid)
            .gid(self.gid);
        // As root, std also drops the supplementary groups when it sets the
        // uid (setgroups(0)), so the command has this user's ids only.
        c
    }
}

fn lookup() -> Option<Other> {
    let out = Command::new("getent")
        .args(["passwd", NAME])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim().split(':').collect();
    (f.len() >= 6).then(|| Other {
        uid: f[2].parse().unwrap(),
        gid: f[3].parse().unwrap(),
        home: PathBuf::from(f[5]),
    })
}

/// The second user, created on first use; None (after the skip line) when
/// this test process is not root or the machine has no `useradd`.
pub fn other_user() -> Option<Other> {
    static OTHER: OnceLock<Option<Other>> = OnceLock::new();
    let found = OTHER.get_or_init(|| {
        if !crate::cli::is_root() {
            return None;
        }
        if let Some(o) = lookup() {
            return Some(o);
        }
        let useradd = crate::tools::which("useradd")?;
        let status = Command::new(useradd)
            .args(["--create-home", "--shell", "/bin/sh", "--user-group", NAME])
            .status()
            .ok()?;
        // Another test process may have created it meanwhile.
        let _ = status;
        lookup()
    });
    if found.is_none() {
        crate::tools::skip(
            "a second local user (the tests must run as root, with useradd)",
            "passwd",
        );
    }
    found.clone()
}

/// `let other = require_other_user!();`: the second user, or (after the
/// skip line) a `return` from the calling test.
#[macro_export]
macro_rules! require_other_user {
    () => {
        match $crate::users::other_user() {
            Some(o) => o,
            None => return,
        }
    };
}
