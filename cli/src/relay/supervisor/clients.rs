//! The job's clients: connections accepted on its socket, each with a
//! bounded queue of frames (a client that cannot keep up holds back the
//! reading of the pty, one that makes no progress at all is dropped), and
//! what they ask for (keys, resizes, continue, signals, detach).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use super::super::os::{self, PollFd, PollFlags, Signal};
use super::super::proto::{self, Decoder};
use super::super::pty;
use super::log::Log;
use super::screen::{Screen, PUSH_TITLE};
use super::{Supervisor, CHUNK, INPUT_QUEUE, MAX_CLIENTS, STUCK_AFTER};
use crate::error::os_words;

/// Each client's queue of frames not yet sent.
const CLIENT_QUEUE: usize = 64 * 1024;
/// Control frames may exceed the queue by this much before the client is
/// considered stuck.
const CONTROL_SLACK: usize = 4 * 1024;
/// How long a connection may take to say hello. Until it does, it is
/// nobody: it does not count as attached, and it must not keep anyone out.
pub const HELLO_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a refused client may take to read why.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// How often the supervisor looks whether a client whose terminal it
/// writes to is stopped (SIGSTOP gives it no chance to take it back).
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum Mode {
    /// Connected, has not said hello yet.
    Hello,
    /// Catching up from the log, from this offset.
    Replay(u64),
    /// Gets output as it comes.
    Live,
}

/// One connection to the job's socket.
pub struct Client {
    pub fd: OwnedFd,
    pub input: Decoder,
    pub out: VecDeque<u8>,
    pub mode: Mode,
    /// When the queue last moved (or became non-empty).
    pub progress: Instant,
    /// Refused or sent away, since then: what is queued is still sent,
    /// what comes in is discarded, then the socket is closed. Closing at
    /// once with unread input would reset the connection, and the peer
    /// would never read why.
    pub closing: Option<Instant>,
    /// Just attached: its first window size comes with a SIGWINCH even if
    /// the size did not change, so full-screen programs redraw for it.
    pub fresh: bool,
    pub dead: bool,
    /// When it connected: one that has not said hello within
    /// [`HELLO_WITHIN`] is dropped.
    pub since: Instant,
    /// A drawing of the job's screen still to send (and how much of it is
    /// sent), before the log from `Mode::Replay`'s offset.
    pub render: Option<(Vec<u8>, usize)>,
    /// Its terminal showed a drawing of the model: it gets the restore
    /// sequence when the job ends.
    pub drawn: bool,
    /// Its terminal's size, once told.
    pub size: Option<pty::Winsize>,
    /// When it last typed (or attached): the pty's size follows the most
    /// recently active client, as tmux's "latest".
    pub active: Instant,
    /// A descriptor passed with what was read last, until a
    /// [`proto::TERMINAL`] frame claims it.
    pub passed: Option<OwnedFd>,
    /// The client's terminal, if it lent it: the output is written there
    /// rather than sent through the socket.
    terminal: Terminal,
    /// Bytes still to send of a frame sent in part (while frames are sorted
    /// between socket and terminal; 0 between frames).
    rest: usize,
    /// Why the queue cannot move until something happens.
    stall: Option<Stall>,
    /// The client's pid (SO_PEERCRED), to see it stopped.
    peer: Option<i32>,
    /// When [`Client::peer_stopped`] last looked.
    looked: Option<Instant>,
}

/// Where the client's output goes.
enum Terminal {
    /// Through the socket (the client writes it).
    Socket,
    /// Lent, and [`proto::TAKEN`] queued, which ends `at` bytes into the
    /// queue: everything up to it still goes through the socket.
    Offered { fd: OwnedFd, at: usize },
    /// TAKEN sent: output waits until the client says it has written what
    /// came before.
    Waiting(OwnedFd),
    /// Written to the terminal here.
    Held(OwnedFd),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stall {
    /// The terminal is full.
    Terminal,
    /// Output for the terminal, waiting for [`proto::READY`].
    Ready,
}

impl Client {
    /// Takes the size its terminal reports; whether that changed from a
    /// size it had reported before (its terminal reflowed what it shows).
    pub fn resize(&mut self, ws: pty::Winsize) -> bool {
        let resized = self
            .size
            .is_some_and(|p| (p.ws_row, p.ws_col) != (ws.ws_row, ws.ws_col));
        self.size = Some(ws);
        resized
    }

    pub fn new(fd: OwnedFd, mode: Mode) -> Client {
        Client {
            input: Decoder::default(),
            out: VecDeque::with_capacity(CLIENT_QUEUE),
            mode,
            progress: Instant::now(),
            closing: None,
            fresh: false,
            dead: false,
            since: Instant::now(),
            render: None,
            drawn: false,
            size: None,
            active: Instant::now(),
            passed: None,
            terminal: Terminal::Socket,
            rest: 0,
            stall: None,
            peer: rustix::net::sockopt::socket_peercred(&fd)
                .ok()
                .map(|c| c.pid.as_raw_nonzero().get()),
            looked: None,
            fd,
        }
    }

    /// A client told `why` it cannot stay, then closed.
    pub fn refused(fd: OwnedFd, why: &str) -> Client {
        let mut c = Client::new(fd, Mode::Hello);
        c.push(proto::ERROR, why.as_bytes());
        c.close_soon();
        c
    }

    /// Tells the client `why` it cannot stay, and lets it go.
    fn refuse(&mut self, why: &str) {
        self.push(proto::ERROR, why.as_bytes());
        self.flush();
        self.close_soon();
    }

    pub fn close_soon(&mut self) {
        self.closing.get_or_insert_with(Instant::now);
        self.mode = Mode::Hello;
    }

    /// Closing clients: done once everything queued is sent (then our
    /// side is shut, and the peer's end of file or a deadline ends it).
    pub fn linger(&mut self) {
        let Some(since) = self.closing else {
            return;
        };
        if self.out.is_empty() {
            // Repeating it is harmless.
            let _ = rustix::net::shutdown(&self.fd, rustix::net::Shutdown::Write);
            self.terminal = Terminal::Socket;
        }
        if since.elapsed() >= LINGER {
            self.dead = true;
        }
    }

    pub fn attached(&self) -> bool {
        !self.dead && self.mode != Mode::Hello
    }

    pub fn room(&self) -> usize {
        CLIENT_QUEUE.saturating_sub(self.out.len())
    }

    /// Whether this client holds back reading the master.
    pub fn is_full(&self) -> bool {
        !self.dead && self.mode == Mode::Live && self.room() < CHUNK + proto::HEADER
    }

    pub fn push(&mut self, kind: u8, payload: &[u8]) {
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

    /// Whether the socket should be watched for room: there is something
    /// to send and nothing else holds it up.
    pub fn wants_out(&self) -> bool {
        !self.out.is_empty() && self.stall.is_none()
    }

    /// The lent terminal, while the queue waits for room there.
    pub fn full_terminal(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match (&self.terminal, self.stall) {
            (Terminal::Held(fd), Some(Stall::Terminal)) => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Handles the frames that lend and take back the client's terminal;
    /// whether `kind` was one of them.
    pub fn on_terminal_frame(&mut self, kind: u8) -> bool {
        match kind {
            proto::TERMINAL => {
                // (A client lends only what it holds: one lent before is
                // not written to again either way.)
                self.give_back();
                let lendable = |fd: &OwnedFd| os::isatty(fd) && os::set_nonblocking(fd).is_ok();
                match self.passed.take() {
                    Some(fd) if lendable(&fd) && self.closing.is_none() => {
                        self.push(proto::TAKEN, &[]);
                        let at = self.out.len();
                        self.terminal = Terminal::Offered { fd, at };
                    }
                    // Not a terminal, or nothing passed: the output keeps
                    // coming through the socket, and the client knows.
                    _ => self.push(proto::GIVEN_BACK, &[]),
                }
                self.flush();
            }
            proto::READY => {
                if let Terminal::Waiting(fd) =
                    std::mem::replace(&mut self.terminal, Terminal::Socket)
                {
                    self.terminal = Terminal::Held(fd);
                    self.flush();
                }
            }
            proto::TAKE_BACK => {
                self.give_back();
                self.push(proto::GIVEN_BACK, &[]);
                self.flush();
            }
            _ => return false,
        }
        true
    }

    /// Whether the client's process is stopped, looked at in /proc at most
    /// every [`LOOK_EVERY`] (`false` in between).
    fn peer_stopped(&mut self) -> bool {
        let Some(pid) = self.peer else {
            return false;
        };
        let now = Instant::now();
        if self
            .looked
            .is_some_and(|t| now.duration_since(t) < LOOK_EVERY)
        {
            return false;
        }
        self.looked = Some(now);
        crate::sys::proc::stat(pid).is_ok_and(|s| s.is_stopped())
    }

    /// Stops writing to the client's terminal: what is queued goes through
    /// the socket.
    fn give_back(&mut self) {
        self.terminal = Terminal::Socket;
        self.rest = 0;
        self.stall = None;
    }

    /// Sends what the socket takes now, and writes what the lent terminal
    /// takes, in the queue's order: a frame goes out only after the output
    /// before it is on the terminal.
    pub fn flush(&mut self) {
        self.stall = None;
        while !self.dead && !self.out.is_empty() {
            let wrote = match &mut self.terminal {
                Terminal::Socket => self.send(usize::MAX),
                Terminal::Offered { at, .. } => {
                    let upto = *at;
                    let sent = self.send(upto);
                    if let (Some(n), Terminal::Offered { at, .. }) = (sent, &mut self.terminal) {
                        *at -= n;
                        if *at == 0 {
                            let Terminal::Offered { fd, .. } =
                                std::mem::replace(&mut self.terminal, Terminal::Socket)
                            else {
                                unreachable!()
                            };
                            self.terminal = Terminal::Waiting(fd);
                        }
                    }
                    sent
                }
                Terminal::Waiting(_) | Terminal::Held(_) => self.sort(),
            };
            match wrote {
                Some(0) => return,
                Some(_) => self.progress = Instant::now(),
                None => return,
            }
        }
    }

    /// Sends up to `upto` bytes of the queue through the socket; how many
    /// went, `None` when the socket is full (or gone: then dead).
    fn send(&mut self, upto: usize) -> Option<usize> {
        let (a, _) = self.out.as_slices();
        let a = &a[..a.len().min(upto)];
        match os::send(&self.fd, a) {
            Ok(n) => {
                self.out.drain(..n);
                Some(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(_) => {
                self.dead = true;
                None
            }
        }
    }

    /// Moves the first frame on while the terminal is lent: output to the
    /// terminal, anything else through the socket. How many bytes moved,
    /// `None` if nothing can now.
    fn sort(&mut self) -> Option<usize> {
        if self.rest > 0 {
            let sent = self.send(self.rest)?;
            self.rest -= sent;
            return Some(sent);
        }
        if self.out.len() < proto::HEADER {
            // Never: the queue holds whole frames.
            return self.send(usize::MAX);
        }
        let kind = self.out[0];
        let len = u32::from_be_bytes([self.out[1], self.out[2], self.out[3], self.out[4]]) as usize;
        if !proto::for_the_terminal(kind) || len == 0 {
            if kind == proto::OUTPUT {
                self.out.drain(..proto::HEADER);
                return Some(proto::HEADER);
            }
            self.rest = proto::HEADER + len;
            return self.sort();
        }
        if matches!(self.terminal, Terminal::Waiting(_) | Terminal::Held(_)) && self.peer_stopped()
        {
            // Stopped by SIGSTOP (a stop it could see coming, it would
            // have taken the terminal back first), perhaps before its
            // READY: the shell has the terminal now. The rest goes through
            // the socket, and the client learns it first thing when
            // continued (a READY of its still on the way is ignored).
            self.give_back();
            for &byte in proto::frame(proto::GIVEN_BACK, &[]).iter().rev() {
                self.out.push_front(byte);
            }
            return self.send(usize::MAX);
        }
        let Terminal::Held(fd) = &self.terminal else {
            self.stall = Some(Stall::Ready);
            return None;
        };
        let (a, b) = self.out.as_slices();
        let payload = match a.len().checked_sub(proto::HEADER) {
            Some(0) | None => {
                let from = proto::HEADER - a.len();
                &b[from..(from + len).min(b.len())]
            }
            Some(_) => &a[proto::HEADER..(proto::HEADER + len).min(a.len())],
        };
        match os::write(fd, payload) {
            Ok(0) => {
                self.stall = Some(Stall::Terminal);
                None
            }
            Ok(n) => {
                // The payload shrinks in place: the frame stays whole.
                self.out.drain(proto::HEADER..proto::HEADER + n);
                let left = ((len - n) as u32).to_be_bytes();
                for (k, byte) in left.into_iter().enumerate() {
                    self.out[1 + k] = byte;
                }
                if kind == proto::RESTORE && n == len {
                    // The last thing written there (a detach, the end):
                    // let go before the client hears it is done.
                    self.give_back();
                }
                Some(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stall = Some(Stall::Terminal);
                None
            }
            // Hung up, or gone: the rest through the socket, to a client
            // that finds its terminal gone too.
            Err(_) => {
                self.give_back();
                Some(1)
            }
        }
    }
}

/// Adds the lent terminals that wait for room to `fds`; the clients they
/// belong to, in the same order.
pub fn watch_terminals<'a>(clients: &'a [Client], fds: &mut Vec<PollFd<'a>>) -> Vec<usize> {
    let mut whose = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        if let Some(t) = c.full_terminal() {
            fds.push(PollFd::from_borrowed_fd(t, PollFlags::OUT));
            whose.push(i);
        }
    }
    whose
}

/// Of the clients [`watch_terminals`] listed (`whose`, their entries
/// `fds`), those whose terminal has room again.
pub fn terminals_with_room(whose: &[usize], fds: &[PollFd]) -> Vec<usize> {
    whose
        .iter()
        .zip(fds)
        .filter(|(_, p)| !p.revents().is_empty())
        .map(|(&i, _)| i)
        .collect()
}

/// Why a new connection may not stay, if it may not: it is another
/// user's (`peer` is its uid, `me` ours), or `staying` clients are
/// already attached.
pub fn refusal(job: &str, me: u32, peer: io::Result<u32>, staying: usize) -> Option<String> {
    let refusal = match peer {
        Ok(uid) if uid == me => None,
        Ok(uid) => Some(format!(
            "job {job} belongs to uid {me}; uid {uid} may not attach to it"
        )),
        Err(e) => Some(format!("cannot tell who is connecting: {}", os_words(&e))),
    };
    refusal.or_else(|| {
        (staying >= MAX_CLIENTS)
            .then(|| format!("job {job} already has {MAX_CLIENTS} clients attached"))
    })
}

/// Queues what the queue takes of a pending drawing, in frames of at most
/// a chunk.
fn send_render(c: &mut Client) {
    while let Some((len, sent)) = c.render.as_ref().map(|(r, s)| (r.len(), *s)) {
        if c.dead {
            return;
        }
        if sent >= len {
            c.render = None;
            break;
        }
        if c.room() < CHUNK + proto::HEADER {
            c.flush();
            if c.room() < CHUNK + proto::HEADER {
                return;
            }
        }
        let n = (len - sent).min(CHUNK);
        let Some((render, at)) = c.render.take() else {
            return;
        };
        c.push(proto::OUTPUT, &render[sent..sent + n]);
        c.render = Some((render, at + n));
    }
}

/// Feeds a replaying client from the log while its queue has room; once it
/// has everything logged so far, it goes live.
pub fn refill(c: &mut Client, log: &Log, buf: &mut [u8]) {
    send_render(c);
    if c.render.is_some() {
        c.flush();
        return;
    }
    while let Mode::Replay(at) = c.mode {
        if c.dead {
            return;
        }
        if at >= log.end() {
            c.mode = Mode::Live;
            break;
        }
        // Rotated away meanwhile (a capped log): on from the oldest kept.
        let at = at.max(log.first());
        if c.room() < CHUNK + proto::HEADER {
            c.flush();
            if c.room() < CHUNK + proto::HEADER {
                return;
            }
        }
        let len = buf.len().min(CHUNK);
        let n = match log.read_at(&mut buf[..len], at) {
            Some(n) => n,
            // The log is shorter than we wrote (truncated by hand) or
            // unreadable: nothing more to replay.
            None => {
                c.mode = Mode::Live;
                break;
            }
        };
        c.push(proto::OUTPUT, &buf[..n]);
        c.mode = Mode::Replay(at + n as u64);
    }
    c.flush();
}

/// Client `c` starts on a drawing of `screen` (its scrollback above),
/// after `welcome`, then the log from where the model stands: nothing
/// missed, nothing twice. The model has caught up with the log.
pub fn start_drawn(c: &mut Client, welcome: &[u8], screen: &mut Screen) {
    // The user's title saved first: the restore pops it.
    let mut render = PUSH_TITLE.to_vec();
    screen.render(true, &mut render);
    c.push(proto::WELCOME, welcome);
    c.render = Some((render, 0));
    c.drawn = true;
    c.mode = Mode::Replay(screen.parsed);
}

/// Client `c` detaches: its terminal back as it was, from the model as it
/// stands after everything the client was sent (caught up), then it goes.
pub fn restore_and_close(c: &mut Client, screen: &Screen) {
    let mut restore = Vec::new();
    screen.restore(&mut restore);
    c.render = None;
    c.push(proto::RESTORE, &restore);
    c.flush();
    c.close_soon();
}

/// The job ends: every client whose terminal shows a drawing gets it back
/// (whatever of the drawing and the log it still had to get is dropped).
pub fn restore_drawn(clients: &mut [Client], screen: Option<&Screen>) {
    let mut restore = Vec::new();
    if let Some(s) = screen {
        s.restore(&mut restore);
    }
    for c in clients.iter_mut().filter(|c| c.drawn && c.attached()) {
        c.render = None;
        c.push(proto::RESTORE, &restore);
    }
}

/// Every attached client but `except` gets the model's screen at its new
/// size (no scrollback: their terminals have it already), then the log
/// from where the model stands.
pub fn redraw(
    clients: &mut [Client],
    screen: &mut Screen,
    except: Option<usize>,
    log: &Log,
    buf: &mut [u8],
) {
    let mut render = Vec::new();
    screen.render(false, &mut render);
    for (i, c) in clients.iter_mut().enumerate() {
        if !c.attached() || c.closing.is_some() || except == Some(i) {
            continue;
        }
        // A terminal drawn on before has the user's title saved already
        // (pushed again at each resize, the stack would keep old titles).
        let drawing = if c.drawn {
            render.clone()
        } else {
            [PUSH_TITLE, &render].concat()
        };
        c.render = Some((drawing, 0));
        c.drawn = true;
        c.mode = Mode::Replay(screen.parsed);
        refill(c, log, buf);
    }
}

impl Supervisor {
    pub(super) fn accept(&mut self) {
        let Some(l) = self.listener.as_ref() else {
            return;
        };
        while let Ok(fd) = os::accept(l) {
            let me = rustix::process::geteuid().as_raw();
            if self.clients.iter().filter(|c| !c.dead).count() >= 2 * MAX_CLIENTS {
                // Connections that have not said who they are yet make
                // room for the new one, the oldest first: idle ones must
                // not lock attaching out.
                let waiting = self
                    .clients
                    .iter_mut()
                    .filter(|c| c.mode == Mode::Hello && !c.dead)
                    .min_by_key(|c| c.since);
                // (Dropped at the end of the loop's turn: the clients'
                // places must not move before.)
                match waiting {
                    Some(c) => c.dead = true,
                    // Too many at once even to tell them why.
                    None => continue,
                }
            }
            let refusal = refusal(&self.job.id, me, os::peer_uid(&fd), self.attached());
            let c = match refusal {
                Some(why) => Client::refused(fd, &why),
                None => Client::new(fd, Mode::Hello),
            };
            self.clients.push(c);
        }
    }

    /// Reads and handles what client `i` sent.
    pub(super) fn read_client(&mut self, i: usize, revents: PollFlags) {
        let c = &mut self.clients[i];
        if c.closing.is_some() {
            let mut scratch = [0u8; 1024];
            match os::read(&c.fd, &mut scratch) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 => {}
                _ => c.dead = true,
            }
            return;
        }
        if !c.input.has_room() && revents.intersects(PollFlags::HUP | PollFlags::ERR) {
            // Gone, with keys the program is not reading: drop them.
            c.dead = true;
        } else if c.input.has_room() {
            match c.input.fill_keeping_fd(&c.fd, &mut c.passed) {
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
                k if self.clients[i].on_terminal_frame(k) => {}
                proto::INPUT if self.master.is_some() => {
                    if self.input.len() + payload.len() > INPUT_QUEUE {
                        // The program is not reading: leave the frame (and
                        // the client) waiting.
                        return;
                    }
                    self.input.extend(&payload);
                    self.write_input();
                    self.clients[i].active = Instant::now();
                    self.follow_latest();
                }
                proto::RESIZE => {
                    if let Some(ws) = proto::parse_resize(&payload) {
                        // Its own terminal changed size and reflowed what
                        // it shows: if the pty follows, the program redraws
                        // for it (SIGWINCH), as without hupsafe.
                        let resized = self.clients[i].resize(ws);
                        self.follow(resized.then_some(i));
                    }
                }
                proto::CONTINUE if self.end.is_none() => {
                    // Our own child's group, and the terminal's foreground
                    // group if it moved one there.
                    let _ = os::kill_group(self.program, Signal::CONT);
                    if let Some(m) = &self.master {
                        let fg = os::tcgetpgrp(m);
                        if fg > 0 && fg != self.program {
                            let _ = os::kill_group(fg, Signal::CONT);
                        }
                    }
                }
                proto::DETACH => {
                    if self.screen.is_some() {
                        self.catch_up(u64::MAX, usize::MAX);
                    }
                    match &self.screen {
                        Some(s) => restore_and_close(&mut self.clients[i], s),
                        None => self.clients[i].dead = true,
                    }
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

    /// Clients attached now (having said hello), refused ones aside.
    fn attached(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.attached() && c.closing.is_none())
            .count()
    }

    fn hello(&mut self, i: usize, payload: &[u8]) {
        if self.attached() >= MAX_CLIENTS {
            let why = format!(
                "job {} already has {MAX_CLIENTS} clients attached",
                self.job.id
            );
            self.clients[i].refuse(&why);
            return;
        }
        let version = proto::u32_at(payload, 0).unwrap_or(0);
        if version != proto::VERSION {
            let why = format!(
                "job {} runs under a hupsafe speaking relay protocol {}, this one speaks {version}; \
                 use the hupsafe that started it (its output: hupsafe logs {})",
                self.job.id,
                proto::VERSION,
                self.job.id
            );
            self.clients[i].refuse(&why);
            return;
        }
        let welcome = self.welcome();
        if self.screen.is_some() {
            self.catch_up(u64::MAX, usize::MAX);
        }
        if let Some(s) = self.screen.as_mut() {
            start_drawn(&mut self.clients[i], &welcome, s);
        } else {
            let replay = proto::u32_at(payload, 4).unwrap_or(0) as u64;
            let from = self.log.end().saturating_sub(replay);
            let from = if from > 0 {
                self.log.line_start_after(from)
            } else {
                0
            };
            let c = &mut self.clients[i];
            c.push(proto::WELCOME, &welcome);
            c.mode = Mode::Replay(from);
            // Without a model, the program is asked to redraw.
            c.fresh = true;
        }
        self.clients[i].active = Instant::now();
        self.refill(i);
        self.write_record();
    }

    /// The pty takes the size of the most recently active client that
    /// told its size; when that changes it, every client is redrawn.
    pub(super) fn follow_latest(&mut self) {
        self.follow(None);
    }

    /// [`Self::follow_latest`], not redrawing client `resized` (whose own
    /// terminal just took the new size).
    fn follow(&mut self, resized: Option<usize>) {
        let Some(latest) = self
            .clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.attached() && c.closing.is_none() && c.size.is_some())
            .max_by_key(|(_, c)| c.active)
            .map(|(i, _)| i)
        else {
            return;
        };
        let Some(m) = &self.master else {
            return;
        };
        let ws = self.clients[latest].size.expect("filtered on a size");
        let now = pty::winsize(m);
        let same = now.is_some_and(|n| (n.ws_row, n.ws_col) == (ws.ws_row, ws.ws_col));
        if same && now.is_some_and(|n| (n.ws_xpixel, n.ws_ypixel) == (ws.ws_xpixel, ws.ws_ypixel)) {
            if std::mem::take(&mut self.clients[latest].fresh) {
                self.winch();
            }
            return;
        }
        if !same && self.screen.is_some() {
            // Bytes written before the resize were laid out at the old size.
            self.catch_up(u64::MAX, usize::MAX);
            if let Some(s) = self.screen.as_mut() {
                s.resize(ws.ws_col, ws.ws_row);
            }
        }
        if let Some(m) = &self.master {
            // The kernel sends the SIGWINCH when the size changes.
            let _ = pty::set_winsize(m, &ws);
        }
        self.clients[latest].fresh = false;
        if !same {
            self.redraw_all(resized.filter(|&i| i == latest));
        }
    }

    /// A SIGWINCH to the terminal's foreground group (our program's, or
    /// one it made), as a resize would send it.
    fn winch(&self) {
        if let Some(m) = &self.master {
            let fg = os::tcgetpgrp(m);
            if fg > 0 {
                let _ = os::kill_group(fg, Signal::WINCH);
            }
        }
    }

    /// Every attached client but `except` redrawn ([`redraw`]).
    fn redraw_all(&mut self, except: Option<usize>) {
        if let Some(s) = self.screen.as_mut() {
            redraw(&mut self.clients, s, except, &self.log, &mut self.buf);
        }
    }

    /// Feeds replaying client `i` from the log.
    pub(super) fn refill(&mut self, i: usize) {
        refill(&mut self.clients[i], &self.log, &mut self.buf);
    }

    /// Drops the clients that hold others up: stuck ones (while they
    /// hold the output back), and connections that never said hello.
    pub(super) fn drop_stuck(&mut self, held: bool) {
        for c in &mut self.clients {
            let stuck = held && c.is_full() && c.progress.elapsed() >= STUCK_AFTER;
            let silent =
                c.mode == Mode::Hello && c.closing.is_none() && c.since.elapsed() >= HELLO_WITHIN;
            if stuck || silent {
                c.dead = true;
            }
        }
    }

    pub(super) fn forget_dead(&mut self) {
        let before = self.record.attached as usize;
        let count = self.clients.len();
        self.clients.retain(|c| !c.dead);
        if self.clients.len() != count {
            // The latest client may have left: the pty follows the next.
            self.follow_latest();
        }
        if self.clients.iter().filter(|c| c.attached()).count() != before {
            self.write_record();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::unix::net::UnixStream;

    fn pair(mode: Mode) -> (Client, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        (Client::new(ours.into(), mode), theirs)
    }

    /// Every frame the peer can read now.
    fn frames(peer: &UnixStream, d: &mut Decoder) -> Vec<(u8, Vec<u8>)> {
        peer.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        loop {
            while let Ok(Some((k, p))) = d.peek() {
                got.push((k, p.to_vec()));
                d.consume();
            }
            match d.fill_from(peer) {
                Ok(n) if n > 0 => {}
                _ => return got,
            }
        }
    }

    #[test]
    fn a_full_queue_holds_back_output_and_past_the_slack_the_client_is_dropped() {
        let (mut c, _peer) = pair(Mode::Live);
        assert!(c.attached() && !c.is_full());
        let chunk = vec![b'x'; CHUNK];
        let mut before_full = 0;
        while !c.is_full() {
            c.push(proto::OUTPUT, &chunk);
            before_full += 1;
        }
        // No more output is read for it: less than a chunk of room left.
        assert_eq!(before_full, CLIENT_QUEUE / (CHUNK + proto::HEADER));
        assert!(c.room() < CHUNK + proto::HEADER && !c.dead);
        // Control frames still fit.
        c.push(proto::STOPPED, &20u32.to_be_bytes());
        assert!(!c.dead);
        // Output forced in beyond the slack: stuck, dropped, and memory
        // never grows past the bound.
        while !c.dead {
            c.push(proto::OUTPUT, &chunk);
            assert!(c.out.len() <= CLIENT_QUEUE + CONTROL_SLACK);
        }
        assert!(
            !c.is_full() && !c.attached(),
            "a dropped client holds nothing back"
        );
        let len = c.out.len();
        c.push(proto::OUTPUT, b"more");
        assert_eq!(c.out.len(), len, "nothing is queued for a dropped client");
    }

    #[test]
    fn queued_frames_reach_the_peer_in_order() {
        let (mut c, peer) = pair(Mode::Live);
        c.push(proto::WELCOME, b"{}");
        c.push(proto::OUTPUT, b"hello");
        c.flush();
        assert!(c.out.is_empty() && !c.dead);
        let got = frames(&peer, &mut Decoder::default());
        assert_eq!(
            got,
            vec![
                (proto::WELCOME, b"{}".to_vec()),
                (proto::OUTPUT, b"hello".to_vec())
            ]
        );
        drop(peer);
        c.push(proto::OUTPUT, b"to nobody");
        c.flush();
        assert!(c.dead, "a gone peer is noticed on the next send");
    }

    /// A client whose terminal (a pty's slave side, reopened as the
    /// client does) is passed to the supervisor; the pty's master reads
    /// what reaches it.
    fn lending(c: &mut Client) -> OwnedFd {
        let pair = pty::open_pair().unwrap();
        let mut raw = pty::termios(&pair.slave).unwrap();
        raw.make_raw();
        pty::set_termios(&pair.slave, &raw).unwrap();
        os::set_nonblocking(&pair.master).unwrap();
        c.passed = Some(os::reopen_terminal(pair.slave.as_fd()).unwrap());
        assert!(c.on_terminal_frame(proto::TERMINAL));
        pair.master
    }

    /// [`lending`], then the handover through to READY: the supervisor
    /// holds the terminal, and the client was told TAKEN.
    fn held(c: &mut Client, peer: &UnixStream, d: &mut Decoder) -> OwnedFd {
        let master = lending(c);
        c.flush();
        assert!(c.on_terminal_frame(proto::READY));
        assert_eq!(frames(peer, d), vec![(proto::TAKEN, vec![])]);
        assert!(matches!(c.terminal, Terminal::Held(_)));
        master
    }

    /// What the terminal shows now.
    fn shown(master: &OwnedFd) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = os::read(master, &mut buf) {
            got.extend(&buf[..n]);
        }
        got
    }

    /// A `sleep` standing in for a client's process, stopped or running;
    /// killed when dropped.
    struct StandIn(std::process::Child);

    impl StandIn {
        fn new() -> StandIn {
            StandIn(
                std::process::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap(),
            )
        }

        fn pid(&self) -> i32 {
            self.0.id() as i32
        }

        /// SIGSTOP, and the wait until it shows in /proc, and until the
        /// supervisor may look again.
        fn stop(&self) {
            unsafe { libc::kill(self.pid(), libc::SIGSTOP) };
            while !crate::sys::proc::stat(self.pid()).is_ok_and(|s| s.is_stopped()) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            std::thread::sleep(LOOK_EVERY);
        }
    }

    impl Drop for StandIn {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Output pushed after the client was stopped: the terminal is let go
    /// unasked, and the output comes through the socket behind GIVEN_BACK.
    fn output_behind_given_back(c: &mut Client, peer: &UnixStream, d: &mut Decoder, output: &[u8]) {
        c.push(proto::OUTPUT, output);
        c.flush();
        assert!(matches!(c.terminal, Terminal::Socket));
        assert_eq!(
            frames(peer, d),
            vec![
                (proto::GIVEN_BACK, vec![]),
                (proto::OUTPUT, output.to_vec())
            ]
        );
    }

    /// A client stopped by SIGSTOP cannot take its terminal back: the
    /// supervisor sees it stopped and lets go itself, the output going
    /// through the socket behind a GIVEN_BACK. (A `sleep` stands in for
    /// the client's process; the control is the same client running.)
    #[test]
    fn a_stopped_client_gets_its_terminal_back_unasked() {
        let client = StandIn::new();
        let (mut c, peer) = pair(Mode::Live);
        let mut d = Decoder::default();
        let master = held(&mut c, &peer, &mut d);
        c.peer = Some(client.pid());
        c.push(proto::OUTPUT, b"while it runs");
        c.flush();
        assert_eq!(shown(&master), b"while it runs");
        client.stop();
        output_behind_given_back(&mut c, &peer, &mut d, b"while it is stopped");
        assert!(
            shown(&master).is_empty(),
            "written to a stopped client's terminal"
        );
    }

    /// The same stop between TAKEN and the client's READY (which never
    /// comes while it is stopped): the terminal is let go as well, and a
    /// READY that comes later is ignored.
    #[test]
    fn a_client_stopped_before_its_ready_gets_its_terminal_back_unasked() {
        let client = StandIn::new();
        let (mut c, peer) = pair(Mode::Live);
        let mut d = Decoder::default();
        let master = lending(&mut c);
        c.flush();
        assert_eq!(frames(&peer, &mut d), vec![(proto::TAKEN, vec![])]);
        c.peer = Some(client.pid());
        client.stop();
        output_behind_given_back(&mut c, &peer, &mut d, b"while it is stopped");
        assert!(c.on_terminal_frame(proto::READY));
        c.push(proto::OUTPUT, b"later");
        c.flush();
        assert!(matches!(c.terminal, Terminal::Socket));
        assert!(shown(&master).is_empty());
        assert_eq!(
            frames(&peer, &mut d),
            vec![(proto::OUTPUT, b"later".to_vec())]
        );
    }

    #[test]
    fn a_lent_terminal_gets_the_output_and_the_socket_the_rest_in_order() {
        let (mut c, peer) = pair(Mode::Live);
        let mut d = Decoder::default();
        c.push(proto::OUTPUT, b"sent before");
        let master = lending(&mut c);
        c.push(proto::OUTPUT, b"after TAKEN");
        c.flush();
        // What was queued before TAKEN goes through the socket; after it,
        // output waits for the client's word that it has written that.
        assert_eq!(
            frames(&peer, &mut d),
            vec![
                (proto::OUTPUT, b"sent before".to_vec()),
                (proto::TAKEN, vec![])
            ]
        );
        assert!(shown(&master).is_empty() && !c.wants_out());
        assert!(c.on_terminal_frame(proto::READY));
        assert_eq!(shown(&master), b"after TAKEN");
        // Output on the terminal, the frames after it through the socket,
        // a restore written there and said done.
        c.push(proto::OUTPUT, b"live");
        c.push(proto::STOPPED, &20u32.to_be_bytes());
        c.push(proto::RESTORE, b"\x1b[?1049l");
        c.push(proto::EXITED, &[0, 0, 0, 0, 3]);
        c.flush();
        assert_eq!(shown(&master), b"live\x1b[?1049l");
        assert!(
            matches!(c.terminal, Terminal::Socket),
            "a restore is the last write there: the terminal is let go"
        );
        assert_eq!(
            frames(&peer, &mut d),
            vec![
                (proto::STOPPED, 20u32.to_be_bytes().to_vec()),
                (proto::RESTORE, vec![]),
                (proto::EXITED, vec![0, 0, 0, 0, 3]),
            ]
        );
        // Taken back (lent again first): from here everything through the
        // socket.
        let _master = held(&mut c, &peer, &mut d);
        assert!(c.on_terminal_frame(proto::TAKE_BACK));
        c.push(proto::OUTPUT, b"for the client");
        c.flush();
        assert_eq!(
            frames(&peer, &mut d),
            vec![
                (proto::GIVEN_BACK, vec![]),
                (proto::OUTPUT, b"for the client".to_vec())
            ]
        );
        assert!(shown(&master).is_empty());
    }

    #[test]
    fn a_full_terminal_holds_back_the_frames_behind_its_output() {
        let (mut c, peer) = pair(Mode::Live);
        let mut d = Decoder::default();
        let master = held(&mut c, &peer, &mut d);
        // Nobody reads the terminal: it fills, the rest queues.
        let chunk: Vec<u8> = (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect();
        let mut pushed: Vec<u8> = Vec::new();
        while c.full_terminal().is_none() {
            c.push(proto::OUTPUT, &chunk);
            pushed.extend(&chunk);
            c.flush();
            assert!(pushed.len() < 64 << 20, "the terminal never filled");
        }
        c.push(proto::EXITED, &[0, 0, 0, 0, 0]);
        c.flush();
        assert!(!c.wants_out(), "the socket is not watched meanwhile");
        assert!(
            frames(&peer, &mut d).is_empty(),
            "EXITED waits for the output before it"
        );
        // The terminal drains: everything, in order, then EXITED.
        let mut got = Vec::new();
        while c.full_terminal().is_some() || !c.out.is_empty() {
            got.extend(shown(&master));
            c.flush();
        }
        got.extend(shown(&master));
        assert!(
            got == pushed,
            "{} of {} bytes, in order",
            got.len(),
            pushed.len()
        );
        assert_eq!(
            frames(&peer, &mut d),
            vec![(proto::EXITED, vec![0, 0, 0, 0, 0])]
        );
    }

    #[test]
    fn output_cut_short_by_a_full_terminal_comes_whole_through_the_socket_once_taken_back() {
        let (mut c, peer) = pair(Mode::Live);
        let mut d = Decoder::default();
        let master = held(&mut c, &peer, &mut d);
        let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
        let mut pushed: Vec<u8> = Vec::new();
        while c.full_terminal().is_none() {
            c.push(proto::OUTPUT, &chunk);
            pushed.extend(&chunk);
            c.flush();
        }
        let written = shown(&master);
        c.on_terminal_frame(proto::TAKE_BACK);
        c.flush();
        let mut rest = Vec::new();
        for (k, p) in frames(&peer, &mut d) {
            match k {
                proto::OUTPUT => rest.extend(p),
                proto::GIVEN_BACK => break,
                other => panic!("unexpected frame {other}"),
            }
        }
        assert!(
            [written, rest].concat() == pushed,
            "the terminal's part and the socket's make the output, nothing twice"
        );
    }

    #[test]
    fn what_is_not_a_terminal_is_not_taken() {
        let (mut c, peer) = pair(Mode::Live);
        let (r, _w) = UnixStream::pair().unwrap();
        c.passed = Some(r.into());
        assert!(c.on_terminal_frame(proto::TERMINAL));
        // Nothing passed at all, the same.
        assert!(c.on_terminal_frame(proto::TERMINAL));
        c.push(proto::OUTPUT, b"x");
        c.flush();
        assert_eq!(
            frames(&peer, &mut Decoder::default()),
            vec![
                (proto::GIVEN_BACK, vec![]),
                (proto::GIVEN_BACK, vec![]),
                (proto::OUTPUT, b"x".to_vec())
            ]
        );
        assert!(c.passed.is_none(), "not kept either");
    }

    #[test]
    fn a_refused_client_reads_why_then_end_of_file() {
        let (ours, peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut c = Client::refused(ours.into(), "no room");
        assert!(!c.attached() && c.closing.is_some() && !c.is_full());
        c.linger();
        c.flush();
        c.linger();
        assert!(!c.dead, "it lingers until the peer leaves or time is up");
        let mut d = Decoder::default();
        assert_eq!(
            frames(&peer, &mut d),
            vec![(proto::ERROR, b"no room".to_vec())]
        );
        peer.set_nonblocking(false).unwrap();
        assert_eq!(d.fill_from(&peer).unwrap(), 0, "then end of file");
    }

    #[test]
    fn strangers_and_crowds_are_refused_with_reasons() {
        assert_eq!(refusal("7", 1000, Ok(1000), 0), None);
        assert_eq!(refusal("7", 1000, Ok(1000), MAX_CLIENTS - 1), None);
        assert_eq!(
            refusal("7", 1000, Ok(1001), 0).as_deref(),
            Some("job 7 belongs to uid 1000; uid 1001 may not attach to it")
        );
        assert_eq!(
            refusal("7", 1000, Ok(1000), MAX_CLIENTS).as_deref(),
            Some("job 7 already has 8 clients attached")
        );
        let unknown = refusal("7", 1000, Err(io::Error::from_raw_os_error(libc::EBADF)), 0);
        assert!(unknown
            .unwrap()
            .starts_with("cannot tell who is connecting: "));
    }

    fn log_with(dir: &tempfile::TempDir, data: &[u8]) -> (Log, std::path::PathBuf) {
        let mut log = super::super::log::tests::log_in(dir);
        assert_eq!(log.append(data).written, data.len());
        (log, dir.path().join("log"))
    }

    #[test]
    fn a_replay_sends_the_whole_log_at_the_pace_of_the_peer_then_goes_live() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let (log, _) = log_with(&dir, &data);
        let (mut c, peer) = pair(Mode::Replay(0));
        let mut buf = vec![0u8; CHUNK];
        let mut d = Decoder::default();
        let mut replayed = Vec::new();
        let mut rounds = 0;
        while c.mode != Mode::Live {
            refill(&mut c, &log, &mut buf);
            assert!(!c.dead);
            assert!(
                c.out.len() <= CLIENT_QUEUE,
                "bounded whatever the log's size"
            );
            for (k, p) in frames(&peer, &mut d) {
                assert_eq!(k, proto::OUTPUT);
                assert!(p.len() <= CHUNK);
                replayed.extend(p);
            }
            rounds += 1;
            assert!(rounds < 10_000, "the replay makes no progress");
        }
        assert!(rounds > 1, "{} bytes should not fit at once", data.len());
        c.flush();
        for (_, p) in frames(&peer, &mut d) {
            replayed.extend(p);
        }
        assert_eq!(replayed.len(), data.len());
        assert!(replayed == data, "the log, byte for byte, in order");
    }

    #[test]
    fn a_log_cut_short_ends_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        let (log, path) = log_with(&dir, &[b'x'; 100]);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        let (mut c, peer) = pair(Mode::Replay(0));
        refill(&mut c, &log, &mut vec![0u8; CHUNK]);
        assert_eq!(c.mode, Mode::Live);
        let got = frames(&peer, &mut Decoder::default());
        assert_eq!(got, vec![(proto::OUTPUT, vec![b'x'; 10])]);
    }

    #[test]
    fn a_replay_of_a_rotated_log_starts_at_the_oldest_kept_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = super::super::log::tests::log_in(&dir).capped(dir.path().join("log"), 10);
        for part in [&b"0123456789"[..], b"abcdefghij", b"KLM"] {
            assert_eq!(log.append(part).written, part.len());
        }
        assert_eq!(log.first(), 10, "the first ten bytes were rotated away");
        // A client that was replaying from before the cut.
        let (mut c, peer) = pair(Mode::Replay(4));
        refill(&mut c, &log, &mut vec![0u8; CHUNK]);
        assert_eq!(c.mode, Mode::Live);
        let got: Vec<u8> = frames(&peer, &mut Decoder::default())
            .into_iter()
            .flat_map(|(_, p)| p)
            .collect();
        assert_eq!(got, b"abcdefghijKLM", "log.1 then log, nothing else");
    }

    /// The user's title is saved (pushed on the terminal's title stack)
    /// once per terminal: the first drawing does it, the redraws after a
    /// resize do not (the restore pops once). A client never drawn on
    /// before gets it with its first redraw.
    #[test]
    fn the_users_title_is_pushed_once_per_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = log_with(&dir, b"\x1b]2;job title\x07hello\r\n");
        let mut screen = Screen::new(80, 24, 100);
        screen.feed(b"\x1b]2;job title\x07hello\r\n");
        screen.parsed = log.end();
        let pushes = |frames: &[(u8, Vec<u8>)]| {
            let all: Vec<u8> = frames
                .iter()
                .filter(|(k, _)| *k == proto::OUTPUT)
                .flat_map(|(_, p)| p.clone())
                .collect();
            all.windows(PUSH_TITLE.len())
                .filter(|w| *w == PUSH_TITLE)
                .count()
        };
        let mut buf = vec![0u8; CHUNK];
        let (mut drawn, drawn_peer) = pair(Mode::Hello);
        let (mut live, live_peer) = pair(Mode::Live);
        let (mut d1, mut d2) = (Decoder::default(), Decoder::default());
        start_drawn(&mut drawn, b"{}", &mut screen);
        refill(&mut drawn, &log, &mut buf);
        assert_eq!(
            pushes(&frames(&drawn_peer, &mut d1)),
            1,
            "the first drawing"
        );
        for _ in 0..3 {
            let mut clients = [drawn, live];
            redraw(&mut clients, &mut screen, None, &log, &mut buf);
            [drawn, live] = clients;
            assert_eq!(pushes(&frames(&drawn_peer, &mut d1)), 0, "a redraw");
        }
        assert_eq!(
            pushes(&frames(&live_peer, &mut d2)),
            1,
            "a client first drawn on by a redraw"
        );
    }
}
