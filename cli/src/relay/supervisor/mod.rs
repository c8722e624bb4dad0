//! The supervisor: one small process per relayed job, leading a session of
//! its own with no terminal, with SIGHUP ignored, so no hangup of the
//! user's terminal reaches it or the program (whose session, on the job's
//! pty, is led by the job's session holder: `holder`). It holds the master
//! side of the job's pty, has the holder start the program on the slave
//! side, and then only moves bytes:
//!
//! - program output: master -> log (always) and -> attached clients;
//! - client input: socket -> master (the pty's line discipline turns
//!   Ctrl-C/Ctrl-Z into signals for the program, as a real terminal does);
//! - resizes: TIOCSWINSZ on the master (the kernel sends SIGWINCH);
//! - the program's stops, continues and exit (reported by the job's
//!   session holder, its parent: `holder`): into the record and to the
//!   clients.
//!
//! Memory is fixed whatever the program writes: one read buffer, a bounded
//! queue per client (at most [`MAX_CLIENTS`]), a bounded input queue. With
//! no client attached the master is read as fast as the program writes. An
//! attached client that cannot keep up slows the reading as a terminal
//! would, and one that makes no progress at all for [`STUCK_AFTER`] (a
//! frozen SSH link) is dropped; it can attach again. A log that cannot be
//! written costs the log those bytes, counted in the record, never the
//! program its output.
//!
//! Here: the set-up and the event loop. `program` starts the program and
//! reads its state changes, `clients` holds the connections and what
//! they ask for, `log` the program's output and keys.

pub(in crate::relay) mod clients;
pub mod ended;
mod holder;
pub(in crate::relay) mod log;
pub(in crate::relay) mod model;
mod program;
pub(in crate::relay) mod screen;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use self::clients::{Client, Mode};
use self::holder::{Holder, News};
use self::log::Log;
use self::model::{BACKLOG_MAX, CATCH_UP_BUDGET, CATCH_UP_READ};
use self::program::{Change, End, Launch};
use self::screen::Screen;
use super::os::{self, Disposition, PollFd, PollFlags, SignalPipe};
use super::proto;
use super::pty::Pair;
use crate::error::os_words;
use crate::registry::{now_ms, Job, ProcId, Record, State};

/// Bytes read from the master at a time (and the largest output frame).
const CHUNK: usize = 16 * 1024;
/// Set (to anything), the supervisor keeps the memory inherited from the
/// starting hupsafe: bench/jobs.sh's baseline for the supervisor's size.
const KEEP_INHERITED_VAR: &str = "HUPSAFE_BENCH_KEEP_INHERITED";
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
/// Lost-byte counts reach the record at most this often (and a record that
/// could not be written is tried again this often).
const RECORD_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between tries of a final record the disk refuses.
const FINAL_RECORD_EVERY: Duration = Duration::from_secs(10);

/// Everything the supervisor is handed by the `hupsafe` that started it.
pub struct Start {
    /// Closed once the supervisor's record is written: the starter waits
    /// for it ([`super::Handover`]).
    pub handover: OwnedFd,
    pub job: Job,
    pub record: Record,
    pub pty: Pair,
    pub listener: OwnedFd,
    /// The starting `hupsafe`'s connection, already attached; `None` for a
    /// detached start (`hupsafe -d`): no client is waited for.
    pub first: Option<OwnedFd>,
    /// The program's fds 0-2 that are not the pty (a redirected stdout,
    /// piped stdin); `None` means the pty.
    pub stdio: [Option<OwnedFd>; 3],
    pub log: File,
    pub program: PathBuf,
    pub argv0: OsString,
    pub args: Vec<OsString>,
    /// The --strict seccomp filter, applied in the program's child.
    pub strict: Option<crate::sys::strict::Filter>,
    /// The screen model's scrollback in lines; `None`: no model (attach
    /// replays the end of the log instead).
    pub screen: Option<usize>,
}

struct Supervisor {
    job: Job,
    record: Record,
    master: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    signals: SignalPipe,
    log: Log,
    /// A record is due: something changed that the disk does not show.
    record_dirty: bool,
    record_written: Instant,
    /// The job's directory is gone (removed by hand): no record will ever
    /// be written again.
    record_gone: bool,
    clients: Vec<Client>,
    input: VecDeque<u8>,
    program: i32,
    /// The job's session holder: the program's parent, which reports its
    /// state changes (holder.rs says why it is not this process).
    holder: Holder,
    /// The program, watched for its end only, once its holder is gone.
    orphan: Option<OwnedFd>,
    /// The holder (or the orphan's pidfd) has news: the program's state
    /// is worth asking (a read per turn of a busy loop would be a system
    /// call wasted).
    child_news: bool,
    end: Option<End>,
    ended_at: Option<Instant>,
    /// When the master last gave us output (or the program ended).
    last_output: Instant,
    buf: Box<[u8]>,
    /// The job's screen as a terminal would show it (issue 16), fed from
    /// the log behind the relay.
    screen: Option<Screen>,
    catch_buf: Box<[u8]>,
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
    // Leaving without running the starting hupsafe's atexit handlers or
    // flushing its copy of stdio buffers.
    signal_hook::low_level::exit(code)
}

impl Supervisor {
    fn start(start: Start) -> Result<Supervisor, ()> {
        let Start {
            handover,
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
            screen,
        } = start;
        // What the program should inherit, saved before the supervisor
        // changes them for itself.
        let inherited = program::INHERITED.map(os::Saved::of);
        // SIGHUP stays ignored (the starting hupsafe set it before the
        // fork); writes to a gone client must not kill us (SIGPIPE), nor a
        // log over RLIMIT_FSIZE (SIGXFSZ: the write fails with EFBIG
        // instead and the bytes are counted as lost).
        for sig in [libc::SIGHUP, libc::SIGPIPE, libc::SIGXFSZ] {
            let _ = os::set_disposition(sig, Disposition::Ignore);
        }
        let fail = |record: &mut Record, job: &Job, why: String| {
            record.state = State::Failed;
            record.error = Some(why);
            record.ended_ms = Some(now_ms());
            record.writer = ProcId::current();
            let _ = job.write_record(record);
            let _ = std::fs::remove_file(job.sock_path());
        };
        let signals = match SignalPipe::install(&[libc::SIGTERM]) {
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
        let launch = Launch {
            job: &job.id,
            slave: &slave,
            stdio: &stdio,
            program: &program,
            argv0: &argv0,
            args: &args,
            strict: strict.as_ref(),
        };
        let (holder, program) = match Holder::spawn(&launch, &inherited) {
            Ok(started) => started,
            Err(e) => {
                fail(
                    &mut record,
                    &job,
                    format!("cannot start the program: {}", os_words(&e)),
                );
                return Err(());
            }
        };
        drop(slave);
        drop(stdio);
        let _ = os::set_nonblocking(&master);
        let _ = os::set_nonblocking(&listener);
        if let Some(first) = &first {
            let _ = os::set_nonblocking(first);
        }

        let log_reader = File::open(job.log_path()).ok();
        // The model reads the log: without a reader, no model.
        let screen = screen.filter(|_| log_reader.is_some()).map(|lines| {
            let ws = super::pty::winsize(&master);
            let (rows, cols) = ws.map_or((24, 80), |w| (w.ws_row, w.ws_col));
            Screen::new(cols, rows, lines)
        });
        let mut log = Log::new(log, log_reader);
        if let Some(max) = record.log_max {
            log = log.capped(job.log_path(), max);
        }
        let mut s = Supervisor {
            job,
            record,
            master: Some(master),
            listener: Some(listener),
            signals,
            log,
            record_dirty: false,
            record_written: Instant::now(),
            record_gone: false,
            clients: Vec::new(),
            input: VecDeque::with_capacity(INPUT_QUEUE),
            program: program.pid,
            holder,
            orphan: None,
            child_news: true,
            end: None,
            ended_at: None,
            last_output: Instant::now(),
            buf: vec![0; CHUNK].into_boxed_slice(),
            catch_buf: vec![0; if screen.is_some() { CATCH_UP_READ } else { 0 }].into_boxed_slice(),
            screen,
        };
        if let Some(first) = first {
            let mut first = Client::new(first, Mode::Live);
            // The pty was made its terminal's size.
            first.size = s.master.as_ref().and_then(super::pty::winsize);
            first.push(proto::WELCOME, &s.welcome());
            s.clients.push(first);
        }
        s.record.writer = ProcId::current();
        s.record.program = if program.start > 0 {
            Some(program)
        } else {
            ProcId::of(program.pid)
        };
        s.record.state = State::Running;
        s.record.attached = s.clients.len() as u32;
        // For the tests: a slow supervisor, so that the starter's wait for
        // its record ([`super::Handover`]) is seen to matter.
        if let Some(ms) = std::env::var("HUPSAFE_TEST_SUPERVISOR_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(Duration::from_millis(ms));
        }
        s.write_record();
        drop(handover);
        detach_from_starter(&s);
        shed_memory();
        Ok(s)
    }

    fn welcome(&self) -> Vec<u8> {
        let state = if self.record.state == State::Stopped {
            "stopped"
        } else {
            "running"
        };
        serde_json::json!({
            "id": self.job.id,
            "pid": self.program,
            "state": state,
            "screen": self.screen.is_some(),
            "terminal": true,
        })
        .to_string()
        .into_bytes()
    }

    /// Writes the record as it stands; whether it reached the disk.
    fn write_record(&mut self) -> bool {
        self.record.bytes_logged = self.log.end();
        self.record.log_dropped = self.log.first();
        self.record.attached = if self.record.state.is_final() {
            0
        } else {
            self.clients.iter().filter(|c| c.attached()).count() as u32
        };
        // A record that cannot be written (full disk without a spare,
        // deleted directory) changes nothing for the program; `ps` shows
        // the last one, and this one stays due: it is tried again every
        // RECORD_EVERY until it is written.
        let written = self.job.write_record(&self.record);
        self.record_gone = written
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        self.record_dirty = written.is_err() && !self.record_gone;
        self.record_written = Instant::now();
        written.is_ok()
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
            let mut idle = false;
            let (signals_ev, news_ev, master_ev, listener_ev, clients_ev, room) = {
                let ready = |p: &PollFd| p.revents();
                let mut fds = vec![PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN)];
                let news = self.orphan.as_ref().map(|o| o.as_fd()).or(self.holder.fd());
                let news_at = news.filter(|_| self.end.is_none()).map(|fd| {
                    fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
                    fds.len() - 1
                });
                let master_at = self.master.as_ref().and_then(|m| {
                    let mut ev = PollFlags::empty();
                    if !held {
                        ev |= PollFlags::IN;
                    }
                    if !self.input.is_empty() {
                        ev |= PollFlags::OUT;
                    }
                    // Held back with nothing to write: not watched at all,
                    // or a hung-up slave side (POLLHUP is always reported)
                    // would spin the loop until the clients catch up.
                    if ev.is_empty() {
                        return None;
                    }
                    fds.push(PollFd::new(m, ev));
                    Some(fds.len() - 1)
                });
                let listener_at = self.listener.as_ref().map(|l| {
                    fds.push(PollFd::new(l, PollFlags::IN));
                    fds.len() - 1
                });
                let clients_at = fds.len();
                for c in &self.clients {
                    let mut ev = PollFlags::empty();
                    if c.input.has_room() || c.closing.is_some() {
                        ev |= PollFlags::IN;
                    }
                    if c.wants_out() {
                        ev |= PollFlags::OUT;
                    }
                    fds.push(PollFd::new(&c.fd, ev));
                }
                let terminals_at = fds.len();
                let terminals = clients::watch_terminals(&self.clients, &mut fds);
                let timeout = match (self.model_wait(), self.timeout(held)) {
                    (Some(m), Some(t)) => Some(m.min(t)),
                    (m, t) => m.or(t),
                };
                match os::poll(&mut fds, timeout) {
                    Ok(0) => idle = true,
                    Ok(_) => {}
                    Err(_) => {
                        // Only EINVAL/ENOMEM: nothing sensible but to try again.
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                }
                (
                    ready(&fds[0]),
                    news_at.map(|i| ready(&fds[i])),
                    master_at.map(|i| ready(&fds[i])),
                    listener_at.map(|i| ready(&fds[i])),
                    fds[clients_at..terminals_at]
                        .iter()
                        .map(ready)
                        .collect::<Vec<_>>(),
                    clients::terminals_with_room(&terminals, &fds[terminals_at..]),
                )
            };
            for i in room {
                self.clients[i].flush();
            }

            // Only when the pipe has something (or poll was interrupted):
            // a read that finds nothing in every busy turn costs a flood.
            let sigs = if idle || signals_ev.contains(PollFlags::IN) {
                self.signals.take()
            } else {
                0
            };
            if idle || news_ev.is_some_and(|r| !r.is_empty()) {
                self.child_news = true;
            }
            if os::has(sigs, libc::SIGTERM) {
                // Asked to end the job: pass it on to the program, as
                // `hupsafe stop` would, and finish when it ends.
                self.signal_program(libc::SIGTERM);
                self.signal_program(libc::SIGCONT);
            }
            let incoming = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
            if let Some(r) = master_ev {
                if r.contains(PollFlags::OUT) {
                    self.write_input();
                }
                if r.intersects(incoming) {
                    self.read_output();
                }
            }
            if listener_ev.is_some_and(|r| r.contains(PollFlags::IN)) {
                self.accept();
            }
            for (i, &r) in clients_ev.iter().enumerate().take(self.clients.len()) {
                if r.intersects(incoming) {
                    self.read_client(i, r);
                }
                if r.contains(PollFlags::OUT) {
                    self.clients[i].flush();
                }
                self.clients[i].linger();
                self.refill(i);
            }
            if (idle && self.model_wait() == Some(Duration::ZERO)) || self.behind() > BACKLOG_MAX {
                self.catch_up(u64::MAX, CATCH_UP_BUDGET);
            }
            self.drop_stuck(held);
            let had_clients = !self.clients.is_empty();
            self.forget_dead();
            if had_clients && self.clients.is_empty() {
                // Serving a client touched code an idle job does not use.
                shed_memory();
            }
            if self.record_dirty && self.record_written.elapsed() >= RECORD_EVERY {
                self.write_record();
            }
        }
    }

    fn timeout(&self, held: bool) -> Option<Duration> {
        poll_timeout(
            self.ended_at.is_some(),
            self.record_dirty
                .then(|| RECORD_EVERY.saturating_sub(self.record_written.elapsed())),
            held || self
                .clients
                .iter()
                .any(|c| c.closing.is_some() || c.mode == Mode::Hello),
        )
    }

    /// Collects the program's state changes.
    fn reap(&mut self) {
        if self.end.is_some() || !std::mem::take(&mut self.child_news) {
            return;
        }
        if let Some(orphan) = &self.orphan {
            let mut fds = [PollFd::new(orphan, PollFlags::IN)];
            if matches!(os::poll(&mut fds, Some(Duration::ZERO)), Ok(1)) {
                self.ended(End::Lost);
            }
            return;
        }
        loop {
            let change = match self.holder.next() {
                News::Change(c) => c,
                News::Nothing => return,
                News::Gone => {
                    // Killed by hand: the program, if it still runs, is
                    // nobody's child of ours now; only its end can be
                    // watched.
                    self.holder.release();
                    let pid = rustix::process::Pid::from_raw(self.program);
                    let pidfd = pid.and_then(|p| {
                        rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                    });
                    match pidfd {
                        Some(fd) => self.orphan = Some(fd),
                        None => self.ended(End::Lost),
                    }
                    return;
                }
            };
            change.apply(&mut self.record);
            match change {
                Change::Stopped(sig) => {
                    self.write_record();
                    self.broadcast(proto::STOPPED, &(sig as u32).to_be_bytes());
                }
                Change::Continued => {
                    self.write_record();
                    self.broadcast(proto::CONTINUED, &[]);
                }
                Change::Ended(end) => {
                    self.ended(end);
                    return;
                }
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
        drained(
            self.ended_at.map(|at| at.elapsed()),
            self.master.is_some(),
            self.backpressure(),
            self.last_output.elapsed(),
        )
    }

    fn signal_program(&self, sig: i32) {
        if self.end.is_none() {
            // Our own child's process group (it leads it, so the group's
            // id is its pid).
            if let Some(sig) = os::signal(sig) {
                let _ = os::kill_group(self.program, sig);
            }
        }
    }

    /// How long the model may wait before parsing what it has not
    /// ([`model::wait`]).
    fn model_wait(&self) -> Option<Duration> {
        model::wait(self.behind(), self.last_output)
    }

    /// How many logged bytes the model has not parsed yet.
    fn behind(&self) -> u64 {
        model::behind(self.screen.as_ref(), &self.log)
    }

    /// Feeds the model from the log up to offset `until`, at most `budget`
    /// bytes (about: a feed ends on a line when it can).
    fn catch_up(&mut self, until: u64, budget: usize) {
        if let Some(screen) = self.screen.as_mut() {
            let buf = &mut self.catch_buf;
            model::catch_up(screen, &self.log, buf, self.last_output, until, budget);
        }
    }

    /// The final record, then the news to every client, then exit.
    fn finish(&mut self) {
        let _ = std::fs::remove_file(self.job.sock_path());
        self.listener = None;
        if let Some(end) = self.end {
            end.apply(&mut self.record);
        }
        self.record.ended_ms = Some(now_ms());
        self.log.flush();
        let mut written = self.write_record();
        if self.clients.iter().any(|c| c.drawn && c.attached()) {
            self.catch_up(u64::MAX, usize::MAX);
            clients::restore_drawn(&mut self.clients, self.screen.as_ref());
        }
        self.broadcast(proto::EXITED, &End::payload(self.end));
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.dead && !c.out.is_empty());
            if self.clients.is_empty() {
                break;
            }
            let mut fds: Vec<PollFd> = self
                .clients
                .iter()
                .filter(|c| c.wants_out())
                .map(|c| PollFd::new(&c.fd, PollFlags::OUT))
                .collect();
            clients::watch_terminals(&self.clients, &mut fds);
            let _ = os::poll(&mut fds, Some(Duration::from_millis(100)));
        }
        // The final record is the one thing `ps`, `stop` and scripts wait
        // for: without it the job would show as lost for ever. The spare
        // makes it fit on a full disk; failing that, it is tried until the
        // disk takes it (or the job's directory is gone).
        let mut pause = RECORD_EVERY;
        while !written && !self.record_gone {
            std::thread::sleep(pause);
            pause = (pause * 2).min(FINAL_RECORD_EVERY);
            written = self.write_record();
        }
        // Told once the record says how the job ended.
        if self.record.notify {
            ended::notify(&self.job, &self.record);
        }
        if let Some(cmd) = self.record.on_exit.clone() {
            ended::on_exit(&self.job, &self.record, &cmd);
        }
        // Last: the holder's leaving ends the job's session (the terminal's
        // foreground group, if anything is left in it, gets the SIGHUP a
        // session leader's exit sends).
        self.holder.release();
    }
}

/// How long the loop may wait for the descriptors: for ever, unless the
/// program has ended (`draining`: silence on the pty is watched for), a
/// record is due in `record_due`, or something is `waiting` on time (a
/// client held back or closing).
fn poll_timeout(draining: bool, record_due: Option<Duration>, waiting: bool) -> Option<Duration> {
    let mut t: Option<Duration> = None;
    let mut at_most = |d: Duration| t = Some(t.map_or(d, |t| t.min(d)));
    if draining {
        at_most(DRAIN_QUIET / 2);
    }
    if let Some(due) = record_due {
        at_most(due);
    }
    if waiting {
        at_most(Duration::from_millis(500));
    }
    // Whole milliseconds, at least one, as poll(2) counts them.
    t.map(|d| Duration::from_millis(d.as_millis().clamp(1, i32::MAX as u128) as u64))
}

/// Whether the relay is over: the program ended `since_end` ago and its
/// terminal is closed on every side (`master_open` false), or the pty has
/// been quiet for [`DRAIN_QUIET`] with no client holding the reading back
/// (`held`), or descendants that kept it have been relayed for
/// [`DRAIN_MAX`].
fn drained(since_end: Option<Duration>, master_open: bool, held: bool, quiet: Duration) -> bool {
    let Some(since_end) = since_end else {
        return false;
    };
    !master_open || since_end >= DRAIN_MAX || (!held && quiet >= DRAIN_QUIET)
}

/// The supervisor keeps nothing of the terminal session it came from: its
/// fds 0-2 go to /dev/null (the starting hupsafe's pipes must see end of
/// file when that hupsafe exits), other inherited descriptors are closed,
/// and it leaves the working directory (so it pins no mount).
fn detach_from_starter(s: &Supervisor) {
    let mut keep: Vec<RawFd> = vec![s.signals.fd().as_raw_fd()];
    keep.extend(s.log.fds());
    keep.extend(s.master.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(s.listener.as_ref().map(|f| f.as_raw_fd()));
    keep.extend(s.holder.fd().map(|f| f.as_raw_fd()));
    keep.extend(s.clients.iter().map(|c| c.fd.as_raw_fd()));
    detach_keeping(&keep);
}

/// Gives back the memory an idle supervisor does not use: what the starting
/// hupsafe left behind, and the code pages serving clients brought in
/// (bench/jobs.sh measures it: the variable is its baseline).
pub(in crate::relay) fn shed_memory() {
    if std::env::var_os(KEEP_INHERITED_VAR).is_none() {
        crate::sys::memory::shed();
    }
}

/// What [`detach_from_starter`] does, for any supervisor: every inherited
/// descriptor but `keep` (and 0-2) closed, 0-2 on /dev/null, cwd `/`.
pub(in crate::relay) fn detach_keeping(keep: &[RawFd]) {
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
            // SAFETY: F_GETFD only inspects a number (the listing's own
            // descriptor, closed by now, just fails); the one closed is
            // inherited and not close-on-exec, so no object of this process
            // owns it (ours all are close-on-exec). Safe wrappers (rustix,
            // OwnedFd) need a descriptor known to be open and owned, which
            // a number from /proc is not.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    libc::close(fd);
                }
            }
        }
    }
    stdio_to_null();
    let _ = rustix::process::chdir("/");
}

/// fds 0-2 on /dev/null (the starting hupsafe's terminal or pipes must not
/// be held, and nothing opened later may take their numbers).
pub(in crate::relay) fn stdio_to_null() {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null");
    if let Ok(null) = null {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
        if null.as_raw_fd() <= 2 {
            // It is one of 0-2 now: keep it open.
            let _ = null.into_raw_fd();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_loop_sleeps_for_ever_unless_something_is_due() {
        assert_eq!(poll_timeout(false, None, false), None);
        assert_eq!(poll_timeout(true, None, false), Some(50 * MS));
        assert_eq!(poll_timeout(false, None, true), Some(500 * MS));
        assert_eq!(poll_timeout(false, Some(300 * MS), true), Some(300 * MS));
        assert_eq!(poll_timeout(true, Some(300 * MS), true), Some(50 * MS));
        // Due now, or in less than a millisecond: poll still waits one, so
        // the loop does not spin.
        assert_eq!(poll_timeout(false, Some(Duration::ZERO), false), Some(MS));
        assert_eq!(
            poll_timeout(false, Some(Duration::from_micros(300)), false),
            Some(MS)
        );
    }

    #[test]
    fn the_relay_ends_once_the_pty_is_closed_quiet_or_drained_too_long() {
        let quiet = DRAIN_QUIET;
        let busy = Duration::ZERO;
        // Running: never.
        assert!(!drained(None, false, false, quiet));
        // Ended, every holder of the terminal gone.
        assert!(drained(Some(busy), false, true, busy));
        // Ended, a descendant still writes: until DRAIN_MAX.
        assert!(!drained(Some(DRAIN_MAX - MS), true, false, busy));
        assert!(drained(Some(DRAIN_MAX), true, false, busy));
        // Ended and quiet.
        assert!(drained(Some(busy), true, false, quiet));
        // Quiet only because a client holds the reading back: not yet.
        assert!(!drained(Some(busy), true, true, quiet));
        assert!(!drained(Some(busy), true, false, quiet - MS));
    }
}
