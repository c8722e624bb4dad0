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

/// The most a record takes as JSON, by design rather than by a cap on
/// reading: the command is a display copy of the argv (an argv may be
/// megabytes long, and JSON escaping makes a control byte six bytes),
/// every other text is cut to a bound, and the rest are numbers. A reader
/// refuses only files far larger ([`READ_MAX`]), which no record is.
pub const MAX_RECORD: usize =
    COMMAND_MAX_JSON + PATH_MAX_JSON + 3 * MESSAGE_MAX_JSON + NAME_MAX_JSON + 256 + 2048;
/// What a reader takes at most: anything larger is not a record.
pub const READ_MAX: u64 = 1 << 20;
/// The command's display copy, as JSON (each word counted with its quotes,
/// comma and indentation).
const COMMAND_MAX_JSON: usize = 8 * 1024;
/// One word of it.
const WORD_MAX_JSON: usize = 2 * 1024;
/// What a word costs beside its text in the pretty-printed array.
const PER_WORD: usize = 8;
const PATH_MAX_JSON: usize = 2 * 1024;
pub const MESSAGE_MAX_JSON: usize = 1024;
/// The job's name (at most 64 bytes when given; a record from elsewhere is
/// cut to this).
const NAME_MAX_JSON: usize = 256;

/// Bytes `c` takes in a JSON string (serde_json escapes `"`, `\` and the
/// C0 controls; six bytes is the most, `\u001b`).
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

fn json_len_of(s: &str) -> usize {
    s.chars().map(json_len).sum()
}

/// `s`, or as much of its beginning as takes at most `max` bytes as JSON,
/// followed by `…` to say it was cut.
pub fn clip(s: &str, max: usize) -> String {
    if json_len_of(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = '…'.len_utf8();
    for c in s.chars() {
        used += json_len(c);
        if used > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The command as the record shows it: the argv's words, each cut to
/// [`WORD_MAX_JSON`], and when they are still too many for
/// [`COMMAND_MAX_JSON`], the first ones, a word saying how many are left
/// out, and the last one (which often names the job best: a file, a tag).
/// Applying it again changes nothing.
pub fn display_command(words: Vec<String>) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| clip(w, WORD_MAX_JSON)).collect();
    let cost = |w: &String| json_len_of(w) + PER_WORD;
    if words.iter().map(cost).sum::<usize>() <= COMMAND_MAX_JSON {
        return words;
    }
    let (last, head) = words.split_last().expect("not empty: over the bound");
    // Room for the last word and the note.
    let budget = COMMAND_MAX_JSON - cost(last) - 64;
    let mut out = Vec::new();
    let mut used = 0;
    for w in head {
        if used + cost(w) > budget {
            break;
        }
        used += cost(w);
        out.push(w.clone());
    }
    let left_out = head.len() - out.len();
    out.push(format!("…({left_out} more words)"));
    out.push(last.clone());
    out
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
    /// How `hupsafe CMD` was asked to run it, for `rerun` (jobs of
    /// `hupsafe CMD` only: not lines, not rescued processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<RunOptions>,
    /// The cap on the log (`--log-max`, or `log_max` in the config file):
    /// rotated to `log.1` whenever it holds this many bytes.
    #[serde(default)]
    pub log_max: Option<u64>,
    /// Bytes of output dropped by rotations of a capped log (logged, then
    /// removed with an older `log.1`).
    #[serde(default)]
    pub log_dropped: u64,
    /// `--notify`: the job's end is announced at the next prompt of every
    /// shell with the integration (a line in the notifications file).
    #[serde(default)]
    pub notify: bool,
    /// `--on-exit CMD`: run by `sh -c` once the final record is written.
    #[serde(default)]
    pub on_exit: Option<String>,
    /// The name given with `--name`, if any (see `registry::check_name`).
    #[serde(default)]
    pub name: Option<String>,
}

/// The options of a relayed run, as `rerun` needs them again.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub quiet: bool,
    /// The relay choice: `auto` (a terminal was there) or `always`
    /// (`--relay`, `HUPSAFE_RELAY=1`).
    #[serde(default)]
    pub relay_always: bool,
}

impl Record {
    pub fn new(id: &str, command: &[OsString]) -> Record {
        Record {
            version: RECORD_VERSION,
            id: id.to_string(),
            command: display_command(
                command
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            ),
            cwd: clip(
                &std::env::current_dir()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                PATH_MAX_JSON,
            ),
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
            options: None,
            log_max: None,
            log_dropped: 0,
            notify: false,
            on_exit: None,
            name: None,
        }
    }

    /// The record as written: every text cut to its bound (see
    /// [`MAX_RECORD`]), whoever filled it in.
    pub fn bounded(&self) -> Record {
        let mut r = self.clone();
        r.command = display_command(std::mem::take(&mut r.command));
        r.cwd = clip(&r.cwd, PATH_MAX_JSON);
        r.error = r.error.map(|e| clip(&e, MESSAGE_MAX_JSON));
        r.log_error = r.log_error.map(|e| clip(&e, MESSAGE_MAX_JSON));
        r.tty = r.tty.map(|t| clip(&t, 256));
        r.on_exit = r.on_exit.map(|c| clip(&c, MESSAGE_MAX_JSON));
        r.name = r.name.map(|n| clip(&n, NAME_MAX_JSON));
        r
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

    /// The program's pid when the job is lost but its program still runs
    /// (its supervisor was killed): not finished, only unwatched, and its
    /// record and log must stay until it ends.
    pub fn orphan(&self) -> Option<i32> {
        if self.status() != Status::Lost {
            return None;
        }
        self.program.filter(ProcId::is_alive).map(|p| p.pid)
    }

    /// What `ps` shows as the state: the status, and for a lost job whose
    /// program still runs, that it does.
    pub fn describe(&self) -> String {
        match self.orphan() {
            Some(pid) => format!("{} (program {pid} still running)", self.status()),
            None => self.status().to_string(),
        }
    }

    /// Whether this is a command line the shell integration protects (its
    /// command is the line as typed, one word with spaces in it; such a
    /// job saves no run options).
    pub fn is_line(&self) -> bool {
        self.options.is_none()
            && self.command.len() == 1
            && self.command[0].contains(char::is_whitespace)
    }

    /// The command as the user reads it: a protected line as typed, else
    /// the words as a shell would quote them. Control characters are left
    /// as they are: pass it through `sys::words::visible` to print it.
    pub fn shown_command(&self) -> String {
        if self.is_line() {
            self.command[0].clone()
        } else {
            crate::sys::words::shell_line(&self.command)
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
    fn records_are_bounded_whatever_the_argv() {
        let control = "\u{1b}".repeat(200_000);
        let long = "x".repeat(1_100_000);
        let many: Vec<String> = (0..200_000).map(|i| format!("{i}\u{1}")).collect();
        for argv in [
            vec![control.clone()],
            vec![long.clone(), "tag".into()],
            many,
        ] {
            let os: Vec<OsString> = argv.iter().map(OsString::from).collect();
            let mut r = Record::new("1", &os);
            r.cwd = control.clone();
            r.error = Some(long.clone());
            r.log_error = Some(control.clone());
            r.name = Some(control.clone());
            let text = serde_json::to_vec_pretty(&r.bounded()).unwrap();
            assert!(text.len() <= MAX_RECORD, "{} > {MAX_RECORD}", text.len());
            assert_eq!(r.command, display_command(r.command.clone()), "idempotent");
            if argv.last().unwrap().len() < 100 {
                assert_eq!(r.command.last(), argv.last(), "the last word is kept");
            }
        }
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghij", 6), "abc…");
        assert_eq!(
            display_command(vec!["ls".into(), "-l".into()]),
            vec!["ls", "-l"]
        );
    }

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
