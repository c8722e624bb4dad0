//! The few system calls the relay makes, wrapped so that the rest of it
//! reads as a description of the relay: EINTR retried, errors as
//! `io::Error`, and signals turned into wake-ups on a pipe that `poll` can
//! watch (the self-pipe trick, done by `signal-hook`).
//!
//! The calls themselves are `rustix`'s. What stays `unsafe` here is what
//! neither rustix nor signal-hook offers safely: reading a signal's
//! disposition and setting it to SIG_DFL or SIG_IGN (rustix leaves
//! sigaction to libc; signal-hook only adds handlers), the signal mask
//! (blocked around the program's fork, a signal unblocked to die of it),
//! and naming a realtime signal.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub use rustix::event::{PollFd, PollFlags};
use rustix::io::retry_on_intr;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};
pub use rustix::process::{Pid, Signal};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

/// Descriptor 0, 1 or 2.
pub fn stdio(fd: i32) -> BorrowedFd<'static> {
    match fd {
        0 => rustix::stdio::stdin(),
        1 => rustix::stdio::stdout(),
        _ => rustix::stdio::stderr(),
    }
}

/// One read(2), retried on EINTR.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    Ok(retry_on_intr(|| rustix::io::read(fd.as_fd(), &mut *buf))?)
}

/// One write(2), retried on EINTR.
pub fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    Ok(retry_on_intr(|| rustix::io::write(fd.as_fd(), buf))?)
}

/// Writes everything, waiting for room when the descriptor is
/// non-blocking (a terminal shared with a program that set O_NONBLOCK).
pub fn write_all(fd: impl AsFd, mut buf: &[u8]) -> io::Result<()> {
    let fd = fd.as_fd();
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut p = [PollFd::new(&fd, PollFlags::OUT)];
                poll(&mut p, None)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One send(2) that neither blocks nor raises SIGPIPE.
pub fn send(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    Ok(retry_on_intr(|| rustix::net::send(fd.as_fd(), buf, flags))?)
}

/// One sendmsg(2) of `bytes` with `fd` passed along (SCM_RIGHTS), neither
/// blocking nor raising SIGPIPE. The descriptor travels with the first
/// byte: a short send still passed it.
pub fn send_with_fd(sock: impl AsFd, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    let iov = [io::IoSlice::new(bytes)];
    Ok(retry_on_intr(|| {
        rustix::net::sendmsg(sock.as_fd(), &iov, &mut control, flags)
    })?)
}

/// One recvmsg(2) into `buf`. Descriptors the peer passed with these bytes
/// (closed on exec) land in `passed`: the last one is kept, any other is
/// closed at once, so a peer cannot make us hold descriptors.
pub fn recv_keeping_fd(
    sock: impl AsFd,
    buf: &mut [u8],
    passed: &mut Option<OwnedFd>,
) -> io::Result<usize> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [io::IoSliceMut::new(buf)];
    let got = retry_on_intr(|| {
        rustix::net::recvmsg(
            sock.as_fd(),
            &mut iov,
            &mut control,
            RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
        )
    })?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                *passed = Some(fd);
            }
        }
    }
    Ok(got.bytes)
}

/// The terminal `fd` writes to, opened again (through /proc/self/fd): a
/// description of its own, so the flags another process sets on it
/// (O_NONBLOCK) do not reach `fd`'s, which the user's shell shares. Never
/// taken as a controlling terminal; checked to be the same device.
pub fn reopen_terminal(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let again = rustix::fs::open(
        path.as_str(),
        OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let (was, is) = (rustix::fs::fstat(fd)?, rustix::fs::fstat(&again)?);
    if !isatty(&again) || was.st_rdev != is.st_rdev || was.st_ino != is.st_ino {
        return Err(io::ErrorKind::InvalidData.into());
    }
    Ok(again)
}

/// Whether `fd` is a pipe or a socket: another process reads it.
pub fn is_pipe(fd: impl AsFd) -> bool {
    use rustix::fs::FileType;
    rustix::fs::fstat(fd).is_ok_and(|st| {
        matches!(
            FileType::from_raw_mode(st.st_mode),
            FileType::Fifo | FileType::Socket
        )
    })
}

pub fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd.as_fd())?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

pub fn isatty(fd: impl AsFd) -> bool {
    rustix::termios::isatty(fd)
}

/// A copy of `fd` at 10 or above, closed on exec.
pub fn dup_high(fd: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 10)?)
}

/// poll(2), `None` waiting for ever; an interruption counts as a timeout
/// with nothing ready.
pub fn poll(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let timeout = timeout.map(|d| rustix::event::Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    });
    match rustix::event::poll(fds, timeout.as_ref()) {
        Ok(n) => Ok(n),
        Err(rustix::io::Errno::INTR) => {
            for p in fds.iter_mut() {
                p.clear_revents();
            }
            Ok(0)
        }
        Err(e) => Err(e.into()),
    }
}

/// A connected pair of stream sockets, both closed on exec.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// The uid of the process at the other end of a unix socket.
pub fn peer_uid(fd: impl AsFd) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(fd)?.uid.as_raw())
}

/// Refuses a peer that is not this user (`SO_PEERCRED`: the credentials
/// of whoever created the other end's socket, fixed at connect or listen,
/// so a server cannot pass itself off as another user).
pub fn check_peer_is_me(fd: impl AsFd) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    match peer_uid(fd)? {
        uid if uid == me => Ok(()),
        uid => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the process at the other end belongs to uid {uid}, not to you (uid {me}): \
                 not a supervisor of yours; nothing was sent to it"
            ),
        )),
    }
}

fn sockaddr(path: &Path) -> io::Result<SocketAddrUnix> {
    use std::os::unix::ffi::OsStrExt;
    // sun_path holds 108 bytes, the terminating NUL included.
    if path.as_os_str().as_bytes().len() >= 108 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long",
        ));
    }
    Ok(SocketAddrUnix::new(path)?)
}

fn stream_socket() -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// A listening unix socket at `path`, created 0600 (the umask is narrowed
/// around bind, the only way to choose a socket file's mode).
pub fn listen(path: &Path) -> io::Result<OwnedFd> {
    use rustix::fs::Mode;
    let fd = stream_socket()?;
    let addr = sockaddr(path)?;
    let old = rustix::process::umask(Mode::from_raw_mode(0o177));
    let r = rustix::net::bind(&fd, &addr);
    rustix::process::umask(old);
    r?;
    rustix::net::listen(&fd, 16)?;
    Ok(fd)
}

/// A connection to the unix socket at `path`.
pub fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = stream_socket()?;
    let addr = sockaddr(path)?;
    retry_on_intr(|| rustix::net::connect(&fd, &addr))?;
    Ok(fd)
}

/// Accepts one pending connection, non-blocking and closed on exec.
pub fn accept(listener: impl AsFd) -> io::Result<OwnedFd> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    Ok(retry_on_intr(|| {
        rustix::net::accept_with(listener.as_fd(), flags)
    })?)
}

/// Signals delivered as wake-ups on a socket that `poll` can watch.
pub struct SignalPipe {
    delivery: SignalDelivery<UnixStream, SignalOnly>,
}

impl SignalPipe {
    /// Routes `signals` to a new pipe.
    pub fn install(signals: &[i32]) -> io::Result<SignalPipe> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, signals)?;
        Ok(SignalPipe { delivery })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.delivery.get_read().as_fd()
    }

    /// The signals that arrived since the last call, as a bit set
    /// (bit N-1 for signal N).
    pub fn take(&mut self) -> u64 {
        self.delivery
            .pending()
            .filter(|s| (1..=64).contains(s))
            .fold(0, |set, s| set | 1 << (s - 1))
    }
}

/// Whether signal `sig` is in a set from [`SignalPipe::take`].
pub fn has(set: u64, sig: i32) -> bool {
    set & (1 << (sig - 1)) != 0
}

/// A signal by number: a named one, or a realtime one (from a client's
/// frame, or the signal that killed the program).
pub fn signal(sig: i32) -> Option<Signal> {
    if let Some(s) = Signal::from_named_raw(sig) {
        return Some(s);
    }
    if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&sig) {
        // SAFETY: a real signal number, within libc's SIGRTMIN..=SIGRTMAX
        // (so not one of those glibc keeps for itself below SIGRTMIN), and
        // the Signal is only ever passed to kill(2), never blocked or
        // handled here. rustix names realtime signals only through this
        // unchecked constructor.
        return Some(unsafe { Signal::from_raw_unchecked(sig) });
    }
    None
}

/// Sends `sig` to process group `pgid`.
pub fn kill_group(pgid: i32, sig: Signal) -> io::Result<()> {
    let pgid = Pid::from_raw(pgid).ok_or(io::ErrorKind::InvalidInput)?;
    Ok(rustix::process::kill_process_group(pgid, sig)?)
}

/// The foreground process group of terminal `fd` as tcgetpgrp(3) gives
/// it: -1 on error, 0 when the terminal has none (rustix reports that as
/// EOPNOTSUPP).
pub fn tcgetpgrp(fd: impl AsFd) -> i32 {
    match rustix::termios::tcgetpgrp(fd) {
        Ok(p) => p.as_raw_nonzero().get(),
        Err(rustix::io::Errno::OPNOTSUPP) => 0,
        Err(_) => -1,
    }
}

/// This process's group.
pub fn getpgrp() -> i32 {
    rustix::process::getpgrp().as_raw_nonzero().get()
}

/// A disposition without a handler of ours.
#[derive(Clone, Copy)]
pub enum Disposition {
    Default,
    Ignore,
}

/// Sets a signal's disposition to SIG_DFL or SIG_IGN, restarting
/// interrupted system calls. (Handlers of ours come from signal-hook:
/// [`SignalPipe`].)
pub fn set_disposition(sig: i32, d: Disposition) -> io::Result<()> {
    let handler = match d {
        Disposition::Default => libc::SIG_DFL,
        Disposition::Ignore => libc::SIG_IGN,
    };
    // SAFETY: no crate sets SIG_DFL or SIG_IGN safely (rustix leaves
    // sigaction to libc, signal-hook only installs handlers, nix's is an
    // unsafe fn); a zeroed sigaction with an empty mask is valid, and
    // neither disposition runs any code of ours.
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether signal `sig` is ignored (SIG_IGN).
pub fn is_ignored(sig: i32) -> bool {
    Saved::of(sig).action.sa_sigaction == libc::SIG_IGN
}

/// Whether signal `sig` runs a handler (neither SIG_DFL nor SIG_IGN).
pub fn is_handled(sig: i32) -> bool {
    let h = Saved::of(sig).action.sa_sigaction;
    h != libc::SIG_IGN && h != libc::SIG_DFL
}

/// Unblocks `sig` in this thread.
pub fn unblock(sig: i32) {
    // SAFETY: the set is built by libc's own functions from a zeroed one.
    // rustix's sigprocmask is for runtimes only (unsafe); nix has a safe
    // one, but is not worth a second system-call crate for three calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// The signal mask as it was before [`block_all`], to put back.
pub struct Mask(libc::sigset_t);

/// Blocks every signal (those that cannot be blocked aside) until the
/// returned mask is restored: around a fork, so that a signal meant for the
/// program that reaches its process before the exec waits for the
/// program's own dispositions instead of running a handler of ours.
pub fn block_all() -> Mask {
    // SAFETY: as for unblock; sigprocmask writes the old mask into a
    // zeroed set.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        Mask(old)
    }
}

impl Mask {
    pub fn restore(&self) {
        // SAFETY: putting back a mask sigprocmask gave us (libc, for the
        // reason given at `unblock`).
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

/// A signal's disposition as it was, to put back later (the program's
/// inherited ones; our handler around a stop of our own).
pub struct Saved {
    sig: i32,
    action: libc::sigaction,
}

impl Saved {
    pub fn of(sig: i32) -> Saved {
        // SAFETY: sigaction only reads the disposition into `action`, a
        // plain struct for which all zeroes is valid (no crate reads a
        // disposition: see set_disposition).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut action);
            Saved { sig, action }
        }
    }

    pub fn restore(&self) {
        // SAFETY: putting back a disposition sigaction gave us (a handler
        // it names is still installed code of this process); libc, for
        // the reason given at `set_disposition`.
        unsafe {
            libc::sigaction(self.sig, &self.action, std::ptr::null_mut());
        }
    }
}
