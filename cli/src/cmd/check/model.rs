//! What a verdict of `check` is made of: facts, surroundings, reasons, fixes, verdicts.
//!
//! What `check` could see of a process ([`Seen`]: its [`Facts`] and
//! [`Surroundings`]), the reasons, fixes and verdicts, and what a signal
//! disposition means for SIGHUP. Data and small pure rules; the hangup
//! rules themselves are in [`super::assess`].

use std::io;

use serde::Serialize;

use crate::error::{EXIT_BAD_INPUT, EXIT_NOT_SAFE};
use crate::sys::logind::Settings;
use crate::sys::proc::{Fd, Stat, Status};

/// How bad one reason is.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Explains why it survives.
    Ok,
    /// It may not survive: it depends on what the program does next, or
    /// on something that cannot be seen from here.
    Risk,
    /// The hangup kills it.
    Fatal,
}

/// What would make a process safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Protect the running process (rescue), or restart it under hupsafe.
    Protect,
    /// The shim cannot reach a static program: the relay or --strict.
    Strict,
    /// Mark the command, so that typed at the prompt it runs protected.
    Mark(String),
    /// Continue the stopped job, or take it off the shell's list.
    Resume,
    /// Output away from the terminal.
    Redirect,
    /// Leave the login session's scope.
    LeaveScope,
    /// Let the user manager outlive the last logout.
    Linger(String),
}

/// One reason for a verdict: how bad, in words, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub severity: Severity,
    pub text: String,
    pub fixes: Vec<Fix>,
}

/// A reason with at most one fix.
pub fn reason(severity: Severity, text: impl Into<String>, fix: Option<Fix>) -> Reason {
    Reason {
        severity,
        text: text.into(),
        fixes: fix.into_iter().collect(),
    }
}

/// The verdict on one process.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    #[serde(rename = "survives")]
    Survives,
    #[serde(rename = "at risk")]
    AtRisk,
    #[serde(rename = "dies")]
    Dies,
    /// A zombie: it already exited.
    #[serde(rename = "exited")]
    Exited,
    #[serde(rename = "cannot inspect")]
    CannotInspect,
    #[serde(rename = "no such process")]
    NoSuchProcess,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Survives => "survives",
            Verdict::AtRisk => "at risk",
            Verdict::Dies => "dies",
            Verdict::Exited => "exited",
            Verdict::CannotInspect => "cannot inspect",
            Verdict::NoSuchProcess => "no such process",
        }
    }

    pub fn exit_status(self) -> i32 {
        match self {
            Verdict::Survives => 0,
            Verdict::NoSuchProcess => EXIT_BAD_INPUT,
            _ => EXIT_NOT_SAFE,
        }
    }

    pub fn of(reasons: &[Reason]) -> Verdict {
        match reasons.iter().map(|r| r.severity).max() {
            Some(Severity::Fatal) => Verdict::Dies,
            Some(Severity::Risk) => Verdict::AtRisk,
            _ => Verdict::Survives,
        }
    }
}

/// Who holds the master side of a terminal, as far as a hangup goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A hupsafe supervisor: the relay's own terminal.
    Relay {
        supervisor: i32,
        job: Option<String>,
    },
    /// tmux or screen: a dropped connection does not hang it up.
    Multiplexer { name: String, pid: i32 },
    /// A terminal emulator, sshd, or unknown: it can go away.
    Plain,
}

/// What a signal does to the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Disposition {
    pub ignored: bool,
    pub caught: bool,
    /// Blocked by at least one thread.
    pub blocked: bool,
    /// A thread waits for it in sigwait (which queues it like a block).
    pub awaited: bool,
    pub pending: bool,
}

impl Disposition {
    pub fn of(status: &Status, sig: i32, blocked: bool, awaited: bool) -> Disposition {
        Disposition {
            ignored: status.ignores(sig),
            caught: status.catches(sig),
            blocked,
            awaited,
            pending: status.pending(sig),
        }
    }

    /// Queued rather than discarded or delivered at once.
    pub fn queued(&self) -> bool {
        self.blocked || self.awaited
    }
}

/// Everything readable about one live process that the verdict rests on.
#[derive(Debug, Clone)]
pub struct Facts {
    pub stat: Stat,
    pub uid: u32,
    pub hup: Disposition,
    pub term: Disposition,
    /// Whether the shim is mapped; None when the maps are not readable.
    pub shim: Option<bool>,
    /// fds 1 and 2; None when not readable.
    pub out: [Option<Fd>; 2],
    pub cgroup: Option<String>,
    /// The program file is statically linked (None: unknown).
    pub is_static: Option<bool>,
    /// Its LD_PRELOAD names a shim that is not mapped, for this reason.
    pub shim_missing: Option<String>,
}

/// What surrounds the process: its session leader, who holds its
/// terminals, logind.
#[derive(Debug, Clone)]
pub struct Surroundings {
    pub leader: Option<Stat>,
    /// Owner of the controlling terminal.
    pub tty_owner: Owner,
    /// Owners of the terminals fds 1 and 2 point to (when they do).
    pub out_owners: [Owner; 2],
    pub logind: Settings,
    pub user: Option<String>,
    pub lingers: bool,
    /// The command name, if it can be marked and is not.
    pub markable: Option<String>,
}

/// The relay job a hupsafe client shows: the one it attached to, or the
/// one it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub job: String,
    pub supervisor: i32,
    pub program: Option<i32>,
}

/// A process by pid and name.
#[derive(Serialize, Debug, Clone)]
pub struct Named {
    pub pid: i32,
    pub comm: String,
}

/// The session `check` looks at without PIDs.
#[derive(Serialize, Debug)]
pub struct Session {
    pub session: i32,
    pub tty: String,
    pub leader: Option<Named>,
    pub held_by: Option<Named>,
}

/// What `check` could see of one process.
#[derive(Debug)]
pub enum Seen {
    /// No such process (or it ended before its stat was read).
    Gone,
    /// Its stat cannot be read.
    Hidden(io::Error),
    /// A zombie: it already exited; `parent` has not collected it.
    Exited {
        stat: Stat,
        command: Vec<String>,
        parent: Option<Named>,
    },
    /// Its status cannot be read (it ended meanwhile, or it is not ours).
    Unreadable {
        stat: Stat,
        command: Vec<String>,
        error: io::Error,
    },
    /// A live process, with all its verdict rests on.
    Live(Box<Live>),
}

/// A live process as `check` found it.
#[derive(Debug)]
pub struct Live {
    /// Its argument vector (empty when it cannot be read).
    pub command: Vec<String>,
    pub facts: Facts,
    pub around: Surroundings,
    /// The relay job it is a client of, if it is a hupsafe client.
    pub client: Option<Client>,
    /// The relay job it is the supervisor or the session holder of.
    pub part: Option<Part>,
}

/// A process of a relayed job's own (docs/ARCHITECTURE.md, "Processes of
/// a job").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Supervisor { job: String },
    Holder { job: String, supervisor: i32 },
}

/// The shells whose hangup behaviour docs/HANGUPS.md, "Who sends SIGHUP", records.
#[derive(Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Other(String),
}

impl Shell {
    pub fn of(comm: &str) -> Shell {
        let c = comm.trim_start_matches('-');
        match c {
            "bash" => Shell::Bash,
            "zsh" => Shell::Zsh,
            _ => Shell::Other(c.to_string()),
        }
    }
}

/// SIGHUP's disposition in a few words.
pub fn hup_words(hup: &Disposition, shim: Option<bool>) -> &'static str {
    match (hup.ignored, hup.caught, hup.queued(), shim == Some(true)) {
        (true, _, _, true) => "ignored, held so by the shim",
        (true, _, false, _) => "ignored",
        (true, _, true, _) => "ignored but queued (blocked, or awaited by sigwait)",
        (_, true, _, _) => "caught by a handler",
        (_, _, true, _) => "blocked",
        _ => "at its default action",
    }
}

/// What SIGHUP does to the process: severity and words.
pub fn hup_outcome(hup: &Disposition, shim: Option<bool>) -> (Severity, String) {
    if hup.ignored && shim == Some(true) {
        return (
            Severity::Ok,
            "SIGHUP ignored, and the hupsafe shim keeps it ignored".into(),
        );
    }
    if hup.ignored && !hup.queued() {
        let how = match shim {
            Some(false) => {
                "SIGHUP ignored (inherited SIG_IGN without the shim: the program could still \
                 change that)"
            }
            _ => "SIGHUP ignored",
        };
        return (Severity::Ok, how.into());
    }
    let queue = if hup.awaited && !hup.blocked {
        "a thread waits for it in sigwait, so the kernel queues it"
    } else {
        "blocked, so the kernel queues it"
    };
    if hup.ignored {
        return (
            Severity::Risk,
            format!("SIGHUP ignored but {queue} anyway, and a sigwait or signalfd reader gets it"),
        );
    }
    if hup.awaited {
        return (
            Severity::Risk,
            "SIGHUP awaited in sigwait: the program receives it and decides what to do".into(),
        );
    }
    if hup.caught && hup.blocked {
        return (
            Severity::Risk,
            "SIGHUP caught by a handler and blocked: queued until the program unblocks it, \
             then its handler decides"
                .into(),
        );
    }
    if hup.caught {
        return (
            Severity::Fatal,
            "SIGHUP caught by handler and not protected".into(),
        );
    }
    if hup.blocked {
        return (
            Severity::Risk,
            "SIGHUP blocked: queued, and it kills the program once unblocked (or a sigwait \
             or signalfd reader gets it)"
                .into(),
        );
    }
    (
        Severity::Fatal,
        "SIGHUP at its default action (terminate) and not protected".into(),
    )
}
