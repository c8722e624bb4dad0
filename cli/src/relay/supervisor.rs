//! The supervisor: one small process per relayed job, leading a session of
//! its own whose controlling terminal is the job's pty (never the user's),
//! with SIGHUP ignored, so no hangup of the user's terminal reaches it or
//! the program. It holds the master side of the job's pty, starts the
//! program on the slave side, and then only moves bytes:
//!
//! - program output: master -> log (always) and -> attached clients;
//! - client input: socket -> master (the pty's line discipline turns
//!   Ctrl-C/Ctrl-Z into signals for the program, as a real terminal does);
//! - resizes: TIOCSWINSZ on the master (the kernel sends SIGWINCH);
//! - the program's stops, continues and exit (waitpid with WUNTRACED |
//!   WCONTINUED): into the record and to the clients.
//!
//! Memory is fixed whatever the program writes: one read buffer, a bounded
//! queue per client (at most [`MAX_CLIENTS`]), a bounded input queue. With
//! no client attached the master is read as fast as the program writes. An
//! attached client that cannot keep up slows the reading as a terminal
//! would, and one that makes no progress at all for [`STUCK_AFTER`] (a
//! frozen SSH link) is dropped; it can attach again. A log that cannot be
//! written costs the log those bytes, counted in the record, never the
//! program its output.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::os::{self, SignalPipe};
use super::proto::{self, Decoder};
use super::pty::{self, Pair};
use crate::error::os_words;
use crate::registry::{now_ms, Job, ProcId, Record, State};

/// Bytes read from the master at a time (and the largest output frame).
const CHUNK: usize = 16 * 1024;
/// Each client's queue of frames not yet sent.
const CLIENT_QUEUE: usize = 64 * 1024;
/// Control frames may exceed the queue by this much before the client is
/// considered stuck.
const CONTROL_SLACK: usize = 4 * 1024;
/// Keys waiting for room in the pty's input buffer.
const INPUT_QUEUE: usize = 8 * 1024;
pub const MAX_CLIENTS: usize = 8;
/// A client that accepts nothing for this long while output waits is
/// dropped, so that a frozen connection never holds the program up.
pub const STUCK_AFTER: Duration = Duration::from_secs(5);
/// After the program exits, output still arriving (from descendants that
/// kept the terminal) is relayed for at most this long.
const DRAIN_MAX: Duration = Duration::from_secs(10);
/// After the program exits, this much silence means the pty is drained.
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// How long a refused client may take to read why.
const LINGER: Duration = Duration::from_secs(2);
/// Lost-byte counts reach the record at most this often.
const RECORD_EVERY: Duration = Duration::from_secs(1);

/// Everything the supervisor is handed by the `hupsafe` that started it.
pub struct Start {
    pub job: Job,
    pub record: Record,
    pub pty: Pair,
    pub listener: OwnedFd,
    /// The starting `hupsafe`'s connection, already attached.
    pub first: OwnedFd,
    /// The program's fds 0-2 that are not the pty (a redirected stdout,
    /// piped stdin); `None` means the pty.
    pub stdio: [Option<OwnedFd>; 3],
    pub log: File,
    pub program: PathBuf,
    pub argv0: OsString,
    pub args: Vec<OsString>,
    /// The --strict seccomp filter, applied in the program's child.
    pub strict: Option<crate::sys::strict::Filter>,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Mode {
    /// Connected, has not said hello yet.
    Hello,
    /// Catching up from the log, from this offset.
    Replay(u64),
    /// Gets output as it comes.
    Live,
}

struct Client {
    fd: OwnedFd,
    input: Decoder,
    out: VecDeque<u8>,
    mode: Mode,
    /// When the queue last moved (or became non-empty).
    progress: Instant,
    /// Refused or sent away, since then: what is queued is still sent,
    /// what comes in is discarded, then the socket is closed. Closing at
    /// once with unread input would reset the connection, and the peer
    /// would never read why.
    closing: Option<Instant>,
    /// Just attached: its first window size comes with a SIGWINCH even if
    /// the size did not change, so full-screen programs redraw for it.
    fresh: bool,
    dead: bool,
}

impl Client {
    fn new(fd: OwnedFd, mode: Mode) -> Client {
        Client {
            fd,
            input: Decoder::default(),
            out: VecDeque::with_capacity(CLIENT_QUEUE),
            mode,
            progress: Instant::now(),
            closing: None,
            fresh: false,
            dead: false,
        }
    }

    /// A client told `why` it cannot stay, then closed.
    fn refused(fd: OwnedFd, why: &str) -> Client {
        let mut c = Client::new(fd, Mode::Hello);
        c.push(proto::ERROR, why.as_bytes());
        c.close_soon();
        c
    }

    fn close_soon(&mut self) {
        self.closing.get_or_insert_with(Instant::now);
        self.mode = Mode::Hello;
    }

    /// Closing clients: done once everything queued is sent (then our
    /// side is shut, and the peer's end of file or a deadline ends it).
    fn linger(&mut self) {
        let Some(since) = self.closing else {
            return;
        };
        if self.out.is_empty() {
            // SAFETY: shutdown on our socket; repeating it is harmless.
            unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) };
        }
        if since.elapsed() >= LINGER {
            self.dead = true;
        }
    }

    fn attached(&self) -> bool {
        !self.dead && self.mode != Mode::Hello
    }

    fn room(&self) -> usize {
        CLIENT_QUEUE.saturating_sub(self.out.len())
    }

    /// Whether this client holds back reading the master.
    fn is_full(&self) -> bool {
        !self.dead && self.mode == Mode::Live && self.room() < CHUNK + proto::HEADER
    }

    fn push(&mut self, kind: u8, payload: &[u8]) {
        if self.dead {
            return;
        }
        if self.out.len() + proto::HEADER + payload.len() > CLIENT_QUEUE + CONTROL_SLACK {
            self.dead = true;
            return;
        }
        if self.out.is_empty() {
            self.progress = Instant::now();
        }
        proto::put(&mut self.out, kind, payload);
    }

    /// Sends what the socket takes now.
    fn flush(&mut self) {
        while !self.dead && !self.out.is_empty() {
            let (a, _) = self.out.as_slices();
            match os::send(self.fd.as_raw_fd(), a) {
                Ok(n) => {
                    self.out.drain(..n);
                    self.progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.dead = true,
            }
        }
    }
}

/// How the program ended.
#[derive(Clone, Copy)]
enum End {
    Exited(i32),
    Killed(i32),
}

struct Supervisor {
    job: Job,
    record: Record,
    master: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    signals: SignalPipe,
    log: File,
    /// The log again, for replays (None if it could not be opened).
    log_reader: Option<File>,
    /// Bytes in the log: everything the program wrote, less what was lost.
    log_end: u64,
    record_dirty: bool,
    record_written: Instant,
    clients: Vec<Client>,
    input: VecDeque<u8>,
    program: i32,
    end: Option<End>,
    ended_at: Option<Instant>,
    /// When the master last gave us output (or the program ended).
    last_output: Instant,
    buf: Box<[u8]>,
}

/// Runs the supervisor (in the freshly double-forked process) and never
/// returns.
pub fn run(start: Start) -> ! {
    let code = match Supervisor::start(start) {
        Ok(mut s) => {
            s.relay();
            s.finish();
            0
        }
        Err(()) => 1,
    };
    // SAFETY: leaving without running the starting hupsafe's atexit
    // handlers or flushing its copy of stdio buffers.
    unsafe { libc::_exit(code) }
}

impl Supervisor {
    fn start(start: Start) -> Result<Supervisor, ()> {
        let Start {
            job,
            mut record,
            pty: Pair { master, slave },
            listener,
            first,
            stdio,
            log,
            program,
            argv0,
            args,
            strict,
        } = start;
        // What the program should inherit, saved before the supervisor
        // changes them for itself.
        let inherited: Vec<os::Saved> =
            [libc::SIGPIPE, libc::SIGXFSZ, libc::SIGTERM, libc::SIGCHLD]
                .iter()
                .map(|&s| os::Saved::of(s))
                .collect();
        // SIGHUP stays ignored (the starting hupsafe set it before the
        // fork); writes to a gone client must not kill us (SIGPIPE), nor a
        // log over RLIMIT_FSIZE (SIGXFSZ: the write fails with EFBIG
        // instead and the bytes are counted as lost).
        let _ = os::set_handler(libc::SIGHUP, libc::SIG_IGN);
        let _ = os::set_handler(libc::SIGPIPE, libc::SIG_IGN);
        let _ = os::set_handler(libc::SIGXFSZ, libc::SIG_IGN);
        let fail = |record: &mut Record, job: &Job, why: String| {
            record.state = State::Failed;
            record.error = Some(why);
            record.ended_ms = Some(now_ms());
            record.writer = ProcId::current();
            let _ = job.write_record(record);
            let _ = std::fs::remove_file(job.sock_path());
        };
        let signals = match SignalPipe::install(&[libc::SIGCHLD, libc::SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                fail(
                    &mut record,
                    &job,
                    format!("cannot watch signals: {}", os_words(&e)),
                );
                return Err(());
            }
        };

        // The pty becomes the controlling terminal of the supervisor's
        // session, and the program runs in a process group of its own in
        // that session, in the foreground: as a job under a shell. A
        // program that led a session of its own would be an orphaned
        // process group, and the kernel discards the terminal's SIGTSTP
        // for those: Ctrl-Z would do nothing (as under `script`).
        if stdio.iter().any(Option::is_none) {
            // SAFETY: TIOCSCTTY on our slave; we lead a session without a
            // controlling terminal.
            unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
        }
        // SAFETY: the supervisor is single-threaded (a fork of the
        // single-threaded hupsafe), so the child may run ordinary code
        // until it execs.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            if let Some(f) = &strict {
                if let Err(e) = crate::sys::strict::apply(f) {
                    let _ =
                        os::write_all(slave.as_raw_fd(), format!("{}\r\n", e.message).as_bytes());
                    // SAFETY: leaving the failed child without atexit handlers.
                    unsafe { libc::_exit(e.status) }
                }
            }
            exec_child(&job, &slave, &stdio, &inherited, &program, &argv0, &args);
        }
        if pid > 0 {
            // SAFETY: the child's group, set by both sides (whichever runs
            // first wins; the other's call is a harmless repeat or EACCES
            // after exec).
            unsafe { libc::setpgid(pid, pid) };
        }
        if pid < 0 {
            let e = io::Error::last_os_error();
            fail(
                &mut record,
                &job,
                format!("cannot start the program: {}", os_words(&e)),
            );
            return Err(());
        }
        drop(slave);
        drop(stdio);
        let _ = os::set_nonblocking(master.as_raw_fd());
        let _ = os::set_nonblocking(listener.as_raw_fd());
        let _ = os::set_nonblocking(first.as_raw_fd());

        let log_reader = File::open(job.log_path()).ok();
        let mut s = Supervisor {
            job,
            record,
            master: Some(master),
            listener: Some(listener),
            signals,
            log,
            log_reader,
            log_end: 0,
            record_dirty: false,
            record_written: Instant::now(),
            clients: Vec::new(),
            input: VecDeque::with_capacity(INPUT_QUEUE),
            program: pid,
            end: None,
            ended_at: None,
            last_output: Instant::now(),
            buf: vec![0; CHUNK].into_boxed_slice(),
        };
        let mut first = Client::new(first, Mode::Live);
        first.push(proto::WELCOME, &s.welcome());
        s.clients.push(first);
        s.record.writer = ProcId::current();
        s.record.program = ProcId::of(pid);
        s.record.state = State::Running;
        s.record.attached = 1;
        s.write_record();
        detach_from_starter(&s);
        Ok(s)
    }

    fn welcome(&self) -> Vec<u8> {
        let state = if self.record.state == State::Stopped {
            "stopped"
        } else {
            "running"
        };
        serde_json::json!({ "id": self.job.id, "pid": self.program, "state": state })
            .to_string()
            .into_bytes()
    }

    fn write_record(&mut self) {
        self.record.bytes_logged = self.log_end;
        self.record.attached = if self.record.state.is_final() {
            0
        } else {
            self.clients.iter().filter(|c| c.attached()).count() as u32
        };
        // A record that cannot be written (full disk, deleted directory)
        // changes nothing for the program; `ps` shows the last one.
        let _ = self.job.write_record(&self.record);
        self.record_dirty = false;
        self.record_written = Instant::now();
    }

    fn broadcast(&mut self, kind: u8, payload: &[u8]) {
        for c in self.clients.iter_mut().filter(|c| c.attached()) {
            c.push(kind, payload);
        }
    }

    fn backpressure(&self) -> bool {
        self.clients.iter().any(Client::is_full)
    }

    /// The main loop: until the program has ended and its output is
    /// drained.
    fn relay(&mut self) {
        loop {
            self.reap();
            if self.drained() {
                return;
            }
            let held = self.backpressure();
            let mut fds = vec![os::pollfd(self.signals.fd(), libc::POLLIN)];
            let master_at = self.master.as_ref().map(|m| {
                let mut ev = 0;
                if !held {
                    ev |= libc::POLLIN;
                }
                if !self.input.is_empty() {
                    ev |= libc::POLLOUT;
                }
                // Held back with nothing to write: not watched at all, or a
                // hung-up slave side (POLLHUP is always reported) would
                // spin the loop until the clients catch up.
                let fd = if ev == 0 { -1 } else { m.as_raw_fd() };
                fds.push(os::pollfd(fd, ev));
                fds.len() - 1
            });
            let listener_at = self.listener.as_ref().map(|l| {
                fds.push(os::pollfd(l.as_raw_fd(), libc::POLLIN));
                fds.len() - 1
            });
            let clients_at = fds.len();
            for c in &self.clients {
                let mut ev = 0;
                if c.input.has_room() || c.closing.is_some() {
                    ev |= libc::POLLIN;
                }
                if !c.out.is_empty() {
                    ev |= libc::POLLOUT;
                }
                fds.push(os::pollfd(c.fd.as_raw_fd(), ev));
            }
            let timeout = self.timeout(held);
            if os::poll(&mut fds, timeout).is_err() {
                // Only EINVAL/ENOMEM: nothing sensible but to try again.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }

            let sigs = self.signals.take();
            if os::has(sigs, libc::SIGTERM) {
                // Asked to end the job: pass it on to the program, as
                // `hupsafe stop` would, and finish when it ends.
                self.signal_program(libc::SIGTERM);
                self.signal_program(libc::SIGCONT);
            }
            if let Some(i) = master_at {
                let r = fds[i].revents;
                if r & libc::POLLOUT != 0 {
                    self.write_input();
                }
                if r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read_output();
                }
            }
            if listener_at.is_some_and(|i| fds[i].revents & libc::POLLIN != 0) {
                self.accept();
            }
            for i in 0..self.clients.len().min(fds.len() - clients_at) {
                let r = fds[clients_at + i].revents;
                if r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read_client(i, r);
                }
                if r & libc::POLLOUT != 0 {
                    self.clients[i].flush();
                }
                self.clients[i].linger();
                self.refill(i);
            }
            self.drop_stuck(held);
            self.forget_dead();
            if self.record_dirty && self.record_written.elapsed() >= RECORD_EVERY {
                self.write_record();
            }
        }
    }

    fn timeout(&self, held: bool) -> i32 {
        let mut t: Option<Duration> = None;
        let mut at_most = |d: Duration| t = Some(t.map_or(d, |t| t.min(d)));
        if self.ended_at.is_some() {
            at_most(DRAIN_QUIET / 2);
        }
        if self.record_dirty {
            at_most(RECORD_EVERY.saturating_sub(self.record_written.elapsed()));
        }
        if held || self.clients.iter().any(|c| c.closing.is_some()) {
            at_most(Duration::from_millis(500));
        }
        t.map_or(-1, |d| d.as_millis().clamp(1, i32::MAX as u128) as i32)
    }

    /// Collects the program's state changes.
    fn reap(&mut self) {
        if self.end.is_some() {
            return;
        }
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            let r = unsafe {
                libc::waitpid(
                    self.program,
                    &mut status,
                    libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED,
                )
            };
            if r <= 0 {
                return;
            }
            if libc::WIFSTOPPED(status) {
                let sig = libc::WSTOPSIG(status);
                self.record.state = State::Stopped;
                self.record.signal = Some(sig);
                self.write_record();
                self.broadcast(proto::STOPPED, &(sig as u32).to_be_bytes());
            } else if libc::WIFCONTINUED(status) {
                self.record.state = State::Running;
                self.record.signal = None;
                self.write_record();
                self.broadcast(proto::CONTINUED, &[]);
            } else if libc::WIFEXITED(status) {
                self.ended(End::Exited(libc::WEXITSTATUS(status)));
                return;
            } else if libc::WIFSIGNALED(status) {
                self.ended(End::Killed(libc::WTERMSIG(status)));
                return;
            }
        }
    }

    fn ended(&mut self, end: End) {
        self.end = Some(end);
        self.ended_at = Some(Instant::now());
        self.last_output = Instant::now();
    }

    /// Whether the program has ended and its terminal has nothing more.
    fn drained(&self) -> bool {
        let Some(at) = self.ended_at else {
            return false;
        };
        self.master.is_none()
            || at.elapsed() >= DRAIN_MAX
            || (!self.backpressure() && self.last_output.elapsed() >= DRAIN_QUIET)
    }

    fn signal_program(&self, sig: i32) {
        if self.end.is_none() {
            // SAFETY: signalling our own child's process group (it leads
            // it, so the group's id is its pid).
            unsafe {
                libc::kill(-self.program, sig);
            }
        }
    }

    /// Reads what the program wrote: into the log, then to live clients.
    fn read_output(&mut self) {
        for _ in 0..4 {
            if self.master.is_none() || self.backpressure() {
                return;
            }
            // A pty hands out about a page per read: gather what is ready
            // into one chunk, so the log and the clients get one write each.
            let mut n = 0;
            let mut more = true;
            while let (true, Some(m)) = (n < self.buf.len(), self.master.as_ref()) {
                match os::read(m.as_raw_fd(), &mut self.buf[n..]) {
                    Ok(k) if k > 0 => n += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        more = false;
                        break;
                    }
                    // 0 or EIO: every holder of the slave side has closed it.
                    _ => {
                        self.master = None;
                        more = false;
                    }
                }
            }
            if n > 0 {
                self.last_output = Instant::now();
                let data = std::mem::take(&mut self.buf);
                self.output(&data[..n]);
                self.buf = data;
            }
            if !more {
                return;
            }
        }
    }

    fn output(&mut self, data: &[u8]) {
        // Terminals first (a key's echo should not wait for the disk); a
        // replaying client finds these bytes in the log once written.
        for c in self.clients.iter_mut().filter(|c| c.mode == Mode::Live) {
            c.push(proto::OUTPUT, data);
            c.flush();
        }
        let mut done = 0;
        while done < data.len() {
            match self.log.write(&data[done..]) {
                Ok(0) => {
                    self.record.log_error = Some("the log file accepts no more bytes".into());
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.record.log_error = Some(os_words(&e));
                    break;
                }
            }
        }
        self.log_end += done as u64;
        let lost = (data.len() - done) as u64;
        if lost > 0 {
            if self.record.bytes_lost == 0 {
                // The first loss is worth a record at once.
                self.record_written = Instant::now() - RECORD_EVERY;
            }
            self.record.bytes_lost += lost;
            self.record_dirty = true;
        }
    }

    /// Passes queued keys to the program's terminal.
    fn write_input(&mut self) {
        let Some(m) = self.master.as_ref() else {
            self.input.clear();
            return;
        };
        while !self.input.is_empty() {
            let (a, _) = self.input.as_slices();
            match os::write(m.as_raw_fd(), a) {
                Ok(n) if n > 0 => {
                    self.input.drain(..n);
                }
                _ => return,
            }
        }
    }

    fn accept(&mut self) {
        let Some(l) = self.listener.as_ref() else {
            return;
        };
        while let Ok(fd) = os::accept(l.as_raw_fd()) {
            // SAFETY: geteuid cannot fail.
            let me = unsafe { libc::geteuid() };
            let refusal = match os::peer_uid(fd.as_raw_fd()) {
                Ok(uid) if uid == me => None,
                Ok(uid) => Some(format!(
                    "job {} belongs to uid {me}; uid {uid} may not attach to it",
                    self.job.id
                )),
                Err(e) => Some(format!("cannot tell who is connecting: {}", os_words(&e))),
            };
            let staying = self.clients.iter().filter(|c| c.closing.is_none()).count();
            if self.clients.len() >= 2 * MAX_CLIENTS {
                // Too many at once even to tell them why.
                continue;
            }
            let refusal = refusal.or_else(|| {
                (staying >= MAX_CLIENTS).then(|| {
                    format!(
                        "job {} already has {MAX_CLIENTS} clients attached",
                        self.job.id
                    )
                })
            });
            let c = match refusal {
                Some(why) => Client::refused(fd, &why),
                None => Client::new(fd, Mode::Hello),
            };
            self.clients.push(c);
        }
    }

    /// Reads and handles what client `i` sent.
    fn read_client(&mut self, i: usize, revents: libc::c_short) {
        let c = &mut self.clients[i];
        if c.closing.is_some() {
            let mut scratch = [0u8; 1024];
            match os::read(c.fd.as_raw_fd(), &mut scratch) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 => {}
                _ => c.dead = true,
            }
            return;
        }
        if !c.input.has_room() && revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            // Gone, with keys the program is not reading: drop them.
            c.dead = true;
        } else if c.input.has_room() {
            match c.input.fill_from(c.fd.as_raw_fd()) {
                Ok(0) => c.dead = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => c.dead = true,
            }
        }
        self.handle_frames(i);
    }

    fn handle_frames(&mut self, i: usize) {
        loop {
            let c = &self.clients[i];
            let (kind, payload) = match c.input.peek() {
                Ok(Some((k, p))) => (k, p.to_vec()),
                Ok(None) => return,
                Err(proto::Garbled) => {
                    self.clients[i].dead = true;
                    return;
                }
            };
            match kind {
                proto::HELLO if c.mode == Mode::Hello => self.hello(i, &payload),
                _ if c.mode == Mode::Hello => {}
                proto::INPUT if self.master.is_some() => {
                    if self.input.len() + payload.len() > INPUT_QUEUE {
                        // The program is not reading: leave the frame (and
                        // the client) waiting.
                        return;
                    }
                    self.input.extend(&payload);
                    self.write_input();
                }
                proto::RESIZE => {
                    if let (Some(ws), Some(m)) = (proto::parse_resize(&payload), &self.master) {
                        let _ = pty::set_winsize(m.as_raw_fd(), &ws);
                        if std::mem::take(&mut self.clients[i].fresh) {
                            // SAFETY: a harmless signal to the terminal's
                            // foreground group (our program's, or one it
                            // made), as a resize would send.
                            unsafe {
                                let fg = libc::tcgetpgrp(m.as_raw_fd());
                                if fg > 0 {
                                    libc::kill(-fg, libc::SIGWINCH);
                                }
                            }
                        }
                    }
                }
                proto::CONTINUE if self.end.is_none() => {
                    // SAFETY: continuing our own child's group, and the
                    // terminal's foreground group if it moved one there.
                    unsafe {
                        libc::kill(-self.program, libc::SIGCONT);
                        if let Some(m) = &self.master {
                            let fg = libc::tcgetpgrp(m.as_raw_fd());
                            if fg > 0 && fg != self.program {
                                libc::kill(-fg, libc::SIGCONT);
                            }
                        }
                    }
                }
                proto::DETACH => {
                    self.clients[i].dead = true;
                }
                proto::SIGNAL => {
                    if let Some(sig) = proto::u32_at(&payload, 0) {
                        let sig = sig as i32;
                        if (1..=libc::SIGRTMAX()).contains(&sig) {
                            self.signal_program(sig);
                            if sig != libc::SIGTSTP && sig != libc::SIGSTOP {
                                // A stopped program must run to act on it.
                                self.signal_program(libc::SIGCONT);
                            }
                        }
                    }
                }
                _ => {}
            }
            self.clients[i].input.consume();
            if self.clients[i].dead {
                return;
            }
        }
    }

    fn hello(&mut self, i: usize, payload: &[u8]) {
        let version = proto::u32_at(payload, 0).unwrap_or(0);
        if version != proto::VERSION {
            let why = format!(
                "job {} runs under a hupsafe speaking relay protocol {}, this one speaks {version}; \
                 use the hupsafe that started it (its output: hupsafe logs {})",
                self.job.id,
                proto::VERSION,
                self.job.id
            );
            let c = &mut self.clients[i];
            c.push(proto::ERROR, why.as_bytes());
            c.flush();
            c.close_soon();
            return;
        }
        let replay = proto::u32_at(payload, 4).unwrap_or(0) as u64;
        let from = self.log_end.saturating_sub(replay);
        let from = if from > 0 {
            self.line_start_after(from)
        } else {
            0
        };
        let welcome = self.welcome();
        let c = &mut self.clients[i];
        c.push(proto::WELCOME, &welcome);
        c.mode = Mode::Replay(from);
        c.fresh = true;
        self.refill(i);
        self.write_record();
    }

    /// The offset just after the first newline at or after `from`, so a
    /// replay starts on a line of its own (or `from` if there is none near).
    fn line_start_after(&self, from: u64) -> u64 {
        let mut buf = [0u8; 4096];
        let Some(r) = &self.log_reader else {
            return from;
        };
        match r.read_at(&mut buf, from) {
            Ok(n) => buf[..n]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(from, |p| from + p as u64 + 1),
            Err(_) => from,
        }
    }

    /// Feeds a replaying client from the log while its queue has room;
    /// once it has everything logged so far, it goes live.
    fn refill(&mut self, i: usize) {
        let log_end = self.log_end;
        let Supervisor {
            clients,
            log_reader,
            buf,
            ..
        } = self;
        let c = &mut clients[i];
        while let Mode::Replay(at) = c.mode {
            if c.dead {
                return;
            }
            if at >= log_end {
                c.mode = Mode::Live;
                break;
            }
            if c.room() < CHUNK + proto::HEADER {
                c.flush();
                if c.room() < CHUNK + proto::HEADER {
                    return;
                }
            }
            let want = ((log_end - at) as usize).min(CHUNK);
            let n = match log_reader.as_ref().map(|r| r.read_at(&mut buf[..want], at)) {
                Some(Ok(n)) if n > 0 => n,
                // The log is shorter than we wrote (truncated by hand) or
                // unreadable: nothing more to replay.
                _ => {
                    c.mode = Mode::Live;
                    break;
                }
            };
            c.push(proto::OUTPUT, &buf[..n]);
            c.mode = Mode::Replay(at + n as u64);
        }
        c.flush();
    }

    fn drop_stuck(&mut self, held: bool) {
        if !held {
            return;
        }
        for c in &mut self.clients {
            if c.is_full() && c.progress.elapsed() >= STUCK_AFTER {
                c.dead = true;
            }
        }
    }

    fn forget_dead(&mut self) {
        let before = self.record.attached as usize;
        self.clients.retain(|c| !c.dead);
        if self.clients.iter().filter(|c| c.attached()).count() != before {
            self.write_record();
        }
    }

    /// The final record, then the news to every client, then exit.
    fn finish(&mut self) {
        let _ = std::fs::remove_file(self.job.sock_path());
        self.listener = None;
        let (kind, value) = match self.end {
            Some(End::Exited(c)) => {
                self.record.state = State::Exited;
                self.record.exit_code = Some(c);
                (0u8, c as u32)
            }
            Some(End::Killed(s)) => {
                self.record.state = State::Killed;
                self.record.signal = Some(s);
                (1u8, s as u32)
            }
            None => (0, 0),
        };
        self.record.ended_ms = Some(now_ms());
        let _ = self.log.flush();
        self.write_record();
        let mut payload = vec![kind];
        payload.extend(value.to_be_bytes());
        self.broadcast(proto::EXITED, &payload);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.dead && !c.out.is_empty());
            if self.clients.is_empty() {
                break;
            }
            let mut fds: Vec<libc::pollfd> = self
                .clients
                .iter()
                .map(|c| os::pollfd(c.fd.as_raw_fd(), libc::POLLOUT))
                .collect();
            let _ = os::poll(&mut fds, 100);
        }
    }
}

/// The supervisor keeps nothing of the terminal session it came from: its
/// fds 0-2 go to /dev/null (the starting hupsafe's pipes must see end of
/// file when that hupsafe exits), other inherited descriptors are closed,
/// and it leaves the working directory (so it pins no mount).
fn detach_from_starter(s: &Supervisor) {
    let mut keep: Vec<RawFd> = vec![s.signals.fd(), s.log.as_raw_fd()];
    keep.extend(s.master.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(s.listener.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(s.log_reader.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(s.clients.iter().map(|c| c.fd.as_raw_fd()));
    // The signal pipe's write end is not visible from here: keep every
    // descriptor that is close-on-exec (ours all are; inherited ones that
    // matter to anyone are not).
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<RawFd> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds {
            if fd <= 2 || keep.contains(&fd) {
                continue;
            }
            // SAFETY: F_GETFD only inspects; closing an inherited
            // descriptor nobody in this process uses.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    libc::close(fd);
                }
            }
        }
    }
    // SAFETY: opening /dev/null and moving it onto 0-2.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
        libc::chdir(c"/".as_ptr());
    }
}

/// The program's side of the fork: a process group of its own, the
/// terminal's foreground group, fds 0-2 in place, the dispositions it
/// inherited back (SIGHUP stays ignored), then exec. Never returns.
fn exec_child(
    job: &Job,
    slave: &OwnedFd,
    stdio: &[Option<OwnedFd>; 3],
    inherited: &[os::Saved],
    program: &std::path::Path,
    argv0: &std::ffi::OsStr,
    args: &[OsString],
) -> ! {
    // SAFETY: between fork and exec in a single-threaded process; every
    // call is on descriptors this process owns.
    unsafe {
        libc::setpgid(0, 0);
        if stdio.iter().any(Option::is_none) {
            // tcsetpgrp from a background group raises SIGTTOU unless it
            // is blocked; the parent cannot do it for us without a race
            // (the program might read its terminal before).
            let mut ttou: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut ttou);
            libc::sigaddset(&mut ttou, libc::SIGTTOU);
            libc::sigprocmask(libc::SIG_BLOCK, &ttou, &mut old);
            libc::tcsetpgrp(slave.as_raw_fd(), libc::getpid());
            libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
        for (fd, own) in stdio.iter().enumerate() {
            let from = own.as_ref().map_or(slave.as_raw_fd(), |o| o.as_raw_fd());
            libc::dup2(from, fd as i32);
        }
    }
    for s in inherited {
        s.restore();
    }
    crate::sys::exec::protect_self();
    std::env::set_var("HUPSAFE_JOB", &job.id);
    let err = crate::sys::exec::exec_program(program, argv0, args);
    let _ = os::write_all(2, format!("{}\n", err.message).as_bytes());
    // SAFETY: leaving the failed child without running the parent's
    // atexit handlers.
    unsafe { libc::_exit(err.status) }
}
