//! The CLI tests' harness: the built `hupsafe` binary, the bare hupsafe
//! command in a [`Sandbox`], terminals (ptys), and running a program with
//! each of fds 0-2 set up as a terminal, /dev/null, /dev/full, a file, or
//! closed, then collecting everything it left behind: exit status, what
//! reached the terminal and the files, and what its command reported.
//!
//! The command under test is usually `tests/c/cli_child.c`, which writes
//! a report of what it was handed (argv, fds 0-2, SIGHUP disposition,
//! umask, LD_PRELOAD) to `$REPORT`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::fixtures::CProgram;
use crate::sandbox::Sandbox;
use crate::shim::{target_dir, workspace_root};

/// Runs the CLI tests against another build of hupsafe (a release or a
/// static build, an installed copy) instead of building the debug one.
pub const TEST_BIN_ENV: &str = "HUPSAFE_TEST_BIN";

/// The `hupsafe` binary, built once per test process by the cargo that
/// runs the tests (`$CARGO build -p hupsafe`, debug profile), or the one
/// named by `HUPSAFE_TEST_BIN`.
pub fn hupsafe_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = || match std::env::var_os(TEST_BIN_ENV).filter(|v| !v.is_empty()) {
        // A relative path is taken from the workspace root (cargo runs
        // tests in the package's directory).
        Some(p) => fs::canonicalize(workspace_root().join(&p))
            .map_err(|e| format!("{TEST_BIN_ENV}={}: {e}", Path::new(&p).display())),
        None => build_hupsafe(),
    };
    match BIN.get_or_init(built) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn build_hupsafe() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let out = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "hupsafe"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run {cargo:?} to build hupsafe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building hupsafe failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = target.join("debug").join("hupsafe");
    if !bin.is_file() {
        return Err(format!(
            "cargo built hupsafe but {} is missing",
            bin.display()
        ));
    }
    Ok(bin)
}

/// The reporting child (`tests/c/cli_child.c`), compiled once.
pub fn child_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| CProgram::new("cli_child").build())
}

/// The reporting child built with musl-gcc (musl's dynamic loader), or
/// None (after the skip line, see [`crate::tools`]) when musl-gcc is not
/// installed.
pub fn musl_child_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    let musl_gcc = crate::tools::require_tool("musl-gcc", "musl-tools")?;
    BIN.get_or_init(|| {
        let out = target_dir().join("hupsafe-fixtures").join("cli_child-musl");
        if out.is_file() {
            return Some(out);
        }
        fs::create_dir_all(out.parent()?).ok()?;
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let ok = Command::new(&musl_gcc)
            .args(["-O1", "-o"])
            .arg(&tmp)
            .arg(crate::fixtures::source_dir().join("cli_child.c"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{} could not build cli_child.c", musl_gcc.display());
        if fs::rename(&tmp, &out).is_err() {
            let _ = fs::remove_file(&tmp);
        }
        out.is_file().then_some(out)
    })
    .as_deref()
}

/// A directory for `LOCPATH` holding `locale` (e.g. `de_DE.UTF-8`),
/// compiled once with `localedef` (found by the caller with
/// [`crate::tools::require_tool`]) from the system's locale sources; None
/// when those are not installed (Debian: locales).
pub fn test_locale(localedef: &Path, locale: &str) -> Option<PathBuf> {
    static LOCALES: std::sync::Mutex<Vec<(String, Option<PathBuf>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = LOCALES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(l, _)| l == locale) {
        return p.clone();
    }
    let dir = target_dir().join("hupsafe-fixtures").join("locales");
    let result = (|| {
        if dir.join(locale).join("LC_CTYPE").is_file() {
            return Some(dir.clone());
        }
        let (name, charset) = locale.split_once('.')?;
        fs::create_dir_all(&dir).ok()?;
        // Built beside the cache, then renamed into it whole; the staging
        // directory goes when dropped.
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&dir)
            .ok()?;
        let tmp = staging.path().join(locale);
        // localedef exits 1 for warnings while still writing the locale.
        let _ = Command::new(localedef)
            .args(["-i", name, "-f", charset])
            .arg(&tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !tmp.join("LC_CTYPE").is_file() {
            return None;
        }
        // Another test process may have put it there first: either is fine.
        let _ = fs::rename(&tmp, dir.join(locale));
        dir.join(locale)
            .join("LC_CTYPE")
            .is_file()
            .then(|| dir.clone())
    })();
    built.push((locale.to_string(), result.clone()));
    result
}

/// Whether the tests run as root (permission bits do not stop root).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A pseudo-terminal: the master end for the test, the slave end handed
/// to programs as fds 0-2. Not their controlling terminal: nothing here
/// depends on SIGHUP delivery, only on isatty().
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    pub fn open() -> Pty {
        // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r/open on fds we
        // own; each result is checked.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt: {}", io::Error::last_os_error());
            let master = OwnedFd::from_raw_fd(m);
            assert_eq!(libc::grantpt(m), 0, "grantpt");
            assert_eq!(libc::unlockpt(m), 0, "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
            let s = libc::open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            );
            assert!(s >= 0, "open slave: {}", io::Error::last_os_error());
            Pty {
                master,
                slave: OwnedFd::from_raw_fd(s),
            }
        }
    }

    pub fn slave_fd(&self) -> i32 {
        self.slave.as_raw_fd()
    }

    /// The master and slave ends, for callers that manage them themselves.
    pub fn into_fds(self) -> (OwnedFd, OwnedFd) {
        (self.master, self.slave)
    }

    /// Everything written to the terminal so far, with the line
    /// discipline's "\r\n" turned back into "\n". A marker written by the
    /// test after the program exited tells where the output ends (pty
    /// data reaches the master asynchronously).
    pub fn output(&self) -> Vec<u8> {
        const MARK: &[u8] = b"\x01hupsafe-test-end\x01";
        let mut marked = MARK.to_vec();
        marked.push(b'\n');
        // SAFETY: writing a buffer to our slave fd.
        let n = unsafe { libc::write(self.slave_fd(), marked.as_ptr().cast(), marked.len()) };
        assert_eq!(n, marked.len() as isize, "cannot write the end marker");
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut got = Vec::new();
        while !got.windows(MARK.len()).any(|w| w == MARK) {
            assert!(
                Instant::now() < deadline,
                "terminal output never ended: {:?}",
                String::from_utf8_lossy(&got)
            );
            let mut p = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll/read on our own master fd.
            unsafe {
                if libc::poll(&mut p, 1, 100) == 1 {
                    let mut buf = [0u8; 4096];
                    let n = libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
                    if n > 0 {
                        got.extend_from_slice(&buf[..n as usize]);
                    }
                }
            }
        }
        let end = got.windows(MARK.len()).position(|w| w == MARK).unwrap();
        got.truncate(end);
        let mut out = Vec::with_capacity(got.len());
        let mut i = 0;
        while i < got.len() {
            if got[i] == b'\r' && got.get(i + 1) == Some(&b'\n') {
                i += 1;
                continue;
            }
            out.push(got[i]);
            i += 1;
        }
        out
    }
}

/// What one of fds 0-2 is when the program starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Io {
    /// The slave end of the run's terminal.
    Tty,
    /// /dev/null, read-write.
    Null,
    /// /dev/full: every write fails with ENOSPC.
    Full,
    /// Closed (`>&-`).
    Closed,
    /// A regular file holding these bytes (`<file`, `>file`).
    File(Vec<u8>),
}

impl Io {
    pub fn label(&self) -> &'static str {
        match self {
            Io::Tty => "tty",
            Io::Null => "null",
            Io::Full => "full",
            Io::Closed => "closed",
            Io::File(_) => "file",
        }
    }
}

/// How the program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Code(i32),
    Signal(i32),
}

/// One program run with fds 0-2 arranged, and what it left behind.
#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    /// Everything written to the terminal (if any fd was one).
    pub tty: Vec<u8>,
    /// The final content of each fd that was a file.
    pub files: [Option<Vec<u8>>; 3],
}

/// A program to run with fds 0-2 as given.
#[derive(Clone, Debug)]
pub struct Run {
    pub program: PathBuf,
    pub argv0: OsString,
    pub args: Vec<OsString>,
    /// The complete environment (nothing is inherited).
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub io: [Io; 3],
    pub umask: u32,
}

impl Run {
    pub fn new(program: impl AsRef<Path>, cwd: impl AsRef<Path>) -> Run {
        let program = program.as_ref().to_path_buf();
        Run {
            argv0: program.clone().into_os_string(),
            program,
            args: Vec::new(),
            env: Vec::new(),
            cwd: cwd.as_ref().to_path_buf(),
            io: [Io::Null, Io::Null, Io::Null],
            umask: 0o022,
        }
    }

    pub fn argv0(mut self, a: impl AsRef<OsStr>) -> Run {
        self.argv0 = a.as_ref().to_os_string();
        self
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Run {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Run {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets (or replaces) an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Run {
        let k = k.as_ref().to_os_string();
        self.env.retain(|(x, _)| *x != k);
        self.env.push((k, v.as_ref().to_os_string()));
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Run {
        self.env.retain(|(x, _)| x != k.as_ref());
        self
    }

    pub fn io(mut self, io: [Io; 3]) -> Run {
        self.io = io;
        self
    }

    pub fn umask(mut self, m: u32) -> Run {
        self.umask = m;
        self
    }

    /// Runs the program to completion (SIGHUP at SIG_DFL and nothing
    /// blocked at start, in a session of its own) and collects what it
    /// left behind. `scratch` holds the files standing in for fds 0-2.
    pub fn run(&self, scratch: &Path) -> Outcome {
        let pty = self.io.contains(&Io::Tty).then(Pty::open);
        let mut sources: Vec<Option<OwnedFd>> = Vec::new();
        let mut file_paths: [Option<PathBuf>; 3] = [None, None, None];
        for (fd, io) in self.io.iter().enumerate() {
            let open = |p: &Path, write: bool| -> OwnedFd {
                fs::OpenOptions::new()
                    .read(true)
                    .write(write)
                    .open(p)
                    .unwrap_or_else(|e| panic!("cannot open {}: {e}", p.display()))
                    .into()
            };
            sources.push(match io {
                Io::Tty => Some(
                    pty.as_ref()
                        .unwrap()
                        .slave
                        .try_clone()
                        .expect("dup the pty slave"),
                ),
                Io::Null => Some(open(Path::new("/dev/null"), true)),
                Io::Full => Some(open(Path::new("/dev/full"), true)),
                Io::Closed => None,
                Io::File(content) => {
                    let p = scratch.join(format!("fd{fd}"));
                    fs::write(&p, content).unwrap();
                    let f = open(&p, true);
                    file_paths[fd] = Some(p);
                    Some(f)
                }
            });
        }
        let raw: Vec<i32> = sources
            .iter()
            .map(|s| s.as_ref().map_or(-1, |f| f.as_raw_fd()))
            .collect();
        let umask = self.umask;
        let mut cmd = Command::new(&self.program);
        cmd.arg0(&self.argv0)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls on
        // descriptors and memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                // Sources are >= 3 (the test process has its own 0-2), so
                // moving them down never clobbers one still needed.
                for (fd, &src) in raw.iter().enumerate() {
                    if src < 0 {
                        libc::close(fd as i32);
                    } else if libc::dup2(src, fd as i32) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                libc::umask(umask as libc::mode_t);
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                crate::process::unblock_all_signals()
            });
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program.display()));
        drop(sources);
        let status = match (status.code(), status.signal()) {
            (Some(c), _) => Status::Code(c),
            (None, Some(s)) => Status::Signal(s),
            _ => unreachable!("a process ends with a code or a signal"),
        };
        let tty = pty.map(|p| p.output()).unwrap_or_default();
        let files = file_paths.map(|p| p.map(|p| fs::read(p).unwrap()));
        Outcome { status, tty, files }
    }
}

/// The files in a directory, one line each: name, type, mode, content
/// (escaped), sorted; `<T>` stands for `root` in names and content.
pub fn describe_dir(dir: &Path, root: &Path) -> String {
    let mut lines = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let m = match fs::symlink_metadata(e.path()) {
                Ok(m) => m,
                Err(_) => continue,
            };
            let name = e.file_name().to_string_lossy().into_owned();
            let line = if m.is_dir() {
                format!("{name}/ dir {:o}", m.mode() & 0o7777)
            } else if m.file_type().is_symlink() {
                format!("{name} symlink")
            } else {
                let content = fs::read(e.path()).unwrap_or_default();
                format!(
                    "{name} file {:o} {:?}",
                    m.mode() & 0o7777,
                    normalize(&content, root)
                )
            };
            lines.push(line);
        }
    }
    lines.sort();
    lines.join("\n")
}

/// Text with every occurrence of `root` replaced by `<T>`.
pub fn normalize(bytes: &[u8], root: &Path) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let root = root.to_string_lossy();
    if root.is_empty() {
        text
    } else {
        text.replace(root.as_ref(), "<T>")
    }
}

/// `name` as an OsString from raw bytes (for non-UTF-8 arguments).
pub fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_os_string()
}

/// A `nohup` symlink to `target` in a new directory under `dir`.
pub fn nohup_link(dir: &Path, target: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let link = dir.join("nohup");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(target, &link).unwrap();
    link
}

/// The entries of a hupsafe shim in an LD_PRELOAD value
/// (`libnohup-<16 hex>.so`).
pub fn is_hupsafe_shim(entry: &str) -> bool {
    let name = entry.rsplit('/').next().unwrap_or(entry);
    name.len() == "libnohup-".len() + 16 + 3
        && name.starts_with("libnohup-")
        && name.ends_with(".so")
        && name["libnohup-".len()..name.len() - 3]
            .chars()
            .all(|c| c.is_ascii_hexdigit())
}

/// A command for the hupsafe binary with a private HOME and shim
/// directory under `tmp` and a minimal environment (no state directory, no
/// TERM, no relay setting: the CLI tests' bare hupsafe; jobs use
/// [`Sandbox::hupsafe`]).
pub fn hupsafe(tmp: &Sandbox) -> Command {
    let mut c = Command::new(hupsafe_bin());
    let home = tmp.dir("home");
    let lib = tmp.dir("lib");
    c.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("HUPSAFE_LIB_DIR", lib)
        .env("LANG", "C.UTF-8");
    c
}

/// A finished run of `hupsafe ...` (stdin /dev/null, stdout and stderr
/// captured) and the reporting child's report, if it ran.
#[derive(Debug)]
pub struct Ran {
    pub status: Status,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub report: Option<String>,
}

impl Ran {
    /// A `KEY=value` line of the child's report.
    pub fn field(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.report
            .as_deref()?
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    /// The child's LD_PRELOAD entries.
    pub fn preload(&self) -> Vec<String> {
        match self.field("LD_PRELOAD") {
            None | Some("<unset>") => Vec::new(),
            Some(v) => v
                .split([':', ' '])
                .filter(|e| !e.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    /// The `hupsafe: note:` lines on stderr.
    pub fn notes(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("hupsafe: note:"))
            .collect()
    }

    /// Whether the child ran with SIGHUP ignored (bit 0 of SigIgn).
    pub fn child_ignores_hup(&self) -> bool {
        self.report
            .as_deref()
            .and_then(|r| r.lines().find_map(|l| l.strip_prefix("SigIgn:")))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .is_some_and(|m| m & 1 == 1)
    }
}

/// Runs `cmd` (built by [`hupsafe`]) with `REPORT` pointing into `tmp`.
pub fn run_reporting(tmp: &Sandbox, cmd: &mut Command) -> Ran {
    run_reporting_at(&tmp.root().join("report"), cmd)
}

/// Runs `cmd` with the child's report written to `report`.
pub fn run_reporting_at(report: &Path, cmd: &mut Command) -> Ran {
    let _ = fs::remove_file(report);
    let out = cmd
        .env("REPORT", report)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run hupsafe: {e}"));
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => Status::Code(c),
        (None, Some(s)) => Status::Signal(s),
        _ => unreachable!(),
    };
    Ran {
        status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report: fs::read(report)
            .ok()
            .map(|r| String::from_utf8_lossy(&r).into_owned()),
    }
}
