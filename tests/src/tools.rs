//! Outside tools: the programs a test needs beyond the Rust toolchain, gcc,
//! python3 and node (zsh, sshd, patchelf, musl-gcc, go, ...).
//!
//! A test asks for each with [`require_tool`] (or the [`require_tool!`]
//! macro, which returns from the test), and runs it by the path it gets
//! back. A missing tool skips the test with one line on stderr naming the
//! tool and the Debian package that brings it:
//!
//! ```text
//! skipped: zsh not found (apt-get install zsh)
//! ```
//!
//! With `HUPSAFE_TEST_REQUIRE_ALL=1` (set by `.ci/run`) the same line is a
//! panic instead: CI runs every test or fails.
//!
//! [`require_tool!`]: crate::require_tool!

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Set (to anything but empty or `0`) to make every skip fail its test.
pub const REQUIRE_ALL_ENV: &str = "HUPSAFE_TEST_REQUIRE_ALL";

/// Where a tool is looked up after PATH: sshd lives in /usr/sbin, which a
/// user's PATH often lacks.
const SBIN: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Whether `HUPSAFE_TEST_REQUIRE_ALL` asks for every test to run.
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The executable file `program` on the test runner's PATH, else in
/// /usr/sbin or /sbin. A name with a slash is taken as a path.
pub fn which(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(SBIN)
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| executable(p));
    found
}

/// `tool`, resolved by [`which`]; when it is missing, the skip line naming
/// `package` (the Debian package that installs it), and None. Under
/// `HUPSAFE_TEST_REQUIRE_ALL=1` a missing tool panics with that line.
pub fn require_tool(tool: &str, package: &str) -> Option<PathBuf> {
    let found = which(tool);
    if found.is_none() {
        skip(&format!("{tool} not found"), package);
    }
    found
}

/// Reports a skipped test (or part of one): `skipped: WHAT (apt-get
/// install PACKAGE)` on stderr, or that line as a panic under
/// `HUPSAFE_TEST_REQUIRE_ALL=1`. For needs that are not a program on PATH
/// (a locale that cannot be built); programs go through [`require_tool`].
#[track_caller]
pub fn skip(what: &str, package: &str) {
    skip_because(what, &format!("apt-get install {package}"));
}

/// [`skip`] for a need that another command brings: `skipped: WHAT (FIX)`.
#[track_caller]
pub fn skip_because(what: &str, fix: &str) {
    let line = format!("skipped: {what} ({fix})");
    if require_all() {
        panic!("{line}");
    }
    // Straight to the file descriptor, not through eprintln!: the test
    // harness captures eprintln! output of passing tests, and a skip must
    // show in a plain `cargo test` run.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `require_tool!(TOOL, PACKAGE)`: the resolved path of `TOOL`, or (after
/// the skip line) a `return` from the calling test.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr, $package:expr) => {
        match $crate::tools::require_tool($tool, $package) {
            Some(path) => path,
            None => return,
        }
    };
}
