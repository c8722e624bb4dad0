//! The job's pseudo-terminal, and the user's terminal settings.
//!
//! The pair is opened with posix_openpt and set up here rather than with a
//! pty crate: the program's side must keep the inherited SIG_IGN for
//! SIGHUP (portable-pty resets it, FIELD-NOTES section 10), and everything
//! else it needs is a handful of ioctls.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::os::cvt;

/// A pseudo-terminal: the master side stays with the supervisor, the
/// slave becomes the program's terminal.
pub struct Pair {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new pty pair; neither side becomes anyone's controlling
/// terminal by being opened.
pub fn open_pair() -> io::Result<Pair> {
    // SAFETY: posix_openpt returns a fresh descriptor that we then own.
    let master = unsafe {
        OwnedFd::from_raw_fd(cvt(libc::posix_openpt(
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?)
    };
    let m = master.as_raw_fd();
    // SAFETY: grantpt/unlockpt on a master; ptsname_r writes a
    // NUL-terminated name into the buffer.
    let slave = unsafe {
        cvt(libc::grantpt(m))?;
        cvt(libc::unlockpt(m))?;
        let mut name = [0 as libc::c_char; 128];
        let r = libc::ptsname_r(m, name.as_mut_ptr(), name.len());
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        let name = CStr::from_ptr(name.as_ptr());
        OwnedFd::from_raw_fd(cvt(libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?)
    };
    Ok(Pair { master, slave })
}

/// The path of the slave side of the pty whose master is `fd`.
pub fn name(master: RawFd) -> Option<String> {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name into the buffer.
    unsafe {
        if libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) != 0 {
            return None;
        }
        Some(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned())
    }
}

pub fn termios(fd: RawFd) -> Option<libc::termios> {
    // SAFETY: tcgetattr fills the struct on success.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
    }
}

/// Sets terminal modes once the output written so far has gone out.
pub fn set_termios(fd: RawFd, t: &libc::termios) -> io::Result<()> {
    set_termios_when(fd, t, libc::TCSADRAIN)
}

fn set_termios_when(fd: RawFd, t: &libc::termios, when: libc::c_int) -> io::Result<()> {
    // SAFETY: tcsetattr reads the struct.
    cvt(unsafe { libc::tcsetattr(fd, when, t) }).map(drop)
}

pub fn winsize(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: TIOCGWINSZ fills the struct on success.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && (ws.ws_row, ws.ws_col) != (0, 0))
            .then_some(ws)
    }
}

/// Sets the window size; on a master, the kernel sends SIGWINCH to the
/// terminal's foreground process group when the size changes.
pub fn set_winsize(fd: RawFd, ws: &libc::winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads the struct.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws) }).map(drop)
}

/// Whether this process may use terminal `fd` as its foreground: it is in
/// the terminal's foreground process group, or the terminal is not its
/// controlling terminal at all (no job control applies then).
pub fn in_foreground(fd: RawFd) -> bool {
    // SAFETY: plain queries.
    unsafe {
        let fg = libc::tcgetpgrp(fd);
        fg == -1 || fg == libc::getpgrp()
    }
}

/// The user's terminal in raw mode while the relay owns it: keys go to the
/// job's terminal untouched (its line discipline turns Ctrl-C into SIGINT,
/// Ctrl-Z into SIGTSTP), output comes back already processed.
pub struct RawMode {
    fd: RawFd,
    saved: Option<libc::termios>,
    active: bool,
}

impl RawMode {
    pub fn new(fd: RawFd) -> RawMode {
        RawMode {
            fd,
            saved: None,
            active: false,
        }
    }

    pub fn enter(&mut self) {
        if self.active {
            return;
        }
        let Some(t) = termios(self.fd) else {
            return;
        };
        let mut raw = t;
        // SAFETY: cfmakeraw edits the struct in place.
        unsafe { libc::cfmakeraw(&mut raw) };
        // At once: until raw mode is on, keys typed are handled by the
        // terminal's own line discipline (echoed there, held until Enter,
        // and an EOF key becomes a NUL once the mode changes), and waiting
        // for output to drain first can take a while on a busy pty.
        if set_termios_when(self.fd, &raw, libc::TCSANOW).is_ok() {
            self.saved = Some(t);
            self.active = true;
        }
    }

    pub fn leave(&mut self) {
        if !self.active {
            return;
        }
        if let Some(t) = &self.saved {
            let _ = set_termios(self.fd, t);
        }
        self.active = false;
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.leave();
    }
}
