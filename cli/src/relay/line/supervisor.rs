//! A protected line's supervisor: holds the line's pty master, logs what
//! the line writes, copies it to the user's terminal while it is there,
//! serves `attach` and `line end` on the job's socket, and ends when
//! nothing holds the line's terminal any more. Clients, their queues, the
//! log and the screen model (drawn on attach, as for a program's job) are
//! the relay supervisor's own ([`super::super::supervisor`]).

use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use rustix::process::Pid;

use super::super::os::{self, Disposition, PollFd, PollFlags, SignalPipe};
use super::super::proto;
use super::super::pty;
use super::super::supervisor::clients::{
    redraw, refill, refusal, restore_and_close, restore_drawn, start_drawn, terminals_with_room,
    watch_terminals, Client, Mode,
};
use super::super::supervisor::log::Log;
use super::super::supervisor::model::{self, BACKLOG_MAX, CATCH_UP_BUDGET, CATCH_UP_READ};
use super::super::supervisor::screen::Screen;
use super::super::supervisor::{detach_keeping, shed_memory, MAX_CLIENTS};
use super::{SYNC, SYNCED, SYNC_PATIENCE};
use crate::error::{os_words, Result};
use crate::registry::{now_ms, Job, ProcId, Record, State};

/// Output held for the user's terminal before the line is slowed down, as
/// a terminal would.
const SCREEN_QUEUE: usize = 64 * 1024;
/// Bytes of log an attaching client may replay.
const MAX_REPLAY: u64 = 128 * 1024;

/// Signals `hupsafe signal`/`stop` send the supervisor (the job's
/// recorded program), passed on to the line's processes.
const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGCONT,
];

/// What `line start` hands the supervisor.
pub struct Parts {
    /// Closed once the supervisor's record is written: `line start` waits
    /// for it ([`super::super::Handover`]); `None` for a standby taking its
    /// line (the record is its own already).
    pub handover: Option<OwnedFd>,
    pub job: Job,
    pub record: Record,
    pub pair: pty::Pair,
    pub listener: OwnedFd,
    /// The shell's `sync` and `ack` FIFOs.
    pub sync_fifo: OwnedFd,
    pub ack_fifo: OwnedFd,
    pub log: File,
    /// The log again, for replays.
    pub reader: Option<File>,
    pub screen: Option<OwnedFd>,
    /// The user's terminal modes when the line started.
    pub modes: Option<pty::Termios>,
    /// The screen model's scrollback in lines; `None`: no model (attach
    /// replays the end of the log instead).
    pub scrollback: Option<usize>,
    pub shell: Option<ProcId>,
    /// Already off the starter's stdio and directory (a standby is).
    pub detached: bool,
}

/// Starts the supervisor in a process of its own; returns here once it is
/// on its way.
pub fn spawn(mut parts: Parts) -> Result<()> {
    let (handover, supervisor_end) = super::super::Handover::new()?;
    parts.handover = Some(supervisor_end);
    if super::super::fork_supervisor(true)? {
        drop(handover);
        run(parts)
    }
    // Our copies of the pty, the socket and the FIFOs close here.
    drop(parts);
    handover.wait();
    Ok(())
}

/// Makes this process the line's supervisor (a standby taking its line
/// does this; `spawn` in a new process).
pub fn run(parts: Parts) -> ! {
    let code = match Supervisor::new(parts) {
        Ok(mut s) => {
            s.relay();
            s.finish();
            0
        }
        Err(()) => 1,
    };
    signal_hook::low_level::exit(code)
}

/// A `line end` waiting for the output to reach the user's terminal.
struct Sync {
    /// The client to answer, or `None` for the shell's FIFO.
    client: Option<usize>,
    /// Shown once this many bytes have been written to the terminal in
    /// all (output that comes later, from a background part of the line,
    /// does not hold the prompt back).
    upto: u64,
    deadline: Instant,
}

struct Supervisor {
    job: Job,
    record: Record,
    master: OwnedFd,
    /// Held until the shell is done with the line, so the terminal does
    /// not hang up between `line start` and the shell opening it.
    slave: Option<OwnedFd>,
    tty: String,
    listener: Option<OwnedFd>,
    /// The shell's end of the line: status lines in, `ok` out.
    sync_fifo: OwnedFd,
    ack_fifo: OwnedFd,
    fifo_in: Vec<u8>,
    signals: SignalPipe,
    log: Log,
    screen: Option<OwnedFd>,
    /// The user's terminal modes when the line started: the shell is told
    /// when the line changed them (see `answer_syncs`).
    modes: Option<pty::Termios>,
    screen_out: VecDeque<u8>,
    /// Bytes written to the user's terminal so far.
    screen_written: u64,
    clients: Vec<Client>,
    syncs: Vec<Sync>,
    shell: Option<ProcId>,
    status: Option<i32>,
    /// The user's terminal size last given to the line's.
    size: Option<(u16, u16, u16, u16)>,
    buf: Box<[u8]>,
    /// Memory given back since the last client left (see `relay`).
    shed: bool,
    /// The line's screen as a terminal would show it (not the user's
    /// terminal, `screen`), fed from the log behind the relay. Made the
    /// first time it is needed (`ensure_model`), never on the way from
    /// the shell's Enter to the line's start: a line that ends quickly
    /// never has one.
    model: Option<Screen>,
    /// The model's scrollback, `None`: no model.
    scrollback: Option<usize>,
    /// The model's reads of the log (empty until it is made).
    catch_buf: Box<[u8]>,
    /// When the line last wrote.
    last_output: Instant,
}

impl Supervisor {
    fn new(parts: Parts) -> std::result::Result<Supervisor, ()> {
        let Parts {
            handover,
            job,
            mut record,
            pair,
            listener,
            sync_fifo,
            ack_fifo,
            log,
            reader,
            screen,
            modes,
            scrollback,
            shell,
            detached,
        } = parts;
        for sig in [
            libc::SIGHUP,
            libc::SIGPIPE,
            libc::SIGXFSZ,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            let _ = os::set_disposition(sig, Disposition::Ignore);
        }
        let signals = match SignalPipe::install(&FORWARDED) {
            Ok(s) => s,
            Err(e) => {
                record.state = State::Failed;
                record.error = Some(format!("cannot watch signals: {}", os_words(&e)));
                record.ended_ms = Some(now_ms());
                let _ = job.write_record(&record);
                let _ = std::fs::remove_file(job.sock_path());
                return Err(());
            }
        };
        let _ = os::set_nonblocking(&pair.master);
        let _ = os::set_nonblocking(&listener);
        record.writer = ProcId::current();
        // `stop` and `signal` reach the line through the supervisor, which
        // leads a process group of its own.
        record.program = ProcId::current();
        record.state = State::Running;
        let tty = record.tty.clone().unwrap_or_default();
        let mut log = Log::new(log, reader);
        if let Some(max) = record.log_max {
            log = log.capped(job.log_path(), max);
        }
        let s = Supervisor {
            job,
            record,
            master: pair.master,
            slave: Some(pair.slave),
            tty,
            listener: Some(listener),
            sync_fifo,
            ack_fifo,
            fifo_in: Vec::new(),
            signals,
            log,
            screen,
            modes,
            screen_out: VecDeque::with_capacity(SCREEN_QUEUE),
            screen_written: 0,
            clients: Vec::new(),
            syncs: Vec::new(),
            shell,
            status: None,
            size: None,
            buf: vec![0; 16 * 1024].into_boxed_slice(),
            shed: false,
            model: None,
            scrollback,
            catch_buf: Box::default(),
            last_output: Instant::now(),
        };
        // The shell's command substitution waits for our stdout to close:
        // first that, then the record (a rename over the old one, which
        // ext4 may flush).
        let mut keep: Vec<RawFd> = vec![
            s.signals.fd().as_raw_fd(),
            s.master.as_raw_fd(),
            s.sync_fifo.as_raw_fd(),
            s.ack_fifo.as_raw_fd(),
        ];
        keep.extend(s.log.fds());
        keep.extend(s.slave.as_ref().map(|f| f.as_raw_fd()));
        keep.extend(s.listener.as_ref().map(|f| f.as_raw_fd()));
        keep.extend(s.screen.as_ref().map(|f| f.as_raw_fd()));
        if !detached {
            detach_keeping(&keep);
        }
        let _ = s.job.write_record(&s.record);
        drop(handover);
        Ok(s)
    }

    /// The line's terminal takes the size of the user's, which the line's
    /// processes cannot be told about otherwise (they get SIGWINCH from
    /// the user's terminal, and ask theirs for the size); once the user's
    /// terminal is gone, the size of the attached clients'.
    fn follow_size(&mut self) {
        let Some(s) = &self.screen else {
            self.follow_clients(None);
            return;
        };
        let Some(ws) = pty::winsize(s) else {
            return;
        };
        let now = (ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel);
        if self.size != Some(now) {
            self.size = Some(now);
            self.resize(&ws, None);
        }
    }

    /// Without the user's terminal, the line's takes the size of the most
    /// recently active client that told its size (as a program's job
    /// does), not redrawing client `resized` (whose own terminal just took
    /// it).
    fn follow_clients(&mut self, resized: Option<usize>) {
        if self.screen.is_some() {
            return;
        }
        let latest = self
            .clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.attached() && c.closing.is_none())
            .filter_map(|(i, c)| Some((i, c.size?, c.active)))
            .max_by_key(|&(_, _, active)| active);
        if let Some((i, ws, _)) = latest {
            self.resize(&ws, resized.filter(|&r| r == i));
        }
    }

    /// The line's terminal takes size `ws` (the user's terminal's, or a
    /// client's): the model lays out what came before at the old size,
    /// then takes the new one, and every client but `except` (whose own
    /// terminal just took it) is redrawn.
    fn resize(&mut self, ws: &pty::Winsize, except: Option<usize>) {
        let now = pty::winsize(&self.master);
        let same = now.is_some_and(|n| (n.ws_row, n.ws_col) == (ws.ws_row, ws.ws_col));
        if !same {
            self.ensure_model();
            self.catch_up(u64::MAX, usize::MAX);
            if let Some(m) = self.model.as_mut() {
                m.resize(ws.ws_col, ws.ws_row);
            }
        }
        let _ = pty::set_winsize(&self.master, ws);
        if let Some(m) = self.model.as_mut().filter(|_| !same) {
            redraw(&mut self.clients, m, except, &self.log, &mut self.buf);
        }
    }

    /// Makes the model (if the line has one) at the line's terminal's
    /// size; it then parses the log from its start.
    fn ensure_model(&mut self) {
        let Some(lines) = self.scrollback.filter(|_| self.model.is_none()) else {
            return;
        };
        let ws = pty::winsize(&self.master);
        let (rows, cols) = ws.map_or((24, 80), |w| (w.ws_row, w.ws_col));
        self.model = Some(Screen::new(cols, rows, lines));
        self.catch_buf = vec![0; CATCH_UP_READ].into_boxed_slice();
    }

    /// Feeds the model from the log ([`model::catch_up`]).
    fn catch_up(&mut self, until: u64, budget: usize) {
        if let Some(m) = self.model.as_mut() {
            let buf = &mut self.catch_buf;
            model::catch_up(m, &self.log, buf, self.last_output, until, budget);
        }
    }

    /// The model's share of a turn of the loop (`idle`: nothing was
    /// ready): made once the shell waits for nothing and there is output
    /// to parse, then fed in batches, as the program supervisor does.
    fn tend_model(&mut self, idle: bool) {
        let wanted = self.scrollback.is_some() && self.model.is_none();
        let output = self.log.end();
        if wanted && self.syncs.is_empty() && output > 0 && (idle || output >= CATCH_UP_READ as u64)
        {
            self.ensure_model();
        }
        let behind = model::behind(self.model.as_ref(), &self.log);
        let due = model::wait(behind, self.last_output) == Some(Duration::ZERO);
        if (idle && due) || behind > BACKLOG_MAX {
            self.catch_up(u64::MAX, CATCH_UP_BUDGET);
        }
    }

    fn relay(&mut self) {
        loop {
            if self.slave.is_some() && self.shell.as_ref().is_some_and(|p| !p.is_alive()) {
                // The shell went away without ending the line.
                self.slave = None;
            }
            self.follow_size();
            let held =
                self.screen_out.len() >= SCREEN_QUEUE || self.clients.iter().any(Client::is_full);
            // Wakes now and then to follow the terminal's size and the
            // shell's life.
            let timeout = Duration::from_millis(if self.syncs.is_empty() { 250 } else { 20 });
            let behind = model::behind(self.model.as_ref(), &self.log);
            let timeout = model::wait(behind, self.last_output).map_or(timeout, |w| w.min(timeout));
            let mut idle = false;
            let (master, screen, listener, fifo, clients, room) = {
                let ready = |p: &PollFd| p.revents();
                let mut fds = vec![PollFd::from_borrowed_fd(self.signals.fd(), PollFlags::IN)];
                let master_at = (!held).then(|| {
                    fds.push(PollFd::new(&self.master, PollFlags::IN));
                    fds.len() - 1
                });
                // Watched with nothing to write too: its hangup (always
                // reported) tells the line's terminal to follow the
                // clients' size from then on.
                let screen_at = self.screen.as_ref().map(|s| {
                    let ev = if self.screen_out.is_empty() {
                        PollFlags::empty()
                    } else {
                        PollFlags::OUT
                    };
                    fds.push(PollFd::new(s, ev));
                    fds.len() - 1
                });
                let listener_at = self.listener.as_ref().map(|l| {
                    fds.push(PollFd::new(l, PollFlags::IN));
                    fds.len() - 1
                });
                fds.push(PollFd::new(&self.sync_fifo, PollFlags::IN));
                let fifo_at = fds.len() - 1;
                let clients_at = fds.len();
                for c in &self.clients {
                    let mut ev = PollFlags::IN;
                    if c.wants_out() {
                        ev |= PollFlags::OUT;
                    }
                    fds.push(PollFd::new(&c.fd, ev));
                }
                let terminals_at = fds.len();
                let terminals = watch_terminals(&self.clients, &mut fds);
                match os::poll(&mut fds, Some(timeout)) {
                    Ok(0) => idle = true,
                    Ok(_) => {}
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                }
                (
                    master_at.map(|i| ready(&fds[i])),
                    screen_at.map(|i| ready(&fds[i])),
                    listener_at.map(|i| ready(&fds[i])),
                    ready(&fds[fifo_at]),
                    fds[clients_at..terminals_at]
                        .iter()
                        .map(ready)
                        .collect::<Vec<_>>(),
                    terminals_with_room(&terminals, &fds[terminals_at..]),
                )
            };
            for i in room {
                self.clients[i].flush();
            }
            let sigs = self.signals.take();
            for sig in FORWARDED {
                if os::has(sigs, sig) {
                    self.signal_line(sig);
                    if sig == libc::SIGTERM {
                        self.signal_line(libc::SIGCONT);
                    }
                }
            }
            if master.is_some_and(|r| !r.is_empty()) && self.read_master() {
                return;
            }
            if screen.is_some_and(|r| r.intersects(PollFlags::HUP | PollFlags::ERR)) {
                // The user's terminal hung up: the line goes on, into the
                // log only.
                self.screen = None;
                self.screen_out.clear();
            } else if screen.is_some_and(|r| !r.is_empty()) {
                self.write_screen();
            }
            if listener.is_some_and(|r| r.contains(PollFlags::IN)) {
                self.accept();
            }
            if fifo.contains(PollFlags::IN) {
                self.read_fifo();
            }
            let incoming = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
            for (i, &r) in clients.iter().enumerate().take(self.clients.len()) {
                if r.intersects(incoming) {
                    self.read_client(i);
                }
                if r.contains(PollFlags::OUT) {
                    self.clients[i].flush();
                }
                self.clients[i].linger();
                refill(&mut self.clients[i], &self.log, &mut self.buf);
            }
            self.answer_syncs();
            self.forget_dead();
            self.tend_model(idle);
            if idle && !self.shed {
                // A quiet turn: what the start left behind (and what
                // serving a client brought in) goes back, once per quiet
                // spell; a line can outlive its terminal by days.
                shed_memory();
                self.shed = true;
            }
        }
    }

    /// Reads what the line wrote; true when the line's terminal has
    /// nobody left on its side (the line is over).
    fn read_master(&mut self) -> bool {
        loop {
            if self.screen_out.len() >= SCREEN_QUEUE && self.syncs.is_empty() {
                return false;
            }
            match os::read(&self.master, &mut self.buf) {
                Ok(0) => return self.slave.is_none(),
                Ok(n) => {
                    self.last_output = Instant::now();
                    let chunk = self.buf[..n].to_vec();
                    self.output(&chunk);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                // EIO: every slave descriptor is closed.
                Err(_) => return self.slave.is_none(),
            }
        }
    }

    fn output(&mut self, chunk: &[u8]) {
        // The model reads the log: it must have read what a rotation is
        // about to drop (made now if it is not yet).
        let kept = self.log.first_after(chunk.len());
        if self.scrollback.is_some() && kept > self.model.as_ref().map_or(0, |m| m.parsed) {
            self.ensure_model();
            self.catch_up(kept, usize::MAX);
        }
        let appended = self.log.append(chunk);
        if let Some(why) = appended.error {
            self.record.bytes_lost += (chunk.len() - appended.written) as u64;
            self.record.log_error = Some(why);
        }
        if appended.written < chunk.len() && self.scrollback.is_some() {
            // Not in the log, still on the screen: fed now, in order.
            self.ensure_model();
            self.catch_up(u64::MAX, usize::MAX);
            if let Some(m) = self.model.as_mut() {
                m.feed(&chunk[appended.written..]);
            }
        }
        if self.screen.is_some() {
            self.screen_out.extend(chunk);
        }
        for c in self.clients.iter_mut().filter(|c| c.mode == Mode::Live) {
            for part in chunk.chunks(proto::MAX_PAYLOAD) {
                c.push(proto::OUTPUT, part);
            }
        }
        self.write_screen();
    }

    fn write_screen(&mut self) {
        let Some(s) = &self.screen else {
            self.screen_out.clear();
            return;
        };
        while !self.screen_out.is_empty() {
            let (a, _) = self.screen_out.as_slices();
            match os::write(s, a) {
                Ok(n) if n > 0 => {
                    self.screen_out.drain(..n);
                    self.screen_written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                // EIO: the user's terminal hung up. The line goes on, into
                // the log only.
                _ => {
                    self.screen = None;
                    self.screen_out.clear();
                    return;
                }
            }
        }
    }

    fn accept(&mut self) {
        let Some(l) = &self.listener else {
            return;
        };
        while let Ok(fd) = os::accept(l) {
            if self.clients.len() >= 2 * MAX_CLIENTS {
                continue;
            }
            let me = rustix::process::geteuid().as_raw();
            let staying = self.clients.iter().filter(|c| c.closing.is_none()).count();
            let c = match refusal(&self.job.id, me, os::peer_uid(&fd), staying) {
                Some(why) => Client::refused(fd, &why),
                None => Client::new(fd, Mode::Hello),
            };
            self.clients.push(c);
        }
    }

    fn read_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        if c.closing.is_some() {
            // What a client sent away still says is dropped; its end of
            // file ends it.
            let mut scratch = [0u8; 1024];
            match os::read(&c.fd, &mut scratch) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 => {}
                _ => c.dead = true,
            }
            return;
        }
        match c.input.fill_keeping_fd(&c.fd, &mut c.passed) {
            Ok(0) => c.dead = true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => c.dead = true,
        }
        loop {
            let (kind, payload) = match self.clients[i].input.peek() {
                Ok(Some((k, p))) => (k, p.to_vec()),
                Ok(None) => return,
                Err(_) => {
                    self.clients[i].dead = true;
                    return;
                }
            };
            self.clients[i].input.consume();
            match kind {
                // `line end` says no hello.
                SYNC => {
                    let status = proto::u32_at(&payload, 0).map(|s| s as i32);
                    self.sync(Some(i), status);
                }
                proto::HELLO if self.clients[i].mode == Mode::Hello => self.hello(i, &payload),
                _ if self.clients[i].mode == Mode::Hello => {}
                k if self.clients[i].on_terminal_frame(k) => {}
                proto::INPUT => {
                    let _ = os::write(&self.master, &payload);
                    self.clients[i].active = Instant::now();
                }
                proto::RESIZE => {
                    if let Some(ws) = proto::parse_resize(&payload) {
                        // While the user's terminal is there, the line's
                        // keeps its size; after, a client's terminal that
                        // changed size reflowed what it shows, and the line
                        // redraws for it (SIGWINCH).
                        let resized = self.clients[i].resize(ws);
                        self.follow_clients(resized.then_some(i));
                    }
                }
                proto::SIGNAL => {
                    if let Some(sig) = proto::u32_at(&payload, 0) {
                        let sig = sig as i32;
                        if (1..=libc::SIGRTMAX()).contains(&sig) {
                            self.signal_line(sig);
                        }
                    }
                }
                proto::DETACH => {
                    self.catch_up(u64::MAX, usize::MAX);
                    match &self.model {
                        Some(m) => restore_and_close(&mut self.clients[i], m),
                        None => self.clients[i].dead = true,
                    }
                }
                _ => {}
            }
        }
    }

    /// The shell is done with the line (or its foreground part).
    fn sync(&mut self, client: Option<usize>, status: Option<i32>) {
        if status.is_some() {
            self.status = status;
        }
        // Everything written so far, out of the pty (uncapped while a
        // sync waits).
        self.syncs.push(Sync {
            client,
            upto: u64::MAX,
            deadline: Instant::now() + SYNC_PATIENCE,
        });
        let _ = self.read_master();
        let upto = self.screen_written + self.screen_out.len() as u64;
        if let Some(s) = self.syncs.last_mut() {
            s.upto = upto;
        }
    }

    /// Status lines from the shell's FIFO.
    fn read_fifo(&mut self) {
        let mut buf = [0u8; 256];
        while let Ok(n) = os::read(&self.sync_fifo, &mut buf) {
            if n == 0 {
                break;
            }
            self.fifo_in.extend_from_slice(&buf[..n]);
        }
        while let Some(at) = self.fifo_in.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.fifo_in.drain(..=at).collect();
            let status = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| l.trim().parse::<i32>().ok());
            self.sync(None, status);
        }
        if self.fifo_in.len() > 1024 {
            self.fifo_in.clear();
        }
    }

    fn hello(&mut self, i: usize, payload: &[u8]) {
        let version = proto::u32_at(payload, 0).unwrap_or(0);
        if version != proto::VERSION {
            let why = format!(
                "job {} runs under a hupsafe speaking relay protocol {}, this one speaks {version}",
                self.job.id,
                proto::VERSION
            );
            self.clients[i].push(proto::ERROR, why.as_bytes());
            self.clients[i].close_soon();
            return;
        }
        let replay = (proto::u32_at(payload, 4).unwrap_or(0) as u64).min(MAX_REPLAY);
        let welcome = serde_json::json!({
            "id": self.job.id,
            "pid": std::process::id(),
            "state": "running",
            "screen": self.scrollback.is_some(),
            "terminal": true,
        })
        .to_string();
        self.ensure_model();
        self.catch_up(u64::MAX, usize::MAX);
        if let Some(m) = self.model.as_mut() {
            start_drawn(&mut self.clients[i], welcome.as_bytes(), m);
        } else {
            let from = self.log.end().saturating_sub(replay);
            let c = &mut self.clients[i];
            c.push(proto::WELCOME, welcome.as_bytes());
            c.mode = Mode::Replay(from);
        }
        self.shed = false;
        self.clients[i].active = Instant::now();
        refill(&mut self.clients[i], &self.log, &mut self.buf);
        self.record.attached = self.clients.iter().filter(|c| c.attached()).count() as u32;
        let _ = self.job.write_record(&self.record);
    }

    /// Answers each `line end` once the output is on the user's terminal
    /// (or the terminal is gone, or it would not take it in time); the
    /// shell is then done with the line, and the slave is let go.
    fn answer_syncs(&mut self) {
        if self.syncs.is_empty() {
            return;
        }
        self.write_screen();
        let now = Instant::now();
        let mut i = 0;
        while i < self.syncs.len() {
            let shown = self.screen.is_none() || self.screen_written >= self.syncs[i].upto;
            if shown || now >= self.syncs[i].deadline {
                let s = self.syncs.remove(i);
                match s.client {
                    Some(c) => {
                        if let Some(c) = self.clients.get_mut(c) {
                            c.push(SYNCED, &[]);
                            c.flush();
                        }
                    }
                    None => {
                        // `ok modes`: the line changed the user's terminal
                        // modes (`stty`), which zsh keeps only if it reads
                        // them again (shell/README.md).
                        let changed = match (&self.modes, &self.screen) {
                            (Some(was), Some(s)) => {
                                pty::termios(s).is_some_and(|now| !pty::same_modes(was, &now))
                            }
                            _ => false,
                        };
                        let ack: &[u8] = if changed { b"ok modes\n" } else { b"ok\n" };
                        let _ = os::write(&self.ack_fifo, ack);
                    }
                }
                self.slave = None;
                let _ = self.job.write_record(&self.record);
            } else {
                i += 1;
            }
        }
    }

    fn forget_dead(&mut self) {
        if !self.clients.iter().any(|c| c.dead) {
            return;
        }
        // Serving a client brought code back in: give it back when quiet.
        self.shed = false;
        // Sync requests point at clients by index: keep them right.
        let mut map = Vec::with_capacity(self.clients.len());
        let mut next = 0;
        for c in &self.clients {
            map.push((!c.dead).then(|| {
                next += 1;
                next - 1
            }));
        }
        self.syncs.retain_mut(|s| match s.client {
            None => true,
            Some(c) => match map[c] {
                Some(n) => {
                    s.client = Some(n);
                    true
                }
                None => false,
            },
        });
        self.clients.retain(|c| !c.dead);
        let after = self.clients.iter().filter(|c| c.attached()).count();
        if after != self.record.attached as usize {
            self.record.attached = after as u32;
            let _ = self.job.write_record(&self.record);
        }
    }

    /// Sends `sig` to the process groups of everything that has the line's
    /// terminal as fd 0, 1 or 2, except the shell's and our own.
    fn signal_line(&self, sig: i32) {
        let Some(sig) = os::signal(sig) else {
            return;
        };
        let group_of = |pid: i32| crate::sys::proc::stat(pid).ok().map(|s| s.pgrp);
        let shell_pgid = self.shell.as_ref().and_then(|p| group_of(p.pid));
        let me = std::process::id() as i32;
        let mut groups: Vec<i32> = Vec::new();
        for pid in crate::sys::proc::holding_as_stdio(&self.tty) {
            let Some(g) = group_of(pid) else { continue };
            if g > 1 && g != me && Some(g) != shell_pgid && !groups.contains(&g) {
                groups.push(g);
            }
        }
        for g in groups {
            if let Some(g) = Pid::from_raw(g) {
                let _ = rustix::process::kill_process_group(g, sig);
            }
        }
    }

    fn finish(&mut self) {
        // The last output reaches the terminal before the socket goes: a
        // shell that finds no socket knows the line's output is shown.
        let deadline = Instant::now() + SYNC_PATIENCE;
        while !self.screen_out.is_empty() && Instant::now() < deadline {
            self.write_screen();
            if let Some(s) = &self.screen {
                let mut p = [PollFd::new(s, PollFlags::OUT)];
                let _ = os::poll(&mut p, Some(Duration::from_millis(50)));
            }
        }
        let _ = std::fs::remove_file(self.job.sock_path());
        self.listener = None;
        self.log.flush();
        self.record.state = State::Exited;
        self.record.exit_code = self.status;
        self.record.ended_ms = Some(now_ms());
        self.record.bytes_logged = self.log.end();
        self.record.log_dropped = self.log.first();
        self.record.attached = 0;
        let _ = self.job.write_record(&self.record);
        if self.clients.iter().any(|c| c.drawn && c.attached()) {
            self.catch_up(u64::MAX, usize::MAX);
            restore_drawn(&mut self.clients, self.model.as_ref());
        }
        let mut payload = vec![0u8];
        payload.extend((self.status.unwrap_or(0) as u32).to_be_bytes());
        for c in self.clients.iter_mut().filter(|c| c.attached()) {
            c.push(proto::EXITED, &payload);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            for c in &mut self.clients {
                c.flush();
            }
            self.clients.retain(|c| !c.dead && !c.out.is_empty());
            if self.clients.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
