//! The job's session holder: a small child of the supervisor that leads
//! the session whose controlling terminal is the job's pty, is the
//! program's parent, and tells the supervisor each of the program's state
//! changes (docs/ARCHITECTURE.md, "Processes of a job").
//!
//! Why not the supervisor itself: the scheduler shares CPU time between
//! sessions first (autogroups: docs/HANGUPS.md, "Sessions share CPU
//! time"), so a supervisor in the
//! program's session competes with the program for one share, and a busy
//! program slows its own output down (bench/relay.sh: 0.8x the throughput
//! of `script -q`, whose relay is in a session of its own, as ours is now).
//! Why a holder at all: the session must be led by a process that stays
//! until the job is over (a leader's exit sends SIGHUP to the terminal's
//! foreground group), and the program must not lead it (an orphaned group
//! loses Ctrl-Z: see [`super::program`]).
//!
//! The holder is a fork of the supervisor and only ever: waits for the
//! program (blocking), writes each status to its socket, and, once the
//! program has ended, waits until the supervisor closes its end. It keeps
//! no other descriptor, ignores the signals a stray `pkill` would send,
//! and gives back the inherited memory it does not use (free heap,
//! untouched code pages: `sys::memory::shed`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::super::os::{self, Disposition};
use super::program::{Change, Launch};
use crate::registry::ProcId;

/// One report: `kind u32, value i64`, in this machine's byte order.
const REPORT: usize = 12;
/// The program's pid (the first report).
const PID: u32 = 1;
/// A raw wait status.
const STATUS: u32 = 2;
/// The program's start time (`/proc/PID/stat` field 22; the second
/// report): read by the holder, whose child it is, before the program can
/// be reaped, so that a program that ends at once still has its identity
/// in the record.
const START: u32 = 3;

/// The supervisor's side.
pub struct Holder {
    pub pid: i32,
    /// Our end of the socket pair; closing it lets the holder go.
    fd: Option<OwnedFd>,
    buf: [u8; REPORT],
    have: usize,
}

/// What the holder said, or that it is gone.
pub enum News {
    Change(Change),
    /// Nothing more for now.
    Nothing,
    /// Its socket closed before it reported the program's end: it was
    /// killed (or could not start the program).
    Gone,
}

impl Holder {
    /// Forks the holder, which starts the program as `launch` says; returns
    /// the holder and the program (its pid is also its process group's id).
    pub fn spawn(launch: &Launch, inherited: &[os::Saved]) -> io::Result<(Holder, ProcId)> {
        let (ours, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )?;
        // Signals wait until the holder has its own dispositions.
        let mask = os::block_all();
        // SAFETY: the supervisor is single-threaded (a fork of the
        // single-threaded hupsafe, and signal-hook starts no thread), so
        // the child may run ordinary code. rustix has no fork: it leaves
        // process creation to libc.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            drop(ours);
            hold(launch, inherited, theirs, &mask);
        }
        mask.restore();
        drop(theirs);
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut holder = Holder {
            pid,
            fd: Some(ours),
            buf: [0; REPORT],
            have: 0,
        };
        // The first two reports are the program's pid and start time (or
        // the socket closes: the holder could not fork it).
        let program = match (holder.report(true)?, holder.report(true)?) {
            (Some((PID, pid)), Some((START, start))) if pid > 0 && pid <= i32::MAX as i64 => {
                let pid = pid as i32;
                // Start 0: the holder could not read it (no /proc); the
                // supervisor then records no identity it cannot check.
                ProcId {
                    pid,
                    start: u64::try_from(start).unwrap_or(0),
                }
            }
            _ => {
                let _ = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(pid),
                    rustix::process::WaitOptions::empty(),
                );
                return Err(io::Error::other(
                    "the job's session holder could not start it",
                ));
            }
        };
        if let Some(fd) = &holder.fd {
            os::set_nonblocking(fd)?;
        }
        Ok((holder, program))
    }

    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// The next report waiting (`blocking`: waits for one); `None` at the
    /// end of the socket.
    fn report(&mut self, blocking: bool) -> io::Result<Option<(u32, i64)>> {
        let Some(fd) = &self.fd else {
            return Ok(None);
        };
        while self.have < REPORT {
            match rustix::io::read(fd, &mut self.buf[self.have..]) {
                Ok(0) => return Ok(None),
                Ok(n) => self.have += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) if !blocking => {
                    return Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.have = 0;
        let kind = u32::from_ne_bytes(self.buf[..4].try_into().expect("4 bytes"));
        let value = i64::from_ne_bytes(self.buf[4..].try_into().expect("8 bytes"));
        Ok(Some((kind, value)))
    }

    /// The program's next state change, if the holder reported one.
    pub fn next(&mut self) -> News {
        loop {
            match self.report(false) {
                Ok(Some((STATUS, raw))) => match i32::try_from(raw).ok().and_then(Change::of_raw) {
                    Some(c) => return News::Change(c),
                    None => continue,
                },
                Ok(Some(_)) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return News::Nothing,
                Ok(None) | Err(_) => {
                    self.fd = None;
                    return News::Gone;
                }
            }
        }
    }

    /// Lets the holder go (its leaving ends the session, as the
    /// supervisor's did before there was a holder) and reaps it.
    pub fn release(&mut self) {
        self.fd = None;
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(self.pid),
            rustix::process::WaitOptions::empty(),
        );
    }
}

/// The holder's whole life. Never returns.
fn hold(launch: &Launch, inherited: &[os::Saved], sock: OwnedFd, mask: &os::Mask) -> ! {
    // A session of its own, whose controlling terminal the pty becomes
    // (unless no fd of the program is the pty), with the program's group
    // in its foreground: as a job under a shell.
    let _ = rustix::process::setsid();
    if launch.stdio.iter().any(Option::is_none) {
        let _ = rustix::process::ioctl_tiocsctty(launch.slave);
    }
    let program = launch.fork_program(inherited, mask);
    // Our dispositions: none of the handlers of the processes we are a
    // fork of (they write to signal pipes this process closes below, whose
    // numbers its socket may take), SIGCHLD as waitpid needs it, and the
    // signals a `pkill hupsafe` sends ignored: the supervisor passes those
    // on to the program, and the holder goes when the job is over.
    for sig in 1..=libc::SIGRTMAX() {
        if os::is_handled(sig) {
            let _ = os::set_disposition(sig, Disposition::Default);
        }
    }
    let _ = os::set_disposition(libc::SIGCHLD, Disposition::Default);
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGHUP,
        libc::SIGPIPE,
    ] {
        let _ = os::set_disposition(sig, Disposition::Ignore);
    }
    mask.restore();
    close_all_but(sock.as_raw_fd());
    let say = |kind: u32, value: i64| {
        let mut r = [0u8; REPORT];
        r[..4].copy_from_slice(&kind.to_ne_bytes());
        r[4..].copy_from_slice(&value.to_ne_bytes());
        // A supervisor that is gone hears nothing; the program is still
        // waited for, so it never lingers as a zombie of ours.
        let _ = os::write_all(&sock, &r);
    };
    let Ok(program) = program else {
        say(PID, -1);
        signal_hook::low_level::exit(1)
    };
    say(PID, program.into());
    // Our child: there until we wait for it, a zombie at worst.
    let start = ProcId::of(program).map_or(0, |p| p.start);
    say(START, i64::try_from(start).unwrap_or(0));
    // Inherited from the supervisor and not ours to keep.
    super::shed_memory();
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local int.
        let r = unsafe { libc::waitpid(program, &mut status, libc::WUNTRACED | libc::WCONTINUED) };
        if r == -1 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        say(STATUS, status.into());
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            break;
        }
    }
    // Until the supervisor is done with the job (or gone).
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(&sock, &mut b) {
            Err(rustix::io::Errno::INTR) => {}
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    signal_hook::low_level::exit(0)
}

/// Closes every descriptor of this process but `keep` (0-2 included: they
/// are the starting hupsafe's, and the user's terminal must not be held by
/// the job).
fn close_all_but(keep: i32) {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (0..1024).collect(),
    };
    for fd in fds {
        if fd != keep {
            // SAFETY: the holder owns no Rust object holding a descriptor
            // it goes on using but `keep` (the launch's fds are borrowed
            // and never used again once the program is forked); closing a
            // number that is not open (the listing's own) just fails.
            unsafe {
                libc::close(fd);
            }
        }
    }
    super::stdio_to_null();
}
