//! The program's side: starting it on the job's pty (fork, its own process
//! group in the foreground of the pty, fds 0-2, the dispositions it
//! inherited, exec), and what its state changes mean for the record and
//! the clients.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::process::Pid;
#[cfg(test)]
use rustix::process::WaitStatus;

use super::super::os;
use crate::registry::{Record, State};

/// What the program is started with.
pub struct Launch<'a> {
    /// The job's id, for `HUPSAFE_JOB`.
    pub job: &'a str,
    /// The pty's slave side: the program's terminal.
    pub slave: &'a OwnedFd,
    /// The program's fds 0-2 that are not the pty.
    pub stdio: &'a [Option<OwnedFd>; 3],
    pub program: &'a Path,
    pub argv0: &'a OsStr,
    pub args: &'a [OsString],
    pub strict: Option<&'a crate::sys::strict::Filter>,
}

/// The dispositions the supervisor changes for itself and the program
/// must get back as the starting `hupsafe` had them.
pub const INHERITED: [i32; 4] = [libc::SIGPIPE, libc::SIGXFSZ, libc::SIGTERM, libc::SIGCHLD];

impl Launch<'_> {
    /// Forks the program (in the job's session holder, with every signal
    /// blocked: `mask` is the mask to give the program back); returns its
    /// pid, which is also its process group's id. `inherited` holds the
    /// dispositions of [`INHERITED`] as they were before the supervisor
    /// changed them.
    ///
    /// The program runs in a process group of its own in the holder's
    /// session, in the foreground of the pty: as a job under a shell. A
    /// program that led a session of its own would be an orphaned process
    /// group, and the kernel discards the terminal's SIGTSTP for those:
    /// Ctrl-Z would do nothing (as under `script`).
    pub fn fork_program(&self, inherited: &[os::Saved], mask: &os::Mask) -> io::Result<i32> {
        // SAFETY: the holder is single-threaded (a fork of the
        // single-threaded supervisor), so the child may run ordinary code
        // until it execs. rustix has no fork: it leaves process creation
        // to libc.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            self.exec_child(inherited, mask);
        }
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(child) = Pid::from_raw(pid) {
            // The child's group, set by both sides (whichever runs first
            // wins; the other's call is a harmless repeat or EACCES after
            // exec).
            let _ = rustix::process::setpgid(Some(child), Some(child));
        }
        Ok(pid)
    }

    /// The program's side of the fork: the --strict filter, a process
    /// group of its own, the terminal's foreground group, fds 0-2 in place,
    /// the dispositions and signal mask it inherited back (SIGHUP stays
    /// ignored), then exec. Never returns.
    fn exec_child(&self, inherited: &[os::Saved], mask: &os::Mask) -> ! {
        if let Some(f) = self.strict {
            if let Err(e) = crate::sys::strict::apply(f) {
                let _ = os::write_all(self.slave, format!("{}\r\n", e.line()).as_bytes());
                // Leaving the failed child without atexit handlers.
                signal_hook::low_level::exit(e.status)
            }
        }
        let _ = rustix::process::setpgid(None, None);
        if self.stdio.iter().any(Option::is_none) {
            // tcsetpgrp from a background group raises SIGTTOU unless it
            // is blocked (it is: every signal is until the mask is
            // restored); the parent cannot do it for us without a race (the
            // program might read its terminal before).
            let _ = rustix::termios::tcsetpgrp(self.slave, rustix::process::getpid());
        }
        for (fd, own) in self.stdio.iter().enumerate() {
            let from = own.as_ref().unwrap_or(self.slave);
            let _ = match fd {
                0 => rustix::stdio::dup2_stdin(from),
                1 => rustix::stdio::dup2_stdout(from),
                _ => rustix::stdio::dup2_stderr(from),
            };
        }
        for s in inherited {
            s.restore();
        }
        mask.restore();
        crate::sys::exec::protect_self();
        std::env::set_var("HUPSAFE_JOB", self.job);
        let err = crate::sys::exec::exec_program(self.program, self.argv0, self.args);
        let _ = os::write_all(os::stdio(2), format!("{}\n", err.line()).as_bytes());
        // Leaving the failed child without running the parent's atexit
        // handlers.
        signal_hook::low_level::exit(err.status)
    }
}

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Killed(i32),
    /// The program ended unwatched: its session holder was killed before
    /// it (by hand: nothing of ours does that), and with it the only
    /// process that could learn how.
    Lost,
}

impl End {
    /// The final record's state.
    pub fn apply(self, record: &mut Record) {
        match self {
            End::Exited(c) => {
                record.state = State::Exited;
                record.exit_code = Some(c);
            }
            End::Killed(s) => {
                record.state = State::Killed;
                record.signal = Some(s);
            }
            End::Lost => {
                record.state = State::Failed;
                record.error = Some(
                    "the job's session holder was killed, so how the program ended is \
                     unknown (its output is in the log)"
                        .into(),
                );
            }
        }
    }

    /// The payload of the [`EXITED`](super::super::proto::EXITED) frame:
    /// `killed u8, value u32`.
    pub fn payload(end: Option<End>) -> Vec<u8> {
        let (kind, value) = match end {
            Some(End::Exited(c)) => (0u8, c as u32),
            Some(End::Killed(s)) => (1u8, s as u32),
            Some(End::Lost) => (0, crate::error::EXIT_FAILURE as u32),
            None => (0, 0),
        };
        let mut payload = vec![kind];
        payload.extend(value.to_be_bytes());
        payload
    }
}

/// A change of the program's state, as waitpid reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Stopped(i32),
    Continued,
    Ended(End),
}

impl Change {
    #[cfg(test)]
    pub fn of(status: WaitStatus) -> Option<Change> {
        Change::of_raw(status.as_raw())
    }

    /// From a raw wait status (the holder reports them so).
    pub fn of_raw(status: i32) -> Option<Change> {
        if libc::WIFSTOPPED(status) {
            Some(Change::Stopped(libc::WSTOPSIG(status)))
        } else if libc::WIFCONTINUED(status) {
            Some(Change::Continued)
        } else if libc::WIFEXITED(status) {
            Some(Change::Ended(End::Exited(libc::WEXITSTATUS(status))))
        } else if libc::WIFSIGNALED(status) {
            Some(Change::Ended(End::Killed(libc::WTERMSIG(status))))
        } else {
            None
        }
    }

    /// The record's state while the program lives (an end is applied by
    /// the supervisor once the pty is drained).
    pub fn apply(self, record: &mut Record) {
        match self {
            Change::Stopped(sig) => {
                record.state = State::Stopped;
                record.signal = Some(sig);
            }
            Change::Continued => {
                record.state = State::Running;
                record.signal = None;
            }
            Change::Ended(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::process::WaitOptions;
    use std::process::{Command, Stdio};

    fn record() -> Record {
        let mut r = Record::new("1", &[OsString::from("sleep")]);
        r.state = State::Running;
        r
    }

    /// Waits (blocking) for the next change of a child of this test.
    fn wait_change(pid: i32) -> Change {
        let how = WaitOptions::UNTRACED | WaitOptions::CONTINUED;
        let (_, status) = rustix::process::waitpid(Pid::from_raw(pid), how)
            .unwrap()
            .unwrap();
        Change::of(status).unwrap()
    }

    fn kill(pid: i32, sig: rustix::process::Signal) {
        rustix::process::kill_process(Pid::from_raw(pid).unwrap(), sig).unwrap();
    }

    #[test]
    fn stops_continues_and_a_kill_reach_the_record() {
        use rustix::process::Signal;
        // Reaped below by waitpid, not by std.
        let pid = Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
            .id() as i32;
        let mut r = record();

        kill(pid, Signal::STOP);
        let c = wait_change(pid);
        assert_eq!(c, Change::Stopped(libc::SIGSTOP));
        c.apply(&mut r);
        assert_eq!((r.state, r.signal), (State::Stopped, Some(libc::SIGSTOP)));

        kill(pid, Signal::CONT);
        let c = wait_change(pid);
        assert_eq!(c, Change::Continued);
        c.apply(&mut r);
        assert_eq!((r.state, r.signal), (State::Running, None));

        kill(pid, Signal::TERM);
        let c = wait_change(pid);
        assert_eq!(c, Change::Ended(End::Killed(libc::SIGTERM)));
        c.apply(&mut r);
        assert_eq!(r.state, State::Running, "an end waits for the drain");
        End::Killed(libc::SIGTERM).apply(&mut r);
        assert_eq!((r.state, r.signal), (State::Killed, Some(libc::SIGTERM)));
        assert_eq!(r.shell_status(), Some(128 + libc::SIGTERM));
    }

    #[test]
    fn an_exit_code_reaches_the_record() {
        let pid = Command::new("sh")
            .args(["-c", "exit 3"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
            .id() as i32;
        let c = wait_change(pid);
        assert_eq!(c, Change::Ended(End::Exited(3)));
        let mut r = record();
        End::Exited(3).apply(&mut r);
        assert_eq!((r.state, r.exit_code), (State::Exited, Some(3)));
        assert_eq!(r.shell_status(), Some(3));
        // Reaped: nothing more to report.
        let again = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::NOHANG);
        assert!(again.is_err(), "{again:?}");
    }

    #[test]
    fn exit_frames_say_how_the_program_ended() {
        use super::super::super::proto::u32_at;
        let p = End::payload(Some(End::Exited(3)));
        assert_eq!((p[0], u32_at(&p, 1)), (0, Some(3)));
        let p = End::payload(Some(End::Killed(libc::SIGKILL)));
        assert_eq!((p[0], u32_at(&p, 1)), (1, Some(libc::SIGKILL as u32)));
        let p = End::payload(Some(End::Lost));
        assert_eq!(
            (p[0], u32_at(&p, 1)),
            (0, Some(crate::error::EXIT_FAILURE as u32))
        );
        let mut r = record();
        End::Lost.apply(&mut r);
        assert_eq!(r.state, State::Failed);
        assert!(r
            .error
            .unwrap()
            .contains("how the program ended is unknown"));
        let p = End::payload(None);
        assert_eq!((p[0], u32_at(&p, 1)), (0, Some(0)));
    }
}
