//! A job's record: what it runs, where, and how it stands (`record.json`),
//! and the process names (pid plus start time) it is checked against.

use std::ffi::OsString;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::valid_id;

/// The record format's version; a reader skips records of another one.
pub const RECORD_VERSION: u32 = 1;

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A process named so that a recycled pid is never mistaken for it: its
/// pid and its start time in clock ticks since boot (`/proc/PID/stat`
/// field 22).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcId {
    pub pid: i32,
    pub start: u64,
}

impl ProcId {
    /// The process `pid`, if it exists (zombies included).
    pub fn of(pid: i32) -> Option<ProcId> {
        let (_, start) = stat_of(pid)?;
        Some(ProcId { pid, start })
    }

    /// This process.
    pub fn current() -> Option<ProcId> {
        ProcId::of(std::process::id() as i32)
    }

    /// Whether this very process still runs (not a zombie, not a new
    /// process that got the same pid).
    pub fn is_alive(&self) -> bool {
        matches!(stat_of(self.pid), Some((state, start))
            if start == self.start && state != 'Z' && state != 'X')
    }
}

/// State letter and start time of `pid` (see [`crate::sys::proc::stat`]).
fn stat_of(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let st = crate::sys::proc::stat(pid).ok()?;
    Some((st.state, st.start))
}

/// What a job is doing, as its writer last recorded it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Registered; the supervisor has not started the program yet.
    Starting,
    Running,
    /// Stopped by a signal (Ctrl-Z, SIGSTOP); `signal` says which.
    Stopped,
    /// Exited by itself; `exit_code` says how.
    Exited,
    /// Killed by a signal; `signal` says which.
    Killed,
    /// The supervisor could not start the program; `error` says why.
    Failed,
}

impl State {
    /// Whether the record is final: nothing will write it again.
    pub fn is_final(self) -> bool {
        matches!(self, State::Exited | State::Killed | State::Failed)
    }
}

/// One job's `record.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Record {
    pub version: u32,
    pub id: String,
    /// The command as typed (lossily UTF-8).
    pub command: Vec<String>,
    pub cwd: String,
    pub started_ms: u64,
    /// Who writes this record: the supervisor (or, while `starting`, the
    /// `hupsafe` that registered the job).
    pub writer: Option<ProcId>,
    /// The program; its process group has the same id.
    pub program: Option<ProcId>,
    pub state: State,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub ended_ms: Option<u64>,
    /// Clients attached right now.
    #[serde(default)]
    pub attached: u32,
    /// Bytes written to the log.
    #[serde(default)]
    pub bytes_logged: u64,
    /// Bytes the program wrote that could not be logged.
    #[serde(default)]
    pub bytes_lost: u64,
    /// Why the log could not be written, the last time it could not.
    #[serde(default)]
    pub log_error: Option<String>,
    /// Why the job failed to start.
    #[serde(default)]
    pub error: Option<String>,
    /// The job's terminal (the pty's slave side).
    #[serde(default)]
    pub tty: Option<String>,
    /// The job this one was started from (`HUPSAFE_JOB` of the starting
    /// hupsafe), if any: relays nest.
    #[serde(default)]
    pub parent: Option<String>,
}

impl Record {
    pub fn new(id: &str, command: &[OsString]) -> Record {
        Record {
            version: RECORD_VERSION,
            id: id.to_string(),
            command: command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            cwd: std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
            started_ms: now_ms(),
            writer: ProcId::current(),
            program: None,
            state: State::Starting,
            exit_code: None,
            signal: None,
            ended_ms: None,
            attached: 0,
            bytes_logged: 0,
            bytes_lost: 0,
            log_error: None,
            error: None,
            tty: None,
            parent: std::env::var("HUPSAFE_JOB").ok().filter(|j| valid_id(j)),
        }
    }

    /// What `ps` shows: the recorded state, unless the writer is gone
    /// without writing a final record.
    pub fn status(&self) -> Status {
        match self.state {
            State::Exited => Status::Exited(self.exit_code.unwrap_or(0)),
            State::Killed => Status::Killed(self.signal.unwrap_or(0)),
            State::Failed => Status::Failed,
            live => {
                if !self.writer.is_some_and(|w| w.is_alive()) {
                    Status::Lost
                } else if live == State::Stopped {
                    Status::Stopped
                } else if live == State::Starting {
                    Status::Starting
                } else {
                    Status::Running
                }
            }
        }
    }

    /// The exit status a shell would report: the code, or 128+N for signal N.
    pub fn shell_status(&self) -> Option<i32> {
        match self.state {
            State::Exited => self.exit_code,
            State::Killed => self.signal.map(|s| 128 + s),
            _ => None,
        }
    }
}

/// A job's state as the user sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Starting,
    Running,
    Stopped,
    Exited(i32),
    Killed(i32),
    Failed,
    /// Not final, but whoever should write the final record is gone
    /// (supervisor killed, machine rebooted).
    Lost,
}

impl Status {
    pub fn is_live(self) -> bool {
        matches!(self, Status::Starting | Status::Running | Status::Stopped)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Starting => f.write_str("starting"),
            Status::Running => f.write_str("running"),
            Status::Stopped => f.write_str("stopped"),
            Status::Exited(c) => write!(f, "exited {c}"),
            Status::Killed(s) => write!(f, "killed by {}", crate::sys::signame::name(*s)),
            Status::Failed => f.write_str("failed"),
            Status::Lost => f.write_str("lost"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_this_process() {
        let me = ProcId::current().expect("own stat");
        assert!(me.start > 0);
        assert!(me.is_alive());
        let other = ProcId {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(
            !other.is_alive(),
            "a different start time is another process"
        );
    }

    #[test]
    fn status_of_a_record_whose_writer_is_gone_is_lost() {
        let mut r = Record::new("1", &[OsString::from("true")]);
        r.state = State::Running;
        r.writer = Some(ProcId {
            pid: i32::MAX,
            start: 1,
        });
        assert_eq!(r.status(), Status::Lost);
        r.writer = ProcId::current();
        assert_eq!(r.status(), Status::Running);
        r.state = State::Killed;
        r.signal = Some(libc::SIGTERM);
        assert_eq!(r.status().to_string(), "killed by SIGTERM");
        assert_eq!(r.shell_status(), Some(143));
    }
}
