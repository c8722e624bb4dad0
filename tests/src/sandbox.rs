//! The one sandbox every test runs hupsafe in: a private temporary
//! directory (from the `tempfile` crate, mode 0700) that holds the HOME,
//! shim directory (`lib/`), state directory (jobs) and config directory
//! (marks) of the hupsafe under test, and whatever else a story writes.
//!
//! Each harness module adds what its stories need to this one type:
//! [`crate::relay`] the jobs (`start`, `ps`, `job_tagged`, ...),
//! [`crate::shell`] the shells and test programs (`open`, `mark`, ...), and
//! [`crate::cli::hupsafe`] the bare command of the CLI tests.
//!
//! Dropping it kills what its jobs left running (by pid and start time),
//! then removes the directory, permissions restored first.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::cli::hupsafe_bin;
use crate::relay::{exit_code, relay_setting};

/// A private directory for one test's hupsafe, removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// Whether the shell stories' programs are in (`with_programs`): the
    /// environment then puts `bin/` first on PATH and names `config/`.
    programs: bool,
}

impl Sandbox {
    /// An empty sandbox, `hupsafe-LABEL-XXXXXX` under the temporary
    /// directory. Its subdirectories are made as they are asked for.
    pub fn new(label: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hupsafe-{label}-"))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        Sandbox {
            dir,
            programs: false,
        }
    }

    /// A sandbox with `home/` and `lib/` made, for jobs.
    pub fn for_jobs(label: &str) -> Sandbox {
        let s = Sandbox::new(label);
        s.dir("home");
        s.dir("lib");
        s
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A subdirectory (created, mode 0700).
    pub fn dir(&self, name: &str) -> PathBuf {
        let p = self.root().join(name);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
        p
    }

    /// Writes a file under the root; its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.root().join(name);
        fs::write(&p, text).unwrap();
        p
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn lib_dir(&self) -> PathBuf {
        self.root().join("lib")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root().join("config")
    }

    /// A directory at the front of the shells' PATH, for test programs
    /// (see [`Sandbox::with_programs`]).
    pub fn bin_dir(&self) -> PathBuf {
        self.root().join("bin")
    }

    pub fn marks_file(&self) -> PathBuf {
        self.config_dir().join("marks")
    }

    pub(crate) fn set_programs(&mut self) {
        self.programs = true;
    }

    /// The environment every hupsafe (and shell) of this sandbox runs with:
    /// its HOME, shim, state (and, with programs, config) directories, a
    /// fixed PATH (`bin/` first, with programs), `TERM=dumb`, and
    /// `HUPSAFE_RELAY` when `HUPSAFE_TEST_RELAY` gives it.
    pub fn env(&self) -> Vec<(String, String)> {
        let p = |d: PathBuf| d.to_string_lossy().into_owned();
        let path = "/usr/local/bin:/usr/bin:/bin";
        let path = if self.programs {
            format!("{}:{path}", self.bin_dir().display())
        } else {
            path.to_string()
        };
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("HOME".into(), p(self.home())),
            ("HUPSAFE_LIB_DIR".into(), p(self.lib_dir())),
            ("HUPSAFE_STATE_DIR".into(), p(self.state_dir())),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "dumb".into()),
        ];
        env.extend(relay_setting().map(|v| ("HUPSAFE_RELAY".to_string(), v)));
        if self.programs {
            env.push(("HUPSAFE_CONFIG_DIR".into(), p(self.config_dir())));
        }
        env
    }

    /// [`Sandbox::env`] with `overrides` (a variable replaced, or added).
    pub fn env_with(&self, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env();
        for &(k, v) in overrides {
            match env.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => env.push((k.to_string(), v.to_string())),
            }
        }
        env
    }

    /// `hupsafe ARGS...` with this sandbox's environment, stdin /dev/null,
    /// in a process group of its own (whatever it does to its group never
    /// reaches the test runner).
    pub fn hupsafe<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(hupsafe_bin());
        c.env_clear()
            .envs(self.env())
            .args(args)
            .stdin(Stdio::null())
            .process_group(0);
        c
    }

    /// Runs `hupsafe ARGS...` to the end: (status, stdout, stderr).
    pub fn run<I, S>(&self, args: I) -> (i32, String, String)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        finish(&mut self.hupsafe(args))
    }
}

/// Runs `cmd` to the end: (status, stdout, stderr); a death by signal N
/// is status 128+N.
pub fn finish(cmd: &mut Command) -> (i32, String, String) {
    let out: Output = cmd.output().expect("cannot run hupsafe");
    (
        exit_code(out.status),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill_all();
        // A story may have taken permissions away (a read-only shim
        // directory): give them back so that the directory can go.
        fn open_up(p: &Path) {
            if let Ok(m) = fs::symlink_metadata(p) {
                if m.is_dir() {
                    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                    if let Ok(rd) = fs::read_dir(p) {
                        for e in rd.flatten() {
                            open_up(&e.path());
                        }
                    }
                }
            }
        }
        open_up(self.root());
        // tempfile::TempDir removes the directory when it drops.
    }
}
