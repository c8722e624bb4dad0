//! The relay tests' harness: a real interactive shell on a real pty (a
//! session leader with the pty as its controlling terminal), typing into
//! it, reading what it shows, hanging up on it; `hupsafe` jobs in a
//! private state directory, read back through `hupsafe ps --json` and the
//! job records; cleanup of every job's processes by pid (and start time),
//! never by name.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::Sandbox;
use crate::shell::Shell;
use crate::wait::{poll, PATIENCE};

/// The prompt of the test shells: distinctive, and free of escapes.
pub const PROMPT: &str = "RELAY-PROMPT> ";

/// A python3 program for the stories, run with `-u` (unbuffered) and
/// `tag` as its first argument, so it can be found by it.
pub fn python(code: &str, tag: &str) -> Vec<String> {
    vec![
        python3().to_string(),
        "-u".into(),
        "-c".into(),
        code.into(),
        tag.into(),
    ]
}

/// The system python3 (not a version manager's shim script).
pub fn python3() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Prints `tick 0` .. `tick N-1`, one every `ms` milliseconds, then exits 0.
pub fn ticker(n: u32, ms: u32, tag: &str) -> Vec<String> {
    python(
        &format!(
            "import time\nfor i in range({n}):\n    print('tick %d' % i)\n    time.sleep({ms} / 1000)\n"
        ),
        tag,
    )
}

/// Quotes words for a POSIX shell.
pub fn shell_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `HUPSAFE_RELAY` for the hupsafe under test: unset (the default
/// applies), unless `HUPSAFE_TEST_RELAY` gives a value
/// (`HUPSAFE_TEST_RELAY=0` runs the stories without the relay: the hangup
/// stories must then fail, or they prove nothing).
pub fn relay_setting() -> Option<String> {
    std::env::var("HUPSAFE_TEST_RELAY").ok()
}

/// One job as `hupsafe ps --json` shows it.
#[derive(Clone, Debug)]
pub struct JobView {
    pub json: serde_json::Value,
}

impl JobView {
    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_default().to_string()
    }
    pub fn state(&self) -> String {
        self.json["state"].as_str().unwrap_or_default().to_string()
    }
    pub fn pid(&self) -> Option<i32> {
        self.json["pid"].as_i64().map(|p| p as i32)
    }
    pub fn attached(&self) -> u64 {
        self.json["attached"].as_u64().unwrap_or(0)
    }
    pub fn bytes_lost(&self) -> u64 {
        self.json["bytes_lost"].as_u64().unwrap_or(0)
    }
    pub fn log(&self) -> PathBuf {
        PathBuf::from(self.json["log"].as_str().unwrap_or_default())
    }
    pub fn command(&self) -> Vec<String> {
        self.json["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The jobs of a [`Sandbox`]: started with `hupsafe --relay`, read back
/// through `hupsafe ps --json` and their records.
impl Sandbox {
    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.state_dir().join("jobs").join(id)
    }

    /// Starts `hupsafe --relay PROGRAM...` without a terminal (the program
    /// still gets the job's pty for its output), output discarded; waits
    /// for its job, tagged `tag`, to have a pid. The returned child is the
    /// starting hupsafe (the job's first client).
    pub fn start(&self, program: &[String], tag: &str) -> (Child, JobView) {
        let child = self
            .hupsafe(["--relay"])
            .args(program)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start hupsafe");
        let job = self.job_tagged(tag);
        (child, job)
    }

    /// Every job, from `hupsafe ps --json`.
    pub fn ps(&self) -> Vec<JobView> {
        let (code, out, err) = self.run(["ps", "--json"]);
        assert_eq!(code, 0, "hupsafe ps --json failed: {err}");
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("ps --json is not JSON ({e}): {out}"));
        v.as_array()
            .expect("ps --json gives an array")
            .iter()
            .cloned()
            .map(|json| JobView { json })
            .collect()
    }

    pub fn job(&self, id: &str) -> Option<JobView> {
        self.ps().into_iter().find(|j| j.id() == id)
    }

    /// Waits until job `id`'s state satisfies `ok`, and returns it.
    pub fn wait_state(&self, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> JobView {
        let mut last = None;
        poll(PATIENCE, || {
            let j = self.job(id);
            let done = j.as_ref().is_some_and(|j| ok(&j.state()));
            last = j.clone();
            done.then_some(())
        })
        .unwrap_or_else(|| panic!("job {id} never became {what}; last seen: {last:?}"));
        last.unwrap()
    }

    /// Waits for the only job whose command carries `tag`, and returns it.
    pub fn job_tagged(&self, tag: &str) -> JobView {
        let mut last = Vec::new();
        poll(PATIENCE, || {
            last = self.ps();
            let found: Vec<JobView> = last
                .iter()
                .filter(|j| j.command().iter().any(|a| a.contains(tag)) && j.pid().is_some())
                .cloned()
                .collect();
            (found.len() == 1).then(|| found[0].clone())
        })
        .unwrap_or_else(|| panic!("no single job tagged {tag}: {last:?}"))
    }

    /// The record of job `id`, as written.
    pub fn record(&self, id: &str) -> serde_json::Value {
        let text = fs::read_to_string(self.job_dir(id).join("record.json"))
            .unwrap_or_else(|e| panic!("job {id} has no readable record: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("record of job {id}: {e}: {text}"))
    }

    /// The pid of job `id`'s supervisor (the record's writer).
    pub fn supervisor_pid(&self, id: &str) -> i32 {
        self.record(id)["writer"]["pid"]
            .as_i64()
            .expect("the record names its writer") as i32
    }

    pub fn log(&self, id: &str) -> String {
        String::from_utf8_lossy(&fs::read(self.job_dir(id).join("log")).unwrap_or_default())
            .into_owned()
    }

    /// Kills every process the jobs' records name that is still the same
    /// process (pid and start time match): programs by process group,
    /// supervisors by pid.
    pub fn kill_all(&self) {
        let Ok(dir) = fs::read_dir(self.state_dir().join("jobs")) else {
            return;
        };
        for e in dir.flatten() {
            let Ok(text) = fs::read_to_string(e.path().join("record.json")) else {
                continue;
            };
            let Ok(r) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for (who, group) in [("program", true), ("writer", false)] {
                let pid = r[who]["pid"].as_i64().unwrap_or(0) as i32;
                let start = r[who]["start"].as_u64().unwrap_or(0);
                if pid > 0 && start_time(pid) == Some(start) {
                    // SAFETY: kill(2) of a process this test's job started,
                    // identified by pid and start time.
                    unsafe {
                        libc::kill(if group { -pid } else { pid }, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

/// The start time (clock ticks since boot) of `pid`, if it exists.
pub fn start_time(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that was `pid` with start time `start` is gone
/// (another process may have its pid by now; a zombie is gone).
pub fn gone(pid: i32, start: Option<u64>) -> bool {
    start_time(pid) != start || !crate::procfs::is_alive(pid)
}

/// Kills `what`, the process `pid` started at `start` (checked), with
/// SIGKILL, and waits until it is gone.
pub fn kill_by_hand(what: &str, (pid, start): (i32, Option<u64>)) {
    assert_eq!(start_time(pid), start, "{what} is not the process it was");
    // SAFETY: kill(2) of the process the caller started, its start time
    // checked just above.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    crate::wait::until(&format!("{what} to be gone"), || {
        gone(pid, start).then_some(())
    });
}

/// The state letter of `pid` (R, S, T, Z...), if it exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// `VmRSS` (or another `Vm*` line) of `pid`, in KiB.
pub fn vm_kib(pid: i32, key: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Waits (with a deadline) for a child to end; its status as a shell
/// reports it.
pub fn wait_child(child: &mut Child) -> i32 {
    let status = poll(PATIENCE, || child.try_wait().expect("wait for a child"))
        .unwrap_or_else(|| panic!("pid {} never ended", child.id()));
    exit_code(status)
}

/// An exit status as a shell reports it (128+N for signal N).
pub fn exit_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code()
        .or_else(|| s.signal().map(|n| 128 + n))
        .unwrap_or(-1)
}

/// A program running with a pty as its controlling terminal, and the
/// test at the other end: typing, reading, resizing, hanging up.
pub struct Terminal {
    master: Option<OwnedFd>,
    child: Child,
    seen: Vec<u8>,
    cursor: usize,
}

impl Terminal {
    /// Starts `cmd` as a session leader on a new 24x80 pty.
    pub fn spawn(mut cmd: Command) -> Terminal {
        let (master, slave) = open_pty();
        set_size(master.as_raw_fd(), 24, 80);
        let dup = |fd: &OwnedFd| fd.try_clone().expect("dup the pty slave");
        cmd.stdin(Stdio::from(dup(&slave)))
            .stdout(Stdio::from(dup(&slave)))
            .stderr(Stdio::from(dup(&slave)));
        // SAFETY: between fork and exec: setsid, TIOCSCTTY on fd 0 (the
        // slave), sigaction and sigprocmask, all async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                // A login on a terminal starts with every signal at its
                // default and none blocked, whatever the test run inherited
                // (`nohup cargo test` ignores SIGHUP; a run started with `&`
                // from a script ignores SIGINT and SIGQUIT).
                for sig in [
                    libc::SIGHUP,
                    libc::SIGINT,
                    libc::SIGQUIT,
                    libc::SIGTERM,
                    libc::SIGPIPE,
                ] {
                    crate::process::set_disposition(sig, libc::SIG_DFL)?;
                }
                crate::process::unblock_all_signals()
            });
        }
        let child = cmd.spawn().expect("cannot start a program on a pty");
        drop(slave);
        Terminal {
            master: Some(master),
            child,
            seen: Vec::new(),
            cursor: 0,
        }
    }

    /// An interactive bash (no rc files, a fixed prompt, TERM=dumb) with
    /// the jobs' environment, waiting at its prompt.
    pub fn bash(jobs: &Sandbox) -> Terminal {
        Terminal::shell(jobs, Shell::Bash)
    }

    /// An interactive `shell` (no rc files, a fixed prompt, TERM=dumb)
    /// with the jobs' environment, waiting at its prompt.
    pub fn shell(jobs: &Sandbox, shell: Shell) -> Terminal {
        let mut cmd = Command::new(shell.program());
        cmd.args(shell.interactive_args())
            .env_clear()
            .envs(jobs.env())
            .env("PS1", PROMPT)
            .env("PS2", "")
            .env("HISTFILE", "/dev/null")
            .current_dir(jobs.root());
        let mut t = Terminal::spawn(cmd);
        t.expect(PROMPT);
        t
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn master(&self) -> RawFd {
        self.master
            .as_ref()
            .expect("the terminal was hung up")
            .as_raw_fd()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // SAFETY: writing our buffer to our master fd.
            let n = unsafe { libc::write(self.master(), rest.as_ptr().cast(), rest.len()) };
            assert!(
                n > 0,
                "cannot type into the terminal: {}",
                io::Error::last_os_error()
            );
            rest = &rest[n as usize..];
        }
    }

    /// Types a line and Enter.
    pub fn type_line(&mut self, line: &str) {
        self.send(line.as_bytes());
        self.send(b"\r");
    }

    /// Reads what is there, waiting at most `ms` milliseconds for it.
    fn read_some(&mut self, ms: i32) {
        let mut p = libc::pollfd {
            fd: self.master(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll and read on our own master fd into our buffer.
        unsafe {
            if libc::poll(&mut p, 1, ms) == 1 {
                let mut buf = [0u8; 8192];
                let n = libc::read(self.master(), buf.as_mut_ptr().cast(), buf.len());
                if n > 0 {
                    self.seen.extend_from_slice(&buf[..n as usize]);
                }
            }
        }
    }

    /// Waits until `needle` appears after what earlier expectations
    /// consumed, and consumes up to its end. Returns what came before it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, PATIENCE)
    }

    pub fn expect_within(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = find(&self.seen[self.cursor..], needle.as_bytes()) {
                let before =
                    String::from_utf8_lossy(&self.seen[self.cursor..self.cursor + at]).into_owned();
                self.cursor += at + needle.len();
                return before;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {needle:?}; it showed (after the last match):\n{}",
                String::from_utf8_lossy(&self.seen[self.cursor..])
            );
            self.read_some(50);
        }
    }

    /// Everything the terminal showed so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Keeps reading (so the program is never blocked on a full terminal)
    /// until `check` passes on everything the terminal showed so far, or
    /// `within` runs out: the last verdict.
    pub fn poll_shown<E>(
        &mut self,
        within: Duration,
        mut check: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let deadline = Instant::now() + within;
        loop {
            let verdict = check(&self.seen);
            if verdict.is_ok() || Instant::now() >= deadline {
                return verdict;
            }
            self.read_some(20);
        }
    }

    /// Keeps reading (so the program is never blocked on a full terminal)
    /// until `done` holds.
    pub fn drain_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        let verdict = self.poll_shown(PATIENCE, |_| done().then_some(()).ok_or(()));
        assert!(verdict.is_ok(), "gave up waiting for {what}");
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        set_size(self.master(), rows, cols);
    }

    /// Runs a shell command line and returns the `rc=N` it printed.
    pub fn status_of(&mut self, line: &str) -> i32 {
        let marker = format!("rc-{}-", std::process::id());
        self.type_line(&format!("{line}; echo {marker}$?-"));
        // The echo of the typed line shows the marker too, followed by "$?".
        loop {
            self.expect(&marker);
            let mut digits = String::new();
            loop {
                if let Some(&b) = self.seen.get(self.cursor) {
                    self.cursor += 1;
                    if b.is_ascii_digit() {
                        digits.push(b as char);
                        continue;
                    }
                    if b == b'-' && !digits.is_empty() {
                        return digits.parse().unwrap();
                    }
                    break;
                }
                self.read_some(50);
            }
        }
    }

    /// Closes the master side: the kernel hangs up the terminal (SIGHUP
    /// and SIGCONT to the session leader, EIO for readers and writers),
    /// as when a terminal window closes or sshd drops the connection.
    pub fn hang_up(&mut self) {
        self.master = None;
    }

    /// Waits for the program on this terminal to end; its status.
    pub fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self
                .child
                .try_wait()
                .expect("wait for the terminal's program")
            {
                return exit_code(s);
            }
            assert!(
                Instant::now() < deadline,
                "the terminal's program never ended; it showed:\n{}",
                self.transcript()
            );
            if self.master.is_some() {
                self.read_some(20);
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: killing our own child's session leader by pid.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    crate::cli::Pty::open().into_fds()
}

fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the struct.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}
