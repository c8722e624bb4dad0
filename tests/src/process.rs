//! Starting a program the way a test needs it, and watching it run.
//!
//! Every program starts in a process group of its own (so a `kill -HUP`
//! to the group is exactly what a shell would send to a job), with SIGHUP
//! at SIG_DFL and nothing blocked, whatever the test runner inherited: the
//! shim has to establish the protection itself. [`Launch::like_nohup`]
//! starts it with SIGHUP ignored instead, which is all plain `nohup` gives.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::shim::{preload_disabled, shim_path};
use crate::wait::{self, PATIENCE};

/// What SIGHUP is in a program when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartingHup {
    Default,
    Ignored,
}

/// A program about to be started.
#[derive(Debug)]
pub struct Launch {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    preload: bool,
    hup: StartingHup,
    ignored: Vec<i32>,
}

impl Launch {
    pub fn new(program: impl AsRef<OsStr>) -> Launch {
        Launch {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env: Vec::new(),
            preload: false,
            hup: StartingHup::Default,
            ignored: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Launch {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Preloads the real shim, unless `HUPSAFE_TEST_NO_PRELOAD` is set.
    pub fn with_shim(mut self) -> Launch {
        self.preload = !preload_disabled();
        self
    }

    /// Starts with SIGHUP ignored and no shim: what plain `nohup` gives.
    pub fn like_nohup(mut self) -> Launch {
        self.preload = false;
        self.hup = StartingHup::Ignored;
        self
    }

    /// Starts with `sig` ignored (inherited across exec, as from a shell).
    pub fn ignoring(mut self, sig: i32) -> Launch {
        self.ignored.push(sig);
        self
    }

    /// Whether this launch preloads the shim.
    pub fn preloads(&self) -> bool {
        self.preload
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_remove("LD_PRELOAD")
            .env_remove("HUPSAFE_EXPECT_PRELOAD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if self.preload {
            cmd.env("LD_PRELOAD", shim_path())
                .env("HUPSAFE_EXPECT_PRELOAD", "1");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let hup = match self.hup {
            StartingHup::Default => libc::SIG_DFL,
            StartingHup::Ignored => libc::SIG_IGN,
        };
        let ignored = self.ignored.clone();
        // SAFETY: between fork and exec only async-signal-safe calls
        // (sigaction, sigprocmask) on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                set_disposition(libc::SIGHUP, hup)?;
                for sig in &ignored {
                    set_disposition(*sig, libc::SIG_IGN)?;
                }
                unblock_all_signals()
            });
        }
        cmd
    }

    /// Starts the program; its output is collected line by line.
    pub fn spawn(self) -> Running {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.program));
        let stdout = Arc::new(Lines::default());
        let stderr = Arc::new(Lines::default());
        collect(child.stdout.take().expect("piped"), stdout.clone());
        collect(child.stderr.take().expect("piped"), stderr.clone());
        Running {
            pid: child.id() as i32,
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            preloaded: self.preload,
            hup_sent_at: None,
            description: self.describe(),
            exit: None,
        }
    }

    /// Starts the program with no input and waits for it to end.
    pub fn run(self) -> Exit {
        let mut running = self.spawn();
        running.close_stdin();
        running.finish()
    }

    fn describe(&self) -> String {
        let mut s = self.program.to_string_lossy().into_owned();
        for a in &self.args {
            let a = a.to_string_lossy();
            s.push(' ');
            if a.contains('\n') {
                s.push_str(&format!("<script of {} lines>", a.lines().count()));
            } else {
                s.push_str(&a);
            }
        }
        if self.preload {
            s.push_str("  [LD_PRELOAD=libnohup.so]");
        }
        if self.hup == StartingHup::Ignored {
            s.push_str("  [SIGHUP inherited ignored, like nohup]");
        }
        s
    }
}

/// Sets `sig`'s disposition (async-signal-safe: for `pre_exec`).
pub fn set_disposition(sig: i32, handler: libc::sighandler_t) -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction with a plain disposition is valid.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Blocks no signal (async-signal-safe: for `pre_exec`, where a child
/// would otherwise inherit the test run's mask).
pub fn unblock_all_signals() -> std::io::Result<()> {
    // SAFETY: an emptied sigset_t, and no old mask asked for.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Output lines collected by a reader thread, and whether the stream ended.
#[derive(Default)]
struct Lines {
    state: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

fn collect(stream: impl Read + Send + 'static, lines: Arc<Lines>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).unwrap_or(0);
            let mut state = lines.state.lock().unwrap();
            if n == 0 {
                state.1 = true;
                lines.changed.notify_all();
                return;
            }
            let line = String::from_utf8_lossy(&buf);
            state
                .0
                .push(line.trim_end_matches(['\n', '\r']).to_string());
            lines.changed.notify_all();
        }
    });
}

impl Lines {
    /// Waits for a line at index `from` or later that satisfies `wanted`.
    /// `None` when the stream ends or `timeout` passes first.
    fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(l) = state.0.iter().skip(from).find(|l| wanted(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return None;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    fn snapshot(&self) -> Vec<String> {
        self.state.lock().unwrap().0.clone()
    }

    fn len(&self) -> usize {
        self.state.lock().unwrap().0.len()
    }

    fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        while !state.1 && Instant::now() < deadline {
            state = self
                .changed
                .wait_timeout(state, deadline.saturating_duration_since(Instant::now()))
                .unwrap()
                .0;
        }
    }
}

/// A started program. Dropping it kills its process group and reaps it.
pub struct Running {
    pid: i32,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    preloaded: bool,
    /// Number of stdout lines seen when the hangup was sent.
    hup_sent_at: Option<usize>,
    description: String,
    exit: Option<ExitStatus>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The program's process group (it leads its own).
    pub fn pgid(&self) -> i32 {
        self.pid
    }

    /// Whether this run preloads the shim.
    pub fn preloaded(&self) -> bool {
        self.preloaded
    }

    /// Waits for a stdout line starting with `prefix`; `None` if the
    /// program closes its output first, or after [`PATIENCE`].
    pub fn try_line(&self, prefix: &str) -> Option<String> {
        self.stdout.wait_for(0, PATIENCE, |l| l.starts_with(prefix))
    }

    /// Like [`Running::try_line`], but panics with the transcript.
    #[track_caller]
    pub fn expect_line(&self, prefix: &str) -> String {
        self.try_line(prefix).unwrap_or_else(|| {
            panic!(
                "no line starting with {prefix:?} from {}\n{}",
                self.description,
                self.transcript()
            )
        })
    }

    /// Sends one line to the program's stdin (ignored if it is gone).
    pub fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(format!("{line}\n").as_bytes());
            let _ = stdin.flush();
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `sig` to the program's process only.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with our own child's pid.
        unsafe { libc::kill(self.pid, sig) };
    }

    /// Sends `sig` to the program's whole process group, as `kill -SIG -PGID`.
    pub fn signal_group(&self, sig: i32) {
        // SAFETY: kill with our own child's process group id.
        unsafe { libc::kill(-self.pgid(), sig) };
    }

    /// Waits until a signal sent earlier has been delivered, discarded, or
    /// queued behind a mask (see [`procfs::signal_settled`]).
    #[track_caller]
    pub fn wait_signal_settled(&self, sig: i32) {
        wait::until(&format!("signal {sig} to settle in {}", self.pid), || {
            procfs::signal_settled(self.pid, sig).then_some(())
        });
    }

    /// Waits until the program's main thread is blocked in system call `nr`.
    #[track_caller]
    pub fn wait_blocked_in(&self, nr: i64) {
        wait::until(
            &format!("{} to block in system call {nr}", self.pid),
            || (procfs::blocked_syscall(self.pid) == Some(nr)).then_some(()),
        );
    }

    pub fn is_alive(&self) -> bool {
        procfs::is_alive(self.pid)
    }

    /// What the kernel says about the program now.
    #[track_caller]
    pub fn status(&self) -> procfs::ProcStatus {
        procfs::ProcStatus::of(self.pid)
            .unwrap_or_else(|| panic!("{} is gone\n{}", self.pid, self.transcript()))
    }

    /// The hangup: a real `kill -HUP` to the program's process group, as a
    /// shell sends to its jobs, then waits until the kernel has dealt with
    /// it. When the shim is preloaded, first checks it is really mapped.
    #[track_caller]
    pub fn hang_up(&mut self) {
        if self.preloaded && self.is_alive() {
            assert!(
                procfs::has_mapped(self.pid, "libnohup.so"),
                "LD_PRELOAD was set but libnohup.so is not mapped into {}\n{}",
                self.pid,
                self.transcript()
            );
        }
        self.hup_sent_at = Some(self.stdout.len());
        self.signal_group(libc::SIGHUP);
        self.wait_signal_settled(libc::SIGHUP);
    }

    /// Sends "ping" and waits for a "pong" printed after the hangup (or
    /// after now, if there was none). False if the program ends first.
    pub fn ping(&mut self) -> bool {
        let from = self.hup_sent_at.unwrap_or_else(|| self.stdout.len());
        self.send("ping");
        self.stdout
            .wait_for(from, PATIENCE, |l| l == "pong")
            .is_some()
    }

    /// Closes stdin and waits for the program to end; a program still
    /// running after [`PATIENCE`] is killed and reported as hung. Whatever
    /// it left behind in its process group is killed too.
    pub fn finish(mut self) -> Exit {
        self.close_stdin();
        let ended = wait::poll(PATIENCE, || self.has_ended().then_some(()));
        let hung = ended.is_none();
        self.kill();
        let status = self.exit.unwrap_or_else(|| ExitStatus::from_raw(9));
        self.stdout.wait_closed(Duration::from_secs(2));
        self.stderr.wait_closed(Duration::from_secs(2));
        Exit {
            description: self.description.clone(),
            status,
            hung,
            stdout: self.stdout.snapshot(),
            stderr: self.stderr.snapshot(),
        }
    }

    /// Whether the program has ended, without reaping it: while it is a
    /// zombie its pid (and so its process group id) cannot be reused, so
    /// `kill` can still signal the group safely.
    fn has_ended(&self) -> bool {
        if self.exit.is_some() {
            return true;
        }
        // SAFETY: waitid on our own child with WNOWAIT only reads its state.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// Everything the program printed so far, for failure messages.
    pub fn transcript(&self) -> String {
        transcript(&self.stdout.snapshot(), &self.stderr.snapshot())
    }

    /// Kills the program's process group and the program, and reaps it.
    /// Only our own child's ids are used: never a name.
    fn kill(&mut self) {
        if self.exit.is_some() {
            return;
        }
        // The group id stays ours until the leader is reaped below.
        self.signal_group(libc::SIGKILL);
        self.signal(libc::SIGKILL);
        self.exit = self.child.wait().ok();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills, when dropped, every live process whose arguments carry `tag`:
/// for processes a test started that left our process groups.
pub struct KillTaggedOnDrop {
    pub tag: String,
}

impl Drop for KillTaggedOnDrop {
    fn drop(&mut self) {
        for pid in procfs::find_by_tag(&self.tag) {
            // SAFETY: kill by pid of a process found by our unique tag.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn transcript(stdout: &[String], stderr: &[String]) -> String {
    let mut s = String::from("--- stdout ---\n");
    for l in stdout {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str("--- stderr ---\n");
    for l in stderr {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// A program that has ended.
pub struct Exit {
    pub description: String,
    pub status: ExitStatus,
    /// It did not end by itself and was killed by the harness.
    pub hung: bool,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Exit {
    pub fn success(&self) -> bool {
        !self.hung && self.status.success()
    }

    pub fn has_line(&self, line: &str) -> bool {
        self.stdout.iter().any(|l| l == line)
    }

    /// Panics unless the program reported the shim mapped into it (the C
    /// fixtures' first line): a comparison with the shim means nothing if
    /// the shim was not there.
    #[track_caller]
    pub fn assert_preloaded(&self) -> &Exit {
        assert!(
            self.has_line("preloaded: yes"),
            "the shim was not loaded into the program:\n{self}"
        );
        self
    }

    /// Stdout lines starting with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }

    /// Panics with the transcript unless the program exited 0 by itself.
    #[track_caller]
    pub fn assert_success(&self) -> &Exit {
        assert!(self.success(), "expected success:\n{self}");
        self
    }

    /// Panics with the transcript unless stdout has exactly this line.
    #[track_caller]
    pub fn assert_line(&self, line: &str) -> &Exit {
        assert!(self.has_line(line), "expected the line {line:?}:\n{self}");
        self
    }

    pub fn transcript(&self) -> String {
        transcript(&self.stdout, &self.stderr)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.hung {
            "hung, killed by the harness".to_string()
        } else if let Some(sig) = self.status.signal() {
            format!("killed by signal {sig}")
        } else {
            format!("exit status {}", self.status.code().unwrap_or(-1))
        };
        write!(f, "{}: {how}\n{}", self.description, self.transcript())
    }
}

/// How a program came through a hangup (see [`hangup`]).
pub struct HangupOutcome {
    /// It printed "ready" before the hangup was sent.
    pub was_ready: bool,
    /// It was alive (not dead, not a zombie) once the kernel had dealt
    /// with the hangup.
    pub alive_after_hangup: bool,
    /// It answered "pong" to a "ping" sent after the hangup.
    pub answered_after_hangup: bool,
    pub exit: Exit,
}

impl HangupOutcome {
    /// Ready, answered after the hangup, and then exited 0 by itself.
    pub fn survived(&self) -> bool {
        self.was_ready
            && self.alive_after_hangup
            && self.answered_after_hangup
            && self.exit.success()
    }

    #[track_caller]
    pub fn assert_survived(&self) -> &HangupOutcome {
        assert!(
            self.survived(),
            "expected the program to survive the hangup \
             (ready: {}, alive after: {}, answered after: {}):\n{}",
            self.was_ready,
            self.alive_after_hangup,
            self.answered_after_hangup,
            self.exit
        );
        self
    }

    /// The control case: the program did not come through (it died, failed
    /// a check, or exited non-zero).
    #[track_caller]
    pub fn assert_defeated(&self) -> &HangupOutcome {
        assert!(
            !self.survived(),
            "expected the program to be defeated without the shim, but it survived:\n{}",
            self.exit
        );
        self
    }
}

/// The whole hangup story for a program that speaks the fixture protocol
/// (prints "ready", answers "ping" with "pong", exits 0 at EOF): wait until
/// it is ready, hang up on its process group, check it answers, let it end.
pub fn hangup(launch: Launch) -> HangupOutcome {
    let mut run = launch.spawn();
    let was_ready = run.try_line("ready").is_some();
    let mut alive_after_hangup = false;
    let mut answered_after_hangup = false;
    if was_ready {
        run.hang_up();
        alive_after_hangup = run.is_alive();
        answered_after_hangup = run.ping();
    }
    HangupOutcome {
        was_ready,
        alive_after_hangup,
        answered_after_hangup,
        exit: run.finish(),
    }
}

/// `cmd.output()` for a program this test has just written (a copied
/// binary): another test thread forking meanwhile holds the new file open
/// for writing until its child execs, and exec then fails with ETXTBSY.
/// Waits that out (at most about 2 s).
pub fn output_of_fresh_binary(cmd: &mut std::process::Command) -> std::process::Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")),
        }
    }
    panic!("{cmd:?} stayed busy (ETXTBSY)");
}
