//! The job registry: what `ps`, `logs`, `attach`, `stop` and `forget` read,
//! and what a relayed run writes.
//!
//! Layout, all private to the user (directories 0700, files 0600):
//!
//! ```text
//! $XDG_STATE_HOME/hupsafe/          (HUPSAFE_STATE_DIR overrides it)
//!   next-id                         the id counter, under flock
//!   notifications                   a line for each ended --notify job, read by the shells
//!   expiry                          when keep_finished next has a job to remove
//!   jobs/<id>/record.json           the job's record, replaced atomically
//!   jobs/<id>/log                   everything the program wrote to its terminal
//!   jobs/<id>/log.1                 with a cap (--log-max), the log before its last rotation
//!   jobs/<id>/sock                  the supervisor's socket while the job lives
//!   jobs/<id>/argv, jobs/<id>/env   what `rerun` needs (NUL-separated; saved.rs)
//!   jobs/<id>/sync, jobs/<id>/ack   a protected line's FIFOs to its shell (relay/line)
//!   jobs/.standby-<pid>/            a standby: a line's job prepared ahead, no job yet
//!   shells/                         the shell hooks' scratch files and standbys'
//!                                   announcements (relay/line/standby.rs)
//! ```
//!
//! A record has one writer at a time (the starting `hupsafe`, then the
//! supervisor), and every write is write-to-temporary + rename, so a reader
//! never sees half a record and needs no lock. Ids are small decimal
//! numbers handed out by a counter under `flock`, each claimed with an
//! exclusive `mkdir`, so concurrent starts never share one and a forgotten
//! id is never reused.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_NO_JOB};
use crate::sys::dirs;
use crate::sys::private_dir::{uid, Private};
use crate::sys::trusted::{self, shown};
use crate::sys::words::visible;

mod job;
mod record;
mod saved;

pub use job::{Job, SocketPath};
pub use record::*;

/// In the state directory: when `keep_finished` next has a job to remove,
/// and for which age (`DUE_MS AGE_MS`, milliseconds).
pub const EXPIRY: &str = "expiry";

/// The due time and age in [`EXPIRY`], if it holds them (a stamp that is
/// missing, damaged or not a file of yours only means a sweep now).
fn read_expiry(path: &Path) -> Option<(u64, u64)> {
    let mut f = crate::sys::private_dir::open_nofollow(path, true).ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.uid() != uid() || m.len() > 64 {
        return None;
    }
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    let (due, age) = text.trim().split_once(' ')?;
    Some((due.parse().ok()?, age.parse().ok()?))
}

/// Where a standby's directory is, before its line makes it a job:
/// `jobs/.standby-PID` (see [`Registry::new_standby`]).
pub const STANDBY_PREFIX: &str = ".standby-";

/// The shell hooks' private directory in the state directory.
pub const SHELLS_DIR: &str = "shells";

/// Removes a directory of plain files (a standby's), renamed first so a
/// listing sees it whole or not at all.
fn remove_tree(dir: &Path) -> io::Result<()> {
    let gone = dir.with_file_name(format!(".gone-standby-{}", std::process::id()));
    fs::rename(dir, &gone)?;
    fs::remove_dir_all(&gone)
}

/// The variable that overrides the directory.
const STATE_DIR_VAR: &str = dirs::STATE.var;

/// The state directory. `root` and `jobs` are `/proc/self/fd/N` paths of
/// the directories opened once (sys/trusted.rs): every later name is looked
/// up through the open directory, so swapping a directory on the way after
/// the check changes nothing. The descriptors stay open for the life of the
/// process (a `Job` outlives its `Registry`; close-on-exec, so no program
/// inherits them).
pub struct Registry {
    root: PathBuf,
    jobs: PathBuf,
}

/// Keeps a walked directory open for good and names it by descriptor.
fn held(w: crate::sys::trusted::Walked) -> Result<PathBuf> {
    use std::os::fd::IntoRawFd;
    let fd = crate::sys::trusted::above_stdio(w.fd)
        .map_err(|e| Error::io(format_args!("use '{}'", w.path.display()), &e))?;
    Ok(PathBuf::from(format!("/proc/self/fd/{}", fd.into_raw_fd())))
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
        let root = STATE.ensure(&Registry::location()?)?;
        let jobs = STATE.child(&root, "jobs", true)?;
        Ok(Registry {
            root: held(root)?,
            jobs: held(jobs)?,
        })
    }

    /// The registry if it exists (for the verbs that only read it); an
    /// empty one otherwise.
    pub fn open() -> Result<Option<Registry>> {
        let location = Registry::location()?;
        let missing =
            |p: &Path| fs::symlink_metadata(p).is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        if missing(&location) {
            return Ok(None);
        }
        let root = STATE.check(&location)?;
        if missing(&trusted::through(&root.fd, "jobs")) {
            return Ok(None);
        }
        let jobs = STATE.child(&root, "jobs", false)?;
        Ok(Some(Registry {
            root: held(root)?,
            jobs: held(jobs)?,
        }))
    }

    /// Claims a new id and its directory.
    pub fn new_job(&self) -> Result<Job> {
        self.new_named_job(None, |_| Ok(()))
    }

    /// Claims a new id and its directory for a job called `name` (if
    /// given), and runs `first` (which writes the first record) while the
    /// counter's lock is held: two starts can never both take a name that
    /// no live job holds. Fails (exit 2) when a live job holds the name;
    /// the directory is removed when `first` fails.
    pub fn new_named_job(
        &self,
        name: Option<&str>,
        first: impl FnOnce(&Job) -> Result<()>,
    ) -> Result<Job> {
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o700);
        self.claim(name, |dir| builder.create(dir), first)
    }

    /// Claims the next free id under the counter's lock: `place` makes its
    /// directory (failing with AlreadyExists when the id is taken, and the
    /// next is tried), then `first` runs, still under the lock.
    fn claim(
        &self,
        name: Option<&str>,
        place: impl Fn(&Path) -> io::Result<()>,
        first: impl FnOnce(&Job) -> Result<()>,
    ) -> Result<Job> {
        let counter_path = self.root.join("next-id");
        let fail = |what: &str, e: io::Error| {
            Error::io(
                format_args!("{what} '{}'", shown(&counter_path).display()),
                &e,
            )
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
            return Err(refuse(&shown(&counter_path), "is not a file of yours"));
        }
        // Released when `counter` closes.
        rustix::fs::flock(&counter, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| fail("lock", e.into()))?;
        if let Some(name) = name {
            if let Some((holder, r)) = self.holder_of(name) {
                return Err(Error::new(
                    EXIT_BAD_INPUT,
                    visible(&format!(
                        "the name '{name}' is taken by job {} ({}), which is {}; pick \
                         another name, or stop that job first (hupsafe stop {name}). \
                         A name is free again once its job has finished",
                        holder.id,
                        r.shown_command(),
                        r.describe()
                    )),
                ));
            }
        }
        let mut text = String::new();
        let _ = counter.read_to_string(&mut text);
        let mut n: u64 = match text.trim().parse() {
            Ok(n) if n > 0 => n,
            // Missing or damaged: never hand out an id that is in use.
            _ => self.highest_id() + 1,
        };
        let dir = loop {
            let dir = self.jobs.join(n.to_string());
            match place(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => {
                    return Err(Error::failure(format!(
                        "cannot create '{}': {}",
                        shown(&dir).display(),
                        os_words(&e)
                    )))
                }
            }
        };
        // A umask can only take bits away; put back the owner's.
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        // Written over the old number rather than after truncating it: the
        // counter keeps the block it has (a full disk may not give one
        // back), and numbers only grow.
        let next = format!("{}\n", n + 1);
        let written = counter
            .seek(SeekFrom::Start(0))
            .and_then(|_| counter.write_all(next.as_bytes()))
            .and_then(|()| counter.set_len(next.len() as u64));
        if let Err(e) = written {
            // No job without its id counted: leave no empty directory.
            let _ = fs::remove_dir(&dir);
            return Err(fail("update", e));
        }
        let job = Job {
            id: n.to_string(),
            dir,
        };
        if let Err(e) = first(&job) {
            let _ = job.remove();
            return Err(e);
        }
        Ok(job)
    }

    /// A directory for a standby (a protected line's job prepared before
    /// the line is typed, relay/line/standby.rs): `jobs/.standby-PID`, a
    /// name no listing shows (`ps`, `wait`, `attach`, `forget` skip names
    /// starting with a dot) and no id can take. One left by a process of
    /// ours that had this pid before is removed first.
    pub fn new_standby(&self) -> Result<Job> {
        let dir = self
            .jobs
            .join(format!("{STANDBY_PREFIX}{}", std::process::id()));
        let job = Job {
            id: String::new(),
            dir,
        };
        if fs::symlink_metadata(&job.dir).is_ok() {
            let _ = remove_tree(&job.dir);
        }
        let mut builder = fs::DirBuilder::new();
        builder.mode(0o700);
        builder
            .create(&job.dir)
            .map_err(|e| Error::io(format_args!("create '{}'", shown(&job.dir).display()), &e))?;
        let _ = fs::set_permissions(&job.dir, fs::Permissions::from_mode(0o700));
        Ok(job)
    }

    /// Makes the standby `standby` a job: claims the next id (under the
    /// counter's lock, as any start) and renames the standby's directory
    /// onto the id's, so its log, socket and FIFOs are the job's at once.
    ///
    /// `stamp` runs first, with the id about to be tried and the
    /// standby's directory: it writes the job's record there, so that the
    /// directory appears under the id with its record in it.
    pub fn adopt(&self, standby: &Job, stamp: impl Fn(&Job) -> io::Result<()>) -> Result<Job> {
        // Renamed to the id itself (never over a directory: replacing one
        // costs ext4 milliseconds).
        let place = |dir: &Path| -> io::Result<()> {
            let id = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            stamp(&Job {
                id,
                dir: standby.dir.clone(),
            })?;
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &standby.dir,
                rustix::fs::CWD,
                dir,
                rustix::fs::RenameFlags::NOREPLACE,
            )
            .map_err(|e| match e {
                rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY => {
                    io::Error::from(io::ErrorKind::AlreadyExists)
                }
                e => e.into(),
            })
        };
        self.claim(None, place, |_| Ok(()))
    }

    /// Removes the standbys whose process is gone (killed before it could
    /// clean up).
    pub fn sweep_standbys(&self) {
        let Ok(entries) = fs::read_dir(&self.jobs) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(STANDBY_PREFIX))
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            // No such process, or a zombie (a parent that does not reap).
            let gone = pid > 0
                && crate::sys::proc::stat(pid).map_or_else(
                    |e| e.kind() == io::ErrorKind::NotFound,
                    |st| st.state == 'Z' || st.state == 'X',
                );
            let ours = fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir() && m.uid() == uid());
            if gone && ours {
                let _ = remove_tree(&e.path());
            }
        }
    }

    /// The registry, created if missing, and `shells/` in it, checked the
    /// same way (a private directory of the user's own) and created if
    /// missing: where the shell hooks keep their scratch files and a
    /// standby announces itself.
    pub fn create_with_shells() -> Result<(Registry, PathBuf)> {
        let root = STATE.ensure(&Registry::location()?)?;
        let jobs = STATE.child(&root, "jobs", true)?;
        let shells = STATE.child(&root, SHELLS_DIR, true)?;
        Ok((
            Registry {
                root: held(root)?,
                jobs: held(jobs)?,
            },
            held(shells)?,
        ))
    }

    /// The jobs directory's real path (what a shell is told).
    pub fn jobs_shown(&self) -> PathBuf {
        let real = shown(&self.jobs);
        // `shown` of a bare /proc/self/fd/N ends in a slash.
        match real.to_str() {
            Some(t) if t.len() > 1 && t.ends_with('/') => PathBuf::from(t.trim_end_matches('/')),
            _ => real,
        }
    }

    /// Every job whose record can be read, in id order.
    fn records(&self) -> Vec<(Job, Record)> {
        let (jobs, _) = self.list();
        jobs.into_iter()
            .filter_map(|j| {
                let r = j.read_record().ok()?;
                Some((j, r))
            })
            .collect()
    }

    /// The live job called `name`, if one is.
    fn holder_of(&self, name: &str) -> Option<(Job, Record)> {
        self.records()
            .into_iter()
            .find(|(_, r)| r.name.as_deref() == Some(name) && holds_name(r))
    }

    /// Every job's id, and its name when it has one, in id order: what a
    /// job argument can be (a job whose record cannot be read has its id
    /// alone). Nothing is reported: completion must stay quiet.
    pub fn ids_and_names(&self) -> Vec<(String, Option<String>)> {
        let (jobs, _) = self.list();
        jobs.into_iter()
            .map(|j| {
                let name = j.read_record().ok().and_then(|r| r.name);
                (j.id, name)
            })
            .collect()
    }

    /// The id of the live job called `name`, if one is (a new job cannot
    /// take the name then).
    pub fn name_holder(&self, name: &str) -> Option<String> {
        self.holder_of(name).map(|(j, _)| j.id)
    }

    /// Your most recently started job that is still running (or stopped):
    /// what `attach` without an id attaches to. Jobs this process runs
    /// inside are passed over.
    pub fn latest_live(&self) -> Option<(Job, Record)> {
        self.records()
            .into_iter()
            .filter(|(j, r)| r.status().is_live() && !inside(self, j))
            .max_by_key(|(j, r)| (r.started_ms, j.id.parse::<u64>().unwrap_or(0)))
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
        for s in skipped {
            // Names from the file system: shown, never obeyed.
            let line = format!("skipping '{}': {}", shown(&s.path).display(), s.why);
            say!("{}", crate::sys::words::visible(&line));
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

    /// The jobs that ended (exited, were killed, failed to start) more
    /// than `age` ago, by the end time in their final record. Lost jobs
    /// and unreadable records are never among them.
    pub fn ended_before(&self, age: std::time::Duration) -> Vec<Job> {
        let cutoff = record::now_ms().saturating_sub(age.as_millis() as u64);
        let (jobs, _) = self.list();
        jobs.into_iter()
            .filter(|j| {
                j.read_record().is_ok_and(|r| {
                    r.state.is_final()
                        && r.orphan().is_none()
                        && r.ended_ms.is_some_and(|t| t < cutoff)
                })
            })
            .collect()
    }

    /// `keep_finished` in the config file: removes the jobs that ended
    /// more than `age` ago. Quiet, and never an error: it runs as a job
    /// starts, and must not hold the start up. The records are read only
    /// once a job may have become old enough: each sweep leaves the time
    /// of the next in [`EXPIRY`] (a job that has not ended yet ends later,
    /// so it cannot be due sooner), and a start before then reads that
    /// small file alone (reading 1,000 records took 23 ms a start).
    pub fn expire(&self, age: std::time::Duration) {
        let now = record::now_ms();
        let age_ms = age.as_millis() as u64;
        let stamp = self.root.join(EXPIRY);
        if read_expiry(&stamp).is_some_and(|(due, of)| of == age_ms && now < due) {
            return;
        }
        let mut due = now.saturating_add(age_ms);
        for (job, r) in self.records() {
            let Some(ended) = r
                .ended_ms
                .filter(|_| r.state.is_final() && r.orphan().is_none())
            else {
                continue;
            };
            let expires = ended.saturating_add(age_ms);
            if expires < now {
                let _ = job.remove();
            } else {
                due = due.min(expires.saturating_add(1));
            }
        }
        let _ = crate::sys::private_dir::replace_file(
            &stamp,
            format!("{due} {age_ms}\n").as_bytes(),
            0o600,
            false,
        );
    }

    /// The job named by `query`: a number is an id (an exact id, else a
    /// unique prefix); anything else is a name (the live job of that name,
    /// else the newest finished one).
    pub fn find(&self, query: &str) -> Result<Job> {
        if !valid_id(query) {
            if let Err(why) = name_problem(query) {
                return Err(Error::new(
                    EXIT_BAD_INPUT,
                    visible(&format!(
                        "'{query}' is not a job id (ids are numbers), nor a job name \
                         ({why}); see: hupsafe ps"
                    )),
                ));
            }
            return self
                .records()
                .into_iter()
                .filter(|(_, r)| r.name.as_deref() == Some(query))
                .max_by_key(|(j, r)| (holds_name(r), j.id.parse::<u64>().unwrap_or(0)))
                .map(|(j, _)| j)
                .ok_or_else(|| no_such_job(query));
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
                    "job id '{query}' is ambiguous: it begins {} ({}); type more of it",
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
                // What ttyname(3) reads, without its static buffer.
                let name = fs::read_link(format!("/proc/self/fd/{fd}"));
                if name.is_ok_and(|n| {
                    std::os::unix::ffi::OsStrExt::as_bytes(n.as_os_str()) == tty.as_bytes()
                }) {
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
        visible(&format!("no job '{query}' (see: hupsafe ps)")),
    )
}

/// Whether a job with this record holds its name: it is live, or lost
/// with its program still running.
fn holds_name(r: &Record) -> bool {
    r.status().is_live() || r.orphan().is_some()
}

/// The longest job name, in bytes.
pub const NAME_MAX: usize = 64;

/// What is wrong with `name` as a job name, if anything.
fn name_problem(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        Err("it is empty")
    } else if name.len() > NAME_MAX {
        Err("it is longer than 64 bytes")
    } else if name.contains('/') {
        Err("it contains '/'")
    } else if name.chars().any(char::is_control) {
        Err("it contains a control character")
    } else if name.starts_with('-') {
        Err("it starts with '-', like an option")
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        Err("it is all digits, so it would read as a job id")
    } else {
        Ok(())
    }
}

/// Checks a name given with `--name` (exit 2 with the rule it breaks).
pub fn check_name(name: &str) -> Result<()> {
    name_problem(name).map_err(|why| {
        Error::new(
            EXIT_BAD_INPUT,
            visible(&format!(
                "'{name}' cannot be a job name: {why}. A name is 1 to {NAME_MAX} bytes, \
                 without '/' or control characters, does not start with '-', and is \
                 not all digits (e.g. --name train)"
            )),
        )
    })
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

pub(super) fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The job state directories: private, because job logs hold everything
/// the programs print.
const STATE: Private = Private {
    what: "job state",
    stakes: "job logs hold everything your programs print",
    fix: "remove it, or set HUPSAFE_STATE_DIR to a private directory of your own",
};

fn refuse(path: &Path, why: &str) -> Error {
    Error::new(
        EXIT_FAILURE,
        format!(
            "refusing to use '{}' for job state: it {why}. Fix: remove it, or set \
             {STATE_DIR_VAR} to a private directory of your own",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_digits() {
        assert!(valid_id("1"));
        assert!(valid_id("123"));
        assert!(!valid_id(""));
        assert!(!valid_id("../1"));
        assert!(!valid_id("1a"));
    }

    #[test]
    fn names_are_checked() {
        for ok in [
            "train",
            "etl-nightly",
            "a1",
            "run 2",
            "x".repeat(64).as_str(),
        ] {
            assert!(name_problem(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a\nb", "-x", "123", "x".repeat(65).as_str()] {
            assert!(name_problem(bad).is_err(), "{bad:?}");
            assert_eq!(check_name(bad).unwrap_err().status, EXIT_BAD_INPUT);
        }
    }
}
