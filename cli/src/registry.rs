//! The job registry: what `ps`, `logs`, `attach`, `stop` and `forget` read,
//! and what a relayed run writes.
//!
//! Layout, all private to the user (directories 0700, files 0600):
//!
//! ```text
//! $XDG_STATE_HOME/hupsafe/          (HUPSAFE_STATE_DIR overrides it)
//!   next-id                         the id counter, under flock
//!   jobs/<id>/record.json           the job's record, replaced atomically
//!   jobs/<id>/log                   everything the program wrote to its terminal
//!   jobs/<id>/sock                  the supervisor's socket while the job lives
//! ```
//!
//! A record has one writer at a time (the starting `hupsafe`, then the
//! supervisor), and every write is write-to-temporary + rename, so a reader
//! never sees half a record and needs no lock. Ids are small decimal
//! numbers handed out by a counter under `flock`, each claimed with an
//! exclusive `mkdir`, so concurrent starts never share one and a forgotten
//! id is never reused.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NO_JOB};
use crate::sys::dirs;
use crate::sys::private_dir::{open_nofollow, replace_file, uid, Private};

/// The variable that overrides the directory.
const STATE_DIR_VAR: &str = dirs::STATE.var;

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

/// The state directory.
pub struct Registry {
    root: PathBuf,
    jobs: PathBuf,
}

/// One job's directory.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub dir: PathBuf,
}

/// An entry of `jobs/` that is not a usable job, and why.
pub struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

impl Registry {
    /// Where the state lives: `$HUPSAFE_STATE_DIR`, else
    /// `$XDG_STATE_HOME/hupsafe`, else `$HOME/.local/state/hupsafe`.
    pub fn location() -> Result<PathBuf> {
        crate::sys::dirs::STATE.resolve()
    }

    /// The registry, created if missing (for a new job).
    pub fn create() -> Result<Registry> {
        let root = Registry::location()?;
        let jobs = root.join("jobs");
        ensure_private_dir(&root)?;
        ensure_private_dir(&jobs)?;
        Ok(Registry { root, jobs })
    }

    /// The registry if it exists (for the verbs that only read it); an
    /// empty one otherwise.
    pub fn open() -> Result<Option<Registry>> {
        let root = Registry::location()?;
        let jobs = root.join("jobs");
        match fs::symlink_metadata(&root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            _ => check_private_dir(&root)?,
        }
        match fs::symlink_metadata(&jobs) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            _ => check_private_dir(&jobs)?,
        }
        Ok(Some(Registry { root, jobs }))
    }

    /// Claims a new id and its directory.
    pub fn new_job(&self) -> Result<Job> {
        let counter_path = self.root.join("next-id");
        let fail = |what: &str, e: io::Error| {
            Error::failure(format!(
                "hupsafe: cannot {what} '{}': {}",
                counter_path.display(),
                os_words(&e)
            ))
        };
        let mut counter = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&counter_path)
            .map_err(|e| fail("open", e))?;
        let m = counter.metadata().map_err(|e| fail("inspect", e))?;
        if m.uid() != uid() || !m.is_file() {
            return Err(refuse(&counter_path, "is not a file of yours"));
        }
        // SAFETY: flock on an fd we own; released when `counter` closes.
        if unsafe { libc::flock(counter.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(fail("lock", io::Error::last_os_error()));
        }
        let mut text = String::new();
        let _ = counter.read_to_string(&mut text);
        let mut n: u64 = match text.trim().parse() {
            Ok(n) if n > 0 => n,
            // Missing or damaged: never hand out an id that is in use.
            _ => self.highest_id() + 1,
        };
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o700);
        let dir = loop {
            let dir = self.jobs.join(n.to_string());
            match builder.create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => {
                    return Err(Error::failure(format!(
                        "hupsafe: cannot create '{}': {}",
                        dir.display(),
                        os_words(&e)
                    )))
                }
            }
        };
        // A umask can only take bits away; put back the owner's.
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        let next = format!("{}\n", n + 1);
        let written = counter
            .set_len(0)
            .and_then(|()| counter.seek(SeekFrom::Start(0)))
            .and_then(|_| counter.write_all(next.as_bytes()));
        written.map_err(|e| fail("update", e))?;
        Ok(Job {
            id: n.to_string(),
            dir,
        })
    }

    fn highest_id(&self) -> u64 {
        fs::read_dir(&self.jobs)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Every job directory, in id order, and the entries that are not jobs.
    /// The jobs, in id order; entries that are not jobs of this user
    /// are reported on stderr (never fatal: one damaged or foreign entry
    /// must not hide the others).
    pub fn list_reporting(&self) -> Vec<Job> {
        let (jobs, skipped) = self.list();
        let mut stderr = std::io::stderr().lock();
        for s in skipped {
            let _ = writeln!(
                stderr,
                "hupsafe: skipping '{}': {}",
                s.path.display(),
                s.why
            );
        }
        jobs
    }

    pub fn list(&self) -> (Vec<Job>, Vec<Skipped>) {
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        let entries = match fs::read_dir(&self.jobs) {
            Ok(d) => d,
            Err(e) => {
                skipped.push(Skipped {
                    path: self.jobs.clone(),
                    why: os_words(&e),
                });
                return (jobs, skipped);
            }
        };
        for e in entries.flatten() {
            let path = e.path();
            let Some(id) = e.file_name().to_str().map(str::to_string) else {
                skipped.push(Skipped {
                    path,
                    why: "not a job id".into(),
                });
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            if !valid_id(&id) {
                skipped.push(Skipped {
                    path,
                    why: "not a job id".into(),
                });
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() && m.uid() == uid() => jobs.push(Job { id, dir: path }),
                Ok(m) if !m.is_dir() => skipped.push(Skipped {
                    path,
                    why: "not a directory".into(),
                }),
                Ok(m) => skipped.push(Skipped {
                    path,
                    why: format!("owned by uid {}, not by you", m.uid()),
                }),
                Err(e) => skipped.push(Skipped {
                    path,
                    why: os_words(&e),
                }),
            }
        }
        jobs.sort_by_key(|j| j.id.parse::<u64>().unwrap_or(u64::MAX));
        (jobs, skipped)
    }

    /// The job named by `query`: an exact id, else a unique prefix.
    pub fn find(&self, query: &str) -> Result<Job> {
        if !valid_id(query) {
            return Err(Error::new(
                EXIT_BAD_INPUT,
                format!("hupsafe: '{query}' is not a job id (ids are numbers; see: hupsafe ps)"),
            ));
        }
        let (jobs, _) = self.list();
        if let Some(j) = jobs.iter().find(|j| j.id == query) {
            return Ok(j.clone());
        }
        let matches: Vec<&Job> = jobs.iter().filter(|j| j.id.starts_with(query)).collect();
        match matches.as_slice() {
            [] => Err(no_such_job(query)),
            [one] => Ok((*one).clone()),
            many => Err(Error::new(
                EXIT_BAD_INPUT,
                format!(
                    "hupsafe: job id '{query}' is ambiguous: it begins {} ({}); type more of it",
                    many.len(),
                    many.iter()
                        .map(|j| j.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// Whether this process runs inside `job` (or inside a job started from
/// it): its output would come back to it through the job's terminal, so
/// attaching or following that job from here would feed on itself.
pub fn inside(registry: &Registry, job: &Job) -> bool {
    if let Ok(r) = job.read_record() {
        if let Some(tty) = &r.tty {
            for fd in 0..3 {
                // SAFETY: ttyname returns NULL or a NUL-terminated string
                // that stays valid until the next call.
                let name = unsafe { libc::ttyname(fd) };
                if !name.is_null()
                    && unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == tty.as_bytes()
                {
                    return true;
                }
            }
        }
    }
    let mut current = std::env::var("HUPSAFE_JOB").ok();
    for _ in 0..64 {
        let Some(id) = current.filter(|i| valid_id(i)) else {
            return false;
        };
        if id == job.id {
            return true;
        }
        let outer = Job {
            dir: registry.jobs.join(&id),
            id,
        };
        current = outer.read_record().ok().and_then(|r| r.parent);
    }
    false
}

/// The error for an id that names no job.
pub fn no_such_job(query: &str) -> Error {
    Error::new(
        EXIT_NO_JOB,
        format!("hupsafe: no job '{query}' (see: hupsafe ps)"),
    )
}

/// Finds a job given on the command line, or says there are no jobs at all.
pub fn find_job(query: &str) -> Result<(Registry, Job)> {
    match Registry::open()? {
        Some(r) => {
            let j = r.find(query)?;
            Ok((r, j))
        }
        None => Err(no_such_job(query)),
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Job {
    pub fn record_path(&self) -> PathBuf {
        self.dir.join("record.json")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    pub fn sock_path(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// Reads the record, refusing symlinks, other users' files and
    /// anything that does not parse.
    pub fn read_record(&self) -> std::result::Result<Record, String> {
        let path = self.record_path();
        let mut f = open_nofollow(&path, true).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => "no record.json".to_string(),
            _ => format!("record.json: {}", os_words(&e)),
        })?;
        let m = f.metadata().map_err(|e| os_words(&e))?;
        if !m.is_file() {
            return Err("record.json is not a regular file".into());
        }
        if m.uid() != uid() {
            return Err(format!(
                "record.json is owned by uid {}, not by you",
                m.uid()
            ));
        }
        if m.len() > 1 << 20 {
            return Err("record.json is too large to be a record".into());
        }
        let mut text = Vec::with_capacity(m.len() as usize);
        f.read_to_end(&mut text)
            .map_err(|e| format!("record.json: {}", os_words(&e)))?;
        let r: Record =
            serde_json::from_slice(&text).map_err(|e| format!("record.json is damaged ({e})"))?;
        if r.version != RECORD_VERSION {
            return Err(format!(
                "record.json has format version {}, this hupsafe reads {RECORD_VERSION}",
                r.version
            ));
        }
        if r.id != self.id {
            return Err(format!(
                "record.json names job '{}', not '{}'",
                r.id, self.id
            ));
        }
        Ok(r)
    }

    /// Replaces the record atomically (write a temporary file, fsync-free
    /// rename): a reader sees the old record or the new one, never a mix.
    pub fn write_record(&self, r: &Record) -> io::Result<()> {
        let mut text = serde_json::to_vec_pretty(r).map_err(io::Error::other)?;
        text.push(b'\n');
        replace_file(&self.record_path(), &text, 0o600, false)
    }

    /// Creates the log: new, not through a symlink, 0600.
    pub fn create_log(&self) -> Result<File> {
        let path = self.log_path();
        let f = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| {
                Error::failure(format!(
                    "hupsafe: cannot create the log '{}': {}",
                    path.display(),
                    os_words(&e)
                ))
            })?;
        Ok(f)
    }

    /// Opens the log for reading, refusing symlinks and other users' files.
    pub fn open_log(&self) -> Result<File> {
        let path = self.log_path();
        let f = open_nofollow(&path, true).map_err(|e| {
            Error::new(
                EXIT_NO_JOB,
                format!(
                    "hupsafe: cannot read the log of job {}: '{}': {}",
                    self.id,
                    path.display(),
                    os_words(&e)
                ),
            )
        })?;
        let m = f
            .metadata()
            .map_err(|e| Error::failure(format!("hupsafe: {}", os_words(&e))))?;
        if !m.is_file() || m.uid() != uid() {
            return Err(refuse(&path, "is not a file of yours"));
        }
        Ok(f)
    }

    /// Removes the job's directory and everything in it.
    pub fn remove(&self) -> io::Result<()> {
        // Renamed first, so a concurrent `ps` sees the job or nothing.
        let graveyard =
            self.dir
                .with_file_name(format!(".gone-{}-{}", self.id, std::process::id()));
        fs::rename(&self.dir, &graveyard)?;
        fs::remove_dir_all(&graveyard)
    }
}

/// The job state directories: private, because job logs hold everything
/// the programs print.
const STATE: Private = Private {
    what: "job state",
    stakes: "job logs hold everything your programs print",
    fix: "remove it, or set HUPSAFE_STATE_DIR to a private directory of your own",
};

/// Creates `dir` (and missing parents) as 0700, then checks it.
fn ensure_private_dir(dir: &Path) -> Result<()> {
    STATE.ensure(dir).map_err(with_program_name)
}

/// Checks an existing state directory.
fn check_private_dir(dir: &Path) -> Result<()> {
    STATE.check(dir).map_err(with_program_name)
}

fn with_program_name(e: Error) -> Error {
    Error::new(e.status, format!("hupsafe: {}", e.message))
}

fn refuse(path: &Path, why: &str) -> Error {
    Error::new(
        EXIT_FAILURE,
        format!(
            "hupsafe: refusing to use '{}' for job state: it {why}. Fix: remove it, or set \
             {STATE_DIR_VAR} to a private directory of your own",
            path.display()
        ),
    )
}

/// A path short enough for `sockaddr_un`, reaching `path` through an open
/// directory when the real one is too long (`/proc/self/fd/N/sock`).
pub struct SocketPath {
    pub path: PathBuf,
    _dir: Option<File>,
}

impl SocketPath {
    pub fn new(path: &Path) -> io::Result<SocketPath> {
        if path.as_os_str().as_bytes().len() < 100 {
            return Ok(SocketPath {
                path: path.to_path_buf(),
                _dir: None,
            });
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(parent)?;
        let name = path.file_name().unwrap_or_default();
        let short = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
        Ok(SocketPath {
            path: short,
            _dir: Some(dir),
        })
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
    fn ids_are_digits() {
        assert!(valid_id("1"));
        assert!(valid_id("123"));
        assert!(!valid_id(""));
        assert!(!valid_id("../1"));
        assert!(!valid_id("1a"));
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
