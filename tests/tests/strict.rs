//! `hupsafe run --no-relay --strict -- CMD`: a seccomp filter turns
//! `rt_sigaction(SIGHUP, act != NULL)` into a successful no-op, so static
//! programs and inline system calls (which the shim cannot reach) keep
//! SIGHUP ignored, in the program and in the children it execs.
//!
//! The fixture (`tests/c/strict_hup.c`, built with `-static`) resets SIGHUP
//! to SIG_DFL with an inline `syscall` instruction ("raw") or with libc's
//! `signal()` ("libc"), forks and execs itself as a child that does the
//! same, and reports on a SIGUSR1 that it is alive.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hupsafe_tests::cli::hupsafe;
use hupsafe_tests::fixtures::CProgram;
use hupsafe_tests::Sandbox;

fn fixture() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| CProgram::new("strict_hup").flag("-static").build())
}

/// One line a fixture process printed at start.
#[derive(Debug, Clone)]
struct Start {
    role: String,
    pid: i32,
    fields: Vec<(String, String)>,
}

impl Start {
    fn parse(line: &str) -> Option<Start> {
        let mut words = line.split_whitespace();
        let role = words.next()?.to_string();
        if role != "parent" && role != "child" {
            return None;
        }
        let fields: Vec<(String, String)> = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pid = fields.iter().find(|(k, _)| k == "pid")?.1.parse().ok()?;
        Some(Start { role, pid, fields })
    }

    fn field(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} in {self:?}"))
    }
}

struct Run {
    hupsafe: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: PathBuf,
    _tmp: Sandbox,
}

impl Run {
    fn start(mode: &str, strict: bool, relay: bool) -> Run {
        let tmp = Sandbox::new("strict");
        let stderr = tmp.dir("out").join("stderr");
        let mut cmd = hupsafe(&tmp);
        cmd.args(["run", if relay { "--relay" } else { "--no-relay" }]);
        if strict {
            cmd.arg("--strict");
        }
        cmd.arg("--").arg(fixture()).arg(mode);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("cannot start hupsafe");
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            hupsafe: child,
            lines: rx,
            seen: Vec::new(),
            stderr,
            _tmp: tmp,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until a line satisfying `pred` arrives; false on timeout.
    fn wait_for(&mut self, pred: impl Fn(&str) -> bool, within: Duration) -> bool {
        if self.seen.iter().any(|l| pred(l)) {
            return true;
        }
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = pred(&l);
                    self.seen.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// The start lines of the parent and its child.
    fn starts(&mut self) -> Vec<Start> {
        for role in ["parent", "child"] {
            let prefix = format!("{role} pid=");
            assert!(
                self.wait_for(|l| l.starts_with(&prefix), Duration::from_secs(10)),
                "no '{role}' line; stdout: {:?}; stderr: {}",
                self.seen,
                self.stderr()
            );
        }
        self.seen.iter().filter_map(|l| Start::parse(l)).collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for s in self.seen.iter().filter_map(|l| Start::parse(l)) {
            // SAFETY: signalling a fixture process this test started.
            unsafe { libc::kill(s.pid, libc::SIGKILL) };
        }
        let _ = self.hupsafe.kill();
        let _ = self.hupsafe.wait();
    }
}

/// Alive: present and not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
        Err(_) => false,
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: signalling a fixture process this test started.
    unsafe { libc::kill(pid, sig) };
}

fn wait_dead(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Hangs up both processes, then asks each for a SIGUSR1 answer.
fn hang_up_and_check(mode: &str, strict: bool, relay: bool) {
    let mut run = Run::start(mode, strict, relay);
    let starts = run.starts();
    assert_eq!(starts.len(), 2, "{starts:?}");
    for s in &starts {
        assert_eq!(
            s.field("reset"),
            "0",
            "{mode}: the reset must succeed: {s:?}"
        );
        assert_eq!(s.field("query"), "0", "{mode}: the query must work: {s:?}");
        let (nnp, seccomp) = if strict { ("1", "2") } else { ("0", "0") };
        assert_eq!(s.field("nnp"), nnp, "{s:?}");
        assert_eq!(s.field("seccomp"), seccomp, "{s:?}");
        // The documented cost: the kernel leaves oldact unfilled for the
        // refused change.
        let oldact = if mode == "raw" && !strict {
            "filled"
        } else {
            "untouched"
        };
        assert_eq!(s.field("oldact"), oldact, "{s:?}");
    }
    for s in &starts {
        signal(s.pid, libc::SIGHUP);
    }
    if strict {
        for s in &starts {
            signal(s.pid, libc::SIGUSR1);
            let want = format!("usr1 {} pid={}", s.role, s.pid);
            assert!(
                run.wait_for(|l| l == want, Duration::from_secs(10)),
                "{mode}: {} did not answer SIGUSR1 after SIGHUP; stdout: {:?}",
                s.role,
                run.seen
            );
            assert!(alive(s.pid), "{mode}: {} died", s.role);
        }
        let err = run.stderr();
        assert!(
            err.contains("no_new_privs") && err.contains("su and sudo fail"),
            "the warning is missing: {err}"
        );
    } else {
        for s in &starts {
            assert!(
                wait_dead(s.pid),
                "{mode}: control: {} survived SIGHUP without --strict",
                s.role
            );
        }
        assert!(!run.seen.iter().any(|l| l.starts_with("usr1")));
    }
}

#[test]
fn raw_syscall_reset_is_a_no_op_under_strict() {
    hang_up_and_check("raw", true, false);
}

#[test]
fn raw_syscall_reset_kills_without_strict() {
    hang_up_and_check("raw", false, false);
}

#[test]
fn libc_signal_reset_is_a_no_op_under_strict() {
    hang_up_and_check("libc", true, false);
}

#[test]
fn libc_signal_reset_kills_without_strict() {
    hang_up_and_check("libc", false, false);
}

#[test]
fn the_global_flag_form_works_and_quiet_silences_the_warning() {
    let tmp = Sandbox::new("strict-global");
    let out = hupsafe(&tmp)
        .args(["--quiet", "--no-relay", "--strict", "/bin/sh", "-c"])
        .arg("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("NoNewPrivs:\t1"), "{stdout}");
    assert!(stdout.contains("Seccomp:\t2"), "{stdout}");
    assert!(
        stderr.is_empty(),
        "--quiet must silence the warning: {stderr}"
    );
}

/// The relay path: the supervisor applies the filter in the program's
/// child, after fork.
#[test]
fn relayed_raw_and_libc_resets_are_no_ops_under_strict() {
    hang_up_and_check("raw", true, true);
    hang_up_and_check("libc", true, true);
}

#[test]
fn relayed_raw_syscall_reset_kills_without_strict() {
    hang_up_and_check("raw", false, true);
}

#[test]
fn a_static_target_note_suggests_strict() {
    let tmp = Sandbox::new("strict-note");
    let prog = CProgram::new("cli_child").flag("-static").build();
    let out = hupsafe(&tmp)
        .args(["run", "--no-relay", "--"])
        .arg(&prog)
        .stdin(Stdio::null())
        .env("REPORT", tmp.dir("out").join("report"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`hupsafe run --strict -- CMD`"), "{stderr}");
}

/// A setuid-root program run by an unprivileged user under --strict does
/// not elevate (no_new_privs), and hupsafe says so before exec. Needs root
/// (to make the setuid copy and switch users) and setpriv; skipped
/// otherwise.
#[test]
fn a_setuid_program_does_not_elevate_and_is_named() {
    use std::os::unix::fs::{chown, PermissionsExt};
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let setpriv = hupsafe_tests::require_tool!("setpriv", "util-linux");
    let nobody = 65534;
    // Open to uid 65534, which runs hupsafe and the program from it.
    let sandbox = Sandbox::new("strict-setuid");
    let base = sandbox.root();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let lib = base.join("lib");
    std::fs::create_dir(&lib).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown(&lib, Some(nobody), Some(nobody)).unwrap();
    let prog = base.join("euid");
    std::fs::copy(CProgram::new("strict_euid").flag("-static").build(), &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let run = |strict: bool| {
        let mut c = std::process::Command::new(&setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(hupsafe_tests::cli::hupsafe_bin())
            .args(["run", "--no-relay"]);
        if strict {
            c.arg("--strict");
        }
        let out = c
            .arg("--")
            .arg(&prog)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &lib)
            .env("HUPSAFE_LIB_DIR", &lib)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (control, err) = run(false);
    let (strict, strict_err) = run(true);
    if control.is_empty() && err.contains("Permission denied") {
        eprintln!("skipped: the hupsafe binary is not reachable by uid 65534: {err}");
        return;
    }
    assert_eq!(control.trim(), "euid=0", "control: {err}");
    assert_eq!(strict.trim(), "euid=65534", "{strict_err}");
    assert!(
        strict_err.contains("runs setuid: under no_new_privs the kernel runs it without elevating"),
        "{strict_err}"
    );
}

/// `tests/go/notify` built static (CGO_ENABLED=0) into the target
/// directory; None (after the skip line) when no Go toolchain is installed.
fn go_fixture() -> Option<&'static PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    let go = hupsafe_tests::require_tool("go", "golang-go")?;
    BIN.get_or_init(|| {
        let root = hupsafe_tests::shim::workspace_root();
        let dir = hupsafe_tests::shim::target_dir().join("go-fixtures");
        std::fs::create_dir_all(&dir).ok()?;
        let out = dir.join("notify");
        let status = std::process::Command::new(&go)
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(root.join("tests/go/notify"))
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOFLAGS", "-modcacherw")
            .status()
            .ok()?;
        assert!(status.success(), "go build of tests/go/notify failed");
        Some(out)
    })
    .as_ref()
}

/// A static Go program whose signal.Notify(SIGHUP) installs a handler
/// with a raw system call: under --strict the change is a no-op and a
/// SIGHUP never reaches it; without, it does (the control).
#[test]
fn static_go_signal_notify_keeps_sighup_ignored_under_strict() {
    let Some(bin) = go_fixture() else { return };
    for strict in [false, true] {
        let tmp = Sandbox::new("strict-go");
        let mut cmd = hupsafe(&tmp);
        cmd.args(["run", "--quiet", "--no-relay"]);
        if strict {
            cmd.arg("--strict");
        }
        let mut child = cmd
            .arg("--")
            .arg(bin)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("no ready line");
        let pid: i32 = ready
            .strip_prefix("ready pid=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {ready:?}"));
        signal(pid, libc::SIGHUP);
        // SIGUSR1 after SIGHUP: its answer proves the program is alive, and
        // comes after any SIGHUP report.
        std::thread::sleep(Duration::from_millis(100));
        signal(pid, libc::SIGUSR1);
        let mut lines = Vec::new();
        while let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) {
            let done = l == "usr1";
            lines.push(l);
            if done {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            lines.iter().any(|l| l == "usr1"),
            "strict={strict}: {lines:?}"
        );
        let got_hup = lines.iter().any(|l| l == "got SIGHUP");
        assert_eq!(got_hup, !strict, "strict={strict}: {lines:?}");
    }
}
