//! The user's side of a relayed job: the `hupsafe` that started it, or
//! `hupsafe attach`. It owns nothing the job needs, so it may die at any
//! moment (with the terminal, on a hangup) and the job goes on.
//!
//! While it runs, the user's terminal is in raw mode: every key goes to
//! the job's pty, whose line discipline (a copy of the user's settings)
//! turns Ctrl-C into SIGINT and Ctrl-Z into SIGTSTP for the program, as a
//! real terminal would. When the program stops, the supervisor says so and
//! the client gives the terminal back and stops itself, so the shell shows
//! its prompt; `fg` or `bg` continue it, and it continues the program. The
//! terminal mode is restored on every way out.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::os::{self, Disposition, PollFd, PollFlags, Signal, SignalPipe};
use super::proto::{self, Decoder};
use super::pty::{self, RawMode};
use crate::error::EXIT_FAILURE;
use crate::registry::{Job, SocketPath, State};

/// The first key of the detach sequence: Ctrl-].
pub const DETACH_KEY: u8 = 0x1d;

/// Frames waiting for the socket; keys are not read while it is this full.
const SEND_QUEUE: usize = 64 * 1024;
const KEYS_AT_ONCE: usize = 4 * 1024;

/// A connected supervisor and the job it runs.
pub struct Connection {
    pub fd: OwnedFd,
    pub job: Job,
}

impl Connection {
    /// Connects to `job`'s supervisor through its socket, and makes sure
    /// the process at the other end is this user's before a byte is sent:
    /// a socket swapped in by someone else (a writable parent directory, a
    /// race with the lookup) would otherwise receive the user's keys. The
    /// supervisor checks its clients the same way.
    pub fn open(job: &Job) -> io::Result<Connection> {
        let path = SocketPath::new(&job.sock_path())?;
        let fd = os::connect(&path.path)?;
        os::check_peer_is_me(&fd)?;
        Ok(Connection {
            fd,
            job: job.clone(),
        })
    }
}

pub enum Mode {
    /// The `hupsafe` that started the job: signals sent to it are meant
    /// for the program and are passed on.
    Started,
    /// `hupsafe attach`, replaying up to this many bytes of log first;
    /// signals sent to it end the attachment only.
    Attach { replay: u32 },
}

/// Relays until the program ends (returns its status as a shell would
/// report it, or dies of the signal that killed it), the user detaches
/// (0), or the terminal goes away.
pub fn run(conn: Connection, mode: Mode) -> i32 {
    let mut c = match Client::new(conn, mode) {
        Ok(c) => c,
        Err(e) => {
            say!("cannot relay: {}", crate::error::os_words(&e));
            return EXIT_FAILURE;
        }
    };
    let status = c.relay();
    // Whatever ended the relay, the terminal is ours again before the
    // shell (or a note) writes to it.
    c.take_back();
    c.raw.leave();
    if let Some(note) = c.note.take() {
        say!("{note}");
    }
    if let Some(sig) = c.killed_by {
        die_of(sig);
    }
    status
}

/// Ends this process with the signal that killed the program, so that a
/// parent looking at how its child died (a shell loop that stops on
/// Ctrl-C, make) sees what it would have seen without hupsafe. No core
/// file: the program's own death already made one if it was to.
fn die_of(sig: i32) {
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, none);
    let _ = os::set_disposition(sig, Disposition::Default);
    os::unblock(sig);
    let _ = signal_hook::low_level::raise(sig);
    // Signals that do not end a process (SIGCHLD, SIGWINCH, stops) fall
    // through to the shell's number.
}

struct Client {
    fd: OwnedFd,
    job: Job,
    started: bool,
    /// Where keys come from: stdin, when it is a terminal.
    keys: Option<BorrowedFd<'static>>,
    /// Where output goes: the first of stdout and stderr that is a
    /// terminal, else stdout.
    screen: BorrowedFd<'static>,
    /// The terminal whose size the program's follows.
    size_from: Option<BorrowedFd<'static>>,
    raw: RawMode,
    reading: bool,
    incoming: Decoder,
    outgoing: VecDeque<u8>,
    /// Ctrl-] was the last key.
    escape: bool,
    program_stopped: bool,
    signals: SignalPipe,
    /// Printed once the terminal is back in its own mode.
    note: Option<String>,
    /// The signal that killed the program, to die of in turn.
    killed_by: Option<i32>,
    /// The supervisor keeps a model of the job's screen: it sends the
    /// restore sequence when this client leaves, and if the connection
    /// drops the client writes a generic one.
    model: bool,
    /// The restore sequence reached the terminal.
    restored: bool,
    /// The user detached: the connection is ending on purpose.
    detaching: bool,
    /// The supervisor takes our terminal (its welcome says so).
    can_lend: bool,
    /// Who writes the output to our terminal.
    lending: Lending,
    /// Waiting for the terminal back: a TAKEN that comes meanwhile is
    /// declined.
    taking_back: bool,
}

/// Who writes the job's output to the user's terminal. The supervisor
/// writes there only between our READY and its GIVEN_BACK, so the client
/// takes the terminal back before anything it writes or leaves to the
/// shell (a stop, a note, its exit).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lending {
    /// We do: output comes through the socket.
    Kept,
    /// Passed to the supervisor, not answered yet.
    Passed,
    /// The supervisor does.
    Lent,
}

/// How often a client in the background looks whether it is in the
/// foreground again.
const BACKGROUND_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a client waits for its terminal back (a busy supervisor
/// first finishes what it is doing).
const TAKE_BACK_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a detaching client waits for the supervisor's restore
/// sequence (a busy supervisor first catches its model up).
const RESTORE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the relay loop ends.
type Outcome = i32;

impl Client {
    fn new(conn: Connection, mode: Mode) -> io::Result<Client> {
        let keys = Some(os::stdio(0)).filter(|&fd| os::isatty(fd));
        let screen = if os::isatty(os::stdio(1)) || !os::isatty(os::stdio(2)) {
            os::stdio(1)
        } else {
            os::stdio(2)
        };
        let mut watched = vec![libc::SIGWINCH, libc::SIGCONT, libc::SIGTSTP];
        // A signal ignored on entry stays ignored, as shells do for
        // background commands.
        for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
            if !os::is_ignored(sig) {
                watched.push(sig);
            }
        }
        let signals = SignalPipe::install(&watched)?;
        // This process is the user's terminal session now: a hangup ends
        // it (never the job), and a closed pipe is an error, not a death.
        os::set_disposition(libc::SIGHUP, Disposition::Default)?;
        os::set_disposition(libc::SIGPIPE, Disposition::Ignore)?;
        os::set_nonblocking(&conn.fd)?;
        let mut c = Client {
            fd: conn.fd,
            job: conn.job,
            started: matches!(mode, Mode::Started),
            keys,
            screen,
            size_from: super::user_terminal(),
            raw: {
                let raw = RawMode::new(keys.unwrap_or(os::stdio(0)));
                // stdout is a pipe: the process at its other end (`| tee`,
                // `| less`) may write to the terminal too.
                if screen.as_raw_fd() != 1 && os::is_pipe(os::stdio(1)) {
                    raw.keeping_output()
                } else {
                    raw
                }
            },
            reading: false,
            incoming: Decoder::default(),
            outgoing: VecDeque::with_capacity(SEND_QUEUE),
            escape: false,
            program_stopped: false,
            signals,
            note: None,
            killed_by: None,
            model: false,
            restored: false,
            detaching: false,
            can_lend: false,
            lending: Lending::Kept,
            taking_back: false,
        };
        if let Mode::Attach { replay } = mode {
            let mut hello = proto::VERSION.to_be_bytes().to_vec();
            hello.extend(replay.to_be_bytes());
            c.send(proto::HELLO, &hello);
            c.send_size();
        }
        Ok(c)
    }

    fn send(&mut self, kind: u8, payload: &[u8]) {
        proto::put(&mut self.outgoing, kind, payload);
    }

    fn send_size(&mut self) {
        if let Some(ws) = self.size_from.and_then(pty::winsize) {
            self.send(proto::RESIZE, &proto::resize_payload(&ws));
        }
    }

    /// Takes the terminal if this process is in the foreground: raw mode,
    /// keys read. In the background (after `bg`) only output is relayed.
    fn take_terminal(&mut self) {
        match self.keys {
            Some(k) if pty::in_foreground(k) => {
                self.raw.enter();
                self.reading = true;
            }
            _ => {
                self.raw.leave();
                self.reading = false;
            }
        }
    }

    fn relay(&mut self) -> Outcome {
        self.take_terminal();
        loop {
            let mut ev = PollFlags::IN;
            if !self.outgoing.is_empty() {
                ev |= PollFlags::OUT;
            }
            let keys = match self.keys {
                Some(k) if self.reading && self.outgoing.len() + KEYS_AT_ONCE * 2 < SEND_QUEUE => {
                    Some(k)
                }
                _ => None,
            };
            let ready = |p: &PollFd| {
                p.revents()
                    .intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
            };
            let (signals_ready, socket_ready, keys_ready) = {
                let mut fds = vec![
                    PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN),
                    PollFd::new(&self.fd, ev),
                ];
                fds.extend(keys.map(|k| PollFd::from_borrowed_fd(k, PollFlags::IN)));
                // In the background, look again now and then: a shell's
                // `fg` continues only a stopped job (bash sends no SIGCONT
                // to a running one), so nothing else tells us.
                let timeout = self.in_background().then_some(BACKGROUND_CHECK);
                let interrupted = match os::poll(&mut fds, timeout) {
                    Ok(n) => n == 0,
                    Err(_) => return EXIT_FAILURE,
                };
                (
                    interrupted || ready(&fds[0]),
                    ready(&fds[1]),
                    fds.get(2).is_some_and(ready),
                )
            };
            // Only when the pipe has something: reading it in every turn
            // of a flood costs a system call each.
            if signals_ready {
                if let Some(status) = self.on_signals() {
                    return status;
                }
            }
            if socket_ready {
                if let Some(status) = self.on_socket() {
                    return status;
                }
            }
            if keys_ready {
                if let Some(status) = self.on_keys() {
                    return status;
                }
            }
            if self.in_background() && self.keys.is_some_and(pty::in_foreground) {
                // `fg` of a viewer or job that ran in the background.
                self.take_terminal();
                self.send_size();
                self.lend();
            }
            self.flush();
        }
    }

    /// Sent to the background (`bg`): output only, the keys left to the
    /// shell.
    fn in_background(&self) -> bool {
        self.keys.is_some() && !self.reading
    }

    fn flush(&mut self) {
        while !self.outgoing.is_empty() {
            let (a, _) = self.outgoing.as_slices();
            match os::send(&self.fd, a) {
                Ok(n) => {
                    self.outgoing.drain(..n);
                }
                // Gone or full: reading the socket will tell which.
                Err(_) => return,
            }
        }
    }

    fn on_signals(&mut self) -> Option<Outcome> {
        let sigs = self.signals.take();
        if sigs == 0 {
            return None;
        }
        if os::has(sigs, libc::SIGWINCH) {
            self.send_size();
        }
        for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
            if os::has(sigs, sig) {
                if self.started {
                    // Meant for the command this process stands for
                    // (`kill`, `timeout`, Ctrl-C on a terminal that is
                    // not in raw mode): pass it on, and keep relaying
                    // until the program ends.
                    self.send(proto::SIGNAL, &(sig as u32).to_be_bytes());
                } else {
                    self.detach_note();
                    return Some(128 + sig);
                }
            }
        }
        if os::has(sigs, libc::SIGTSTP) {
            if self.started {
                self.send(proto::SIGNAL, &(libc::SIGTSTP as u32).to_be_bytes());
            } else {
                // A viewer asked to stop stops alone (its terminal taken
                // back: the job's output waits meanwhile).
                if let Some(status) = self.take_back() {
                    return Some(status);
                }
                self.raw.leave();
                let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
                self.resumed();
            }
        }
        if os::has(sigs, libc::SIGCONT) {
            self.resumed();
        }
        None
    }

    /// After a stop of our own (or `fg`/`bg`): take the terminal back if it
    /// is ours, continue the program, and tell it the size (which may have
    /// changed meanwhile).
    fn resumed(&mut self) {
        self.take_terminal();
        if self.program_stopped {
            self.send(proto::CONTINUE, &[]);
        }
        self.send_size();
        self.lend();
    }

    /// Passes our terminal to the supervisor, which then writes the output
    /// there itself: the bytes skip this process (one copy and one wake-up
    /// less each), as tmux's server writes to its clients' terminals. Only
    /// a terminal, reopened so that the supervisor's non-blocking mode
    /// stays off the description the shell shares; if anything fails, the
    /// output keeps coming through the socket. Not from the background of
    /// a terminal set to `tostop`: there the user asked for output to stop
    /// the job that writes it, and the supervisor's writes would not (it
    /// is not in the terminal's session); our own write stops us.
    fn lend(&mut self) {
        if !self.can_lend
            || self.lending != Lending::Kept
            || !os::isatty(self.screen)
            || pty::writes_would_stop(self.screen)
            || std::env::var_os("HUPSAFE_TEST_KEEP_TERMINAL").is_some()
        {
            return;
        }
        // After what is queued: the frame must not split another.
        self.flush();
        if !self.outgoing.is_empty() {
            return;
        }
        let Ok(again) = os::reopen_terminal(self.screen) else {
            return;
        };
        let frame = proto::frame(proto::TERMINAL, &[]);
        if let Ok(n) = os::send_with_fd(&self.fd, &frame, again.as_fd()) {
            self.outgoing.extend(&frame[n..]);
            self.lending = Lending::Passed;
        }
    }

    /// Takes our terminal back from the supervisor, if it has it: once
    /// GIVEN_BACK comes, nothing more is written there but by us (what
    /// comes meanwhile through the socket is written in order). `Some` if
    /// the relay ended meanwhile (the program's end, a lost connection).
    fn take_back(&mut self) -> Option<Outcome> {
        if self.lending == Lending::Kept {
            return None;
        }
        self.taking_back = true;
        self.send(proto::TAKE_BACK, &[]);
        let ended = self.await_socket(TAKE_BACK_WITHIN, |c| c.lending == Lending::Kept);
        self.taking_back = false;
        self.lending = Lending::Kept;
        ended
    }

    fn on_socket(&mut self) -> Option<Outcome> {
        match self.incoming.fill_from(&self.fd) {
            Ok(0) => return Some(self.connection_lost()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Some(self.connection_lost()),
        }
        // Consecutive output frames reach the terminal in one write.
        let mut shown: Vec<u8> = Vec::new();
        loop {
            let frame = match self.incoming.peek() {
                Ok(Some((proto::OUTPUT, p))) => {
                    shown.extend_from_slice(p);
                    self.incoming.consume();
                    continue;
                }
                Ok(f) => f.map(|(k, p)| (k, p.to_vec())),
                Err(proto::Garbled) => None,
            };
            if !shown.is_empty() {
                if let Err(e) = os::write_all(self.screen, &shown) {
                    return Some(terminal_gone(&e));
                }
                shown.clear();
            }
            let (kind, payload) = match frame {
                Some(f) => f,
                None if self.incoming.peek().is_err() => return Some(self.connection_lost()),
                None => return None,
            };
            self.incoming.consume();
            match kind {
                proto::WELCOME => {
                    let welcome = serde_json::from_slice::<serde_json::Value>(&payload).ok();
                    let stopped = welcome
                        .as_ref()
                        .and_then(|v| v.get("state")?.as_str().map(|s| s == "stopped"))
                        .unwrap_or(false);
                    self.model = welcome
                        .as_ref()
                        .and_then(|v| v.get("screen")?.as_bool())
                        .unwrap_or(false);
                    self.can_lend = welcome
                        .as_ref()
                        .and_then(|v| v.get("terminal")?.as_bool())
                        .unwrap_or(false);
                    self.lend();
                    if stopped && !self.started {
                        // Attaching to a stopped job is `fg`.
                        self.send(proto::CONTINUE, &[]);
                    }
                }
                proto::STOPPED => {
                    self.program_stopped = true;
                    // (While taking the terminal back, the stop that
                    // follows is the caller's.)
                    if !self.taking_back {
                        if let Some(status) = self.suspend() {
                            return Some(status);
                        }
                    }
                }
                proto::TAKEN => {
                    if self.lending == Lending::Passed && !self.taking_back {
                        // Everything before TAKEN is on the terminal.
                        self.send(proto::READY, &[]);
                        self.lending = Lending::Lent;
                    } else {
                        // Not wanted any more (or answered late): the
                        // supervisor waits for a word either way.
                        self.send(proto::TAKE_BACK, &[]);
                    }
                    self.flush();
                }
                proto::GIVEN_BACK => {
                    let unasked = self.lending == Lending::Lent && !self.taking_back;
                    self.lending = Lending::Kept;
                    if unasked {
                        // The supervisor let go while we were stopped
                        // (SIGSTOP): lend it again, now that we run.
                        self.lend();
                    }
                }
                proto::CONTINUED => self.program_stopped = false,
                proto::RESTORE => {
                    // The last the supervisor writes for us (empty if it
                    // wrote it to the terminal itself).
                    self.lending = Lending::Kept;
                    if let Err(e) = os::write_all(self.screen, &payload) {
                        return Some(terminal_gone(&e));
                    }
                    self.restored = true;
                }
                proto::EXITED => {
                    self.lending = Lending::Kept;
                    let killed = payload.first() == Some(&1);
                    let value = proto::u32_at(&payload, 1).unwrap_or(0) as i32;
                    if killed {
                        self.killed_by = Some(value);
                        return Some(128 + value);
                    }
                    return Some(value);
                }
                proto::ERROR => {
                    self.note = Some(String::from_utf8_lossy(&payload).into_owned());
                    return Some(EXIT_FAILURE);
                }
                _ => {}
            }
        }
    }

    /// The program stopped (Ctrl-Z, SIGSTOP): give the terminal back and
    /// stop as the program's stand-in, so the shell takes over. Only a
    /// client in the foreground of its controlling terminal does that: one
    /// started from a script or with no terminal at all must not stop the
    /// process group it shares with whoever started it; it keeps relaying,
    /// and the program stays stopped until continued (`hupsafe signal CONT`).
    /// In an orphaned group the kernel discards the stop, and the program
    /// is continued at once rather than left stopped with nobody to
    /// continue it.
    fn suspend(&mut self) -> Option<Outcome> {
        if !in_job_control() {
            return None;
        }
        if let Some(status) = self.take_back() {
            return Some(status);
        }
        self.raw.leave();
        // The default action, then the stop signal to our own process
        // group (as the terminal would send it), then our handler back.
        let handler = os::Saved::of(libc::SIGTSTP);
        let _ = os::set_disposition(libc::SIGTSTP, Disposition::Default);
        let _ = rustix::process::kill_current_process_group(Signal::TSTP);
        handler.restore();
        self.resumed();
        None
    }

    fn on_keys(&mut self) -> Option<Outcome> {
        let k = self.keys?;
        let mut buf = [0u8; KEYS_AT_ONCE];
        let n = match os::read(k, &mut buf) {
            Ok(0) => return Some(128 + libc::SIGHUP),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            // EIO: the terminal hung up.
            Err(_) => return Some(128 + libc::SIGHUP),
        };
        let mut keys = Vec::with_capacity(n + 1);
        for &b in &buf[..n] {
            if self.escape {
                self.escape = false;
                match b {
                    b'd' | b'D' => {
                        if !keys.is_empty() {
                            self.send(proto::INPUT, &keys);
                        }
                        self.send(proto::DETACH, &[]);
                        self.detaching = true;
                        self.flush();
                        self.await_restore();
                        self.detach_note();
                        return Some(0);
                    }
                    DETACH_KEY => keys.push(DETACH_KEY),
                    other => keys.extend([DETACH_KEY, other]),
                }
            } else if b == DETACH_KEY {
                self.escape = true;
            } else {
                keys.push(b);
            }
        }
        if !keys.is_empty() {
            self.send(proto::INPUT, &keys);
        }
        None
    }

    /// After DETACH: the output still on its way, then the supervisor's
    /// restore sequence (or, if it does not come, the generic one).
    fn await_restore(&mut self) {
        if !self.model {
            return;
        }
        // The end of the connection, EXITED or an error end it too.
        let _ = self.await_socket(RESTORE_WITHIN, |c| c.restored);
        self.restore_generic();
        // Whatever came meanwhile, the user detached.
        self.killed_by = None;
    }

    /// Handles what the supervisor sends until `done` or `within` has
    /// passed (what we queue is sent meanwhile). `Some` if the relay ended
    /// first (the program's end, a lost connection).
    fn await_socket(
        &mut self,
        within: std::time::Duration,
        done: impl Fn(&Self) -> bool,
    ) -> Option<Outcome> {
        let deadline = std::time::Instant::now() + within;
        while !done(self) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            self.flush();
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            if os::poll(&mut fds, Some(left)).is_err() {
                return None;
            }
            if !fds[0].revents().is_empty() {
                if let Some(status) = self.on_socket() {
                    return Some(status);
                }
            }
        }
        None
    }

    /// The generic restore, if the supervisor's did not come (and the
    /// output is a terminal: a pipe or file gets no escapes it never asked
    /// for).
    fn restore_generic(&mut self) {
        if self.model && !self.restored && os::isatty(self.screen) {
            let _ = os::write_all(self.screen, super::supervisor::screen::GENERIC_RESTORE);
            self.restored = true;
        }
    }

    fn detach_note(&mut self) {
        self.note = Some(format!(
            "detached from job {id}, which keeps running; reattach with: hupsafe attach {id}",
            id = self.job.id
        ));
    }

    /// The supervisor closed the connection without saying the program
    /// ended: it dropped this client (which fell behind: a frozen terminal),
    /// or it is gone. The record says which. The `hupsafe` that started
    /// the job still stands for it: it waits for the end and exits with the
    /// program's status, so scripts keep working.
    fn connection_lost(&mut self) -> Outcome {
        // Nobody at the other end writes to our terminal any more.
        self.lending = Lending::Kept;
        self.restore_generic();
        if self.detaching {
            return 0;
        }
        let id = self.job.id.clone();
        let mut said = false;
        loop {
            let record = self.job.read_record();
            match record {
                Ok(r) if r.state == State::Failed => {
                    self.note = Some(format!(
                        "job {id} failed: {}",
                        r.error.as_deref().unwrap_or("unknown error")
                    ));
                    return EXIT_FAILURE;
                }
                Ok(r) if r.state.is_final() => {
                    if !said {
                        self.note = Some(format!(
                            "job {id} stopped relaying to this terminal before it \
                             ended (it fell behind); all its output is in its log: \
                             hupsafe logs {id}"
                        ));
                    }
                    if r.state == State::Killed {
                        self.killed_by = r.signal;
                    }
                    return r.shell_status().unwrap_or(EXIT_FAILURE);
                }
                Ok(r) if self.started && r.status().is_live() => {
                    if !said {
                        self.raw.leave();
                        say!(
                            "job {id} stopped relaying to this terminal (it fell \
                             behind); the output goes on in its log (hupsafe logs -f {id}, \
                             hupsafe attach {id}); waiting for the job to end"
                        );
                        said = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                _ => {
                    self.note = Some(format!(
                        "lost the connection to job {id}; see: hupsafe ps; \
                         its output: hupsafe logs {id}"
                    ));
                    return EXIT_FAILURE;
                }
            }
        }
    }
}

/// Whether this process is the foreground job of its controlling terminal
/// (one of fds 0-2), i.e. a shell's job control applies to it.
fn in_job_control() -> bool {
    let me = os::getpgrp();
    (0..3)
        .map(os::stdio)
        .any(|fd| os::isatty(fd) && os::tcgetpgrp(fd) == me)
}

/// The user's terminal (or pipe) is gone: nothing to say, nobody to say it
/// to. The status is what a shell would report for the death it stands for.
fn terminal_gone(e: &io::Error) -> Outcome {
    if e.raw_os_error() == Some(libc::EPIPE) {
        128 + libc::SIGPIPE
    } else {
        128 + libc::SIGHUP
    }
}
