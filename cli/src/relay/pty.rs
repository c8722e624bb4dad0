//! The job's pseudo-terminal, and the user's terminal settings.
//!
//! The pair is opened with posix_openpt (rustix's `openpt`) and set up here
//! rather than with a pty crate: the program's side must keep the inherited
//! SIG_IGN for SIGHUP (portable-pty resets it: docs/HANGUPS.md, "Dependency facts"), and
//! everything else it needs is a handful of ioctls.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::OptionalActions;
pub use rustix::termios::{Termios, Winsize};

/// A pseudo-terminal: the master side stays with the supervisor, the
/// slave becomes the program's terminal.
pub struct Pair {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new pty pair; neither side becomes anyone's controlling
/// terminal by being opened.
pub fn open_pair() -> io::Result<Pair> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::with_capacity(128))?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Pair { master, slave })
}

/// The path of the slave side of the pty whose master is `fd`.
pub fn name(master: impl AsFd) -> Option<String> {
    let name = rustix::pty::ptsname(master, Vec::with_capacity(128)).ok()?;
    Some(name.to_string_lossy().into_owned())
}

pub fn termios(fd: impl AsFd) -> Option<Termios> {
    rustix::termios::tcgetattr(fd).ok()
}

/// Whether two sets of terminal modes agree in everything `stty` sets
/// (flags, special characters, speeds).
pub fn same_modes(a: &Termios, b: &Termios) -> bool {
    use rustix::termios::SpecialCodeIndex as I;
    let codes = [
        I::VINTR,
        I::VQUIT,
        I::VERASE,
        I::VKILL,
        I::VEOF,
        I::VTIME,
        I::VMIN,
        I::VSTART,
        I::VSTOP,
        I::VSUSP,
        I::VEOL,
        I::VREPRINT,
        I::VDISCARD,
        I::VWERASE,
        I::VLNEXT,
        I::VEOL2,
    ];
    a.input_modes == b.input_modes
        && a.output_modes == b.output_modes
        && a.control_modes == b.control_modes
        && a.local_modes == b.local_modes
        && a.input_speed() == b.input_speed()
        && a.output_speed() == b.output_speed()
        && codes
            .iter()
            .all(|&i| a.special_codes[i] == b.special_codes[i])
}

/// `t` with what a shell's line editor turns off for its prompt turned on
/// again: canonical input, echo, signals, CR read as NL, NL written as CR
/// NL, and the keys it takes for itself (readline: ^V, ^O; zsh's ZLE also
/// ^Z and ^\\) back to their usual values if it disabled them. The rest
/// (the other keys, flow control, speeds) is left as it is. For a job
/// started in the background (`hupsafe CMD &`): the terminal it copies
/// then is in readline's or ZLE's modes, which the shell sets again as
/// soon as it has started the job.
pub fn cooked(mut t: Termios) -> Termios {
    use rustix::termios::SpecialCodeIndex as C;
    use rustix::termios::{InputModes as I, LocalModes as L, OutputModes as O};
    t.local_modes |= L::ICANON | L::ECHO | L::ECHOE | L::ECHOK | L::ISIG | L::IEXTEN;
    t.input_modes |= I::ICRNL;
    t.input_modes &= !(I::INLCR | I::IGNCR);
    t.output_modes |= O::OPOST | O::ONLCR;
    // (0 is _POSIX_VDISABLE on Linux: the key is off.)
    for (code, key) in [
        (C::VINTR, 0x03),
        (C::VQUIT, 0x1c),
        (C::VSUSP, 0x1a),
        (C::VLNEXT, 0x16),
        (C::VDISCARD, 0x0f),
    ] {
        if t.special_codes[code] == 0 {
            t.special_codes[code] = key;
        }
    }
    t
}

/// Sets terminal modes once the output written so far has gone out.
pub fn set_termios(fd: impl AsFd, t: &Termios) -> io::Result<()> {
    Ok(rustix::termios::tcsetattr(fd, OptionalActions::Drain, t)?)
}

pub fn winsize(fd: impl AsFd) -> Option<Winsize> {
    rustix::termios::tcgetwinsize(fd)
        .ok()
        .filter(|ws| (ws.ws_row, ws.ws_col) != (0, 0))
}

/// Sets the window size; on a master, the kernel sends SIGWINCH to the
/// terminal's foreground process group when the size changes.
pub fn set_winsize(fd: impl AsFd, ws: &Winsize) -> io::Result<()> {
    Ok(rustix::termios::tcsetwinsize(fd, *ws)?)
}

/// Whether this process may use terminal `fd` as its foreground: it is in
/// the terminal's foreground process group, or the terminal is not its
/// controlling terminal at all (no job control applies then).
pub fn in_foreground(fd: impl AsFd) -> bool {
    let fg = super::os::tcgetpgrp(fd);
    fg == -1 || fg == super::os::getpgrp()
}

/// Whether this process, writing to terminal `fd` now, would be stopped
/// by SIGTTOU: it is in the background and the terminal has `tostop` set.
pub fn writes_would_stop(fd: impl AsFd) -> bool {
    !in_foreground(&fd)
        && termios(&fd).is_some_and(|t| t.local_modes.contains(rustix::termios::LocalModes::TOSTOP))
}

/// The user's terminal in raw mode while the relay owns it: keys go to the
/// job's terminal untouched (its line discipline turns Ctrl-C into SIGINT,
/// Ctrl-Z into SIGTSTP), output comes back already processed.
pub struct RawMode {
    fd: BorrowedFd<'static>,
    saved: Option<Termios>,
    active: bool,
    /// Output processing stays as it was (see [`RawMode::keeping_output`]).
    keep_output: bool,
}

impl RawMode {
    pub fn new(fd: BorrowedFd<'static>) -> RawMode {
        RawMode {
            fd,
            saved: None,
            active: false,
            keep_output: false,
        }
    }

    /// Raw input, but output processed as before (`onlcr` and the rest):
    /// for a relay whose output goes to stderr because stdout is a pipe,
    /// whose other end (`| tee log`, `| less`) writes to the same terminal
    /// and counts on it turning `\n` into `\r\n`. What the relay writes is
    /// already processed by the job's pty, so a `\r\n` shows as `\r\r\n`,
    /// which looks the same (a program that turns `onlcr` off on its own
    /// terminal and moves down with a bare `\n` would see its column reset:
    /// the price of a readable `| tee`).
    pub fn keeping_output(mut self) -> RawMode {
        self.keep_output = true;
        self
    }

    /// Raw mode on, the modes found kept to restore. Also when it was on
    /// already but the modes are no longer raw: a shell puts its own back
    /// when it takes the terminal from a job stopped without warning
    /// (SIGSTOP), and keeps them at `fg`.
    pub fn enter(&mut self) {
        let Some(t) = termios(self.fd) else {
            return;
        };
        let mut raw = t.clone();
        raw.make_raw();
        if self.keep_output {
            raw.output_modes = t.output_modes;
        }
        if self.active && same_modes(&raw, &t) {
            return;
        }
        // At once: until raw mode is on, keys typed are handled by the
        // terminal's own line discipline (echoed there, held until Enter,
        // and an EOF key becomes a NUL once the mode changes), and waiting
        // for output to drain first can take a while on a busy pty.
        if rustix::termios::tcsetattr(self.fd, OptionalActions::Now, &raw).is_ok() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pair_carries_size_and_modes_and_is_nobodys_terminal() {
        let pair = open_pair().unwrap();
        let name = name(&pair.master).unwrap();
        assert!(name.starts_with("/dev/pts/"), "{name}");
        // A fresh pty has no size until someone sets one.
        assert!(winsize(&pair.slave).is_none());
        let ws = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        set_winsize(&pair.master, &ws).unwrap();
        let got = winsize(&pair.slave).unwrap();
        assert_eq!((got.ws_row, got.ws_col), (33, 101));

        let mut t = termios(&pair.slave).unwrap();
        assert!(t.local_modes.contains(rustix::termios::LocalModes::ECHO));
        t.local_modes.remove(rustix::termios::LocalModes::ECHO);
        set_termios(&pair.slave, &t).unwrap();
        let back = termios(&pair.slave).unwrap();
        assert!(!back.local_modes.contains(rustix::termios::LocalModes::ECHO));

        // Opened with O_NOCTTY: not our controlling terminal, so no job
        // control applies to us there.
        assert!(in_foreground(&pair.slave));
        assert_eq!(super::super::os::tcgetpgrp(&pair.slave), -1);
    }
}
