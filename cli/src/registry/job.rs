//! One job's directory: its record, log and socket, each opened so that a
//! symlink or another user's file is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::*;
use crate::error::{os_words, Error, Result, EXIT_NO_JOB};
use crate::sys::private_dir::{open_nofollow, replace_file, trade_file, uid, Room};
use crate::sys::trusted::shown;

/// One job's directory.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub dir: PathBuf,
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
        last_word(|| self.read_record_settled())
    }

    /// The record, read again if it did not parse: a file read just as it
    /// stopped being the record may be written into as the spare (two
    /// records later, within the read), and such a read is torn, not
    /// damaged. A record that is damaged stays damaged.
    fn read_record_settled(&self) -> std::result::Result<Record, String> {
        let mut tries = 0;
        loop {
            match self.read_record_once() {
                Err(why) if why.contains("damaged") && tries < 2 => tries += 1,
                done => return done,
            }
        }
    }

    fn read_record_once(&self) -> std::result::Result<Record, String> {
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
        if m.len() > READ_MAX {
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

    /// The record's spare: a file as large as the record, whose blocks are
    /// the room the next record is written into (see [`Job::write_record`]).
    pub fn spare_path(&self) -> PathBuf {
        self.dir.join(SPARE)
    }

    /// Replaces the record atomically: a reader sees the old record or the
    /// new one, never a mix.
    ///
    /// Written so that a full disk cannot keep a record out: the new record
    /// goes into the spare (made by [`Job::reserve`] when the job is
    /// registered), over blocks it already holds, and the two files then
    /// trade names (`renameat2(RENAME_EXCHANGE)`): no block is allocated,
    /// none is freed, and the old record becomes the next spare. Records
    /// are padded with spaces (JSON allows them after the value) to a
    /// whole number of [`SLOT`]s with room to grow, so the final record
    /// fits where the first one was. Without a spare (an older job) or
    /// where the file system cannot exchange names, the record is replaced
    /// the ordinary way (a temporary file renamed over it). An error leaves
    /// the old record in place; the writer tries again later.
    pub fn write_record(&self, r: &Record) -> io::Result<()> {
        let text = slot_text(r)?;
        match self.swap_in(&text) {
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::EINVAL) =>
            {
                replace_file(&self.record_path(), &text, 0o600, false)
            }
            done => done,
        }
    }

    fn swap_in(&self, text: &[u8]) -> io::Result<()> {
        trade_file(&self.spare_path(), &self.record_path(), text, Room::Kept)
    }

    /// Writes a new job's first record, then reserves room for every later
    /// one ([`Job::reserve`]): the final record must reach the disk even if
    /// the disk is full by then.
    pub fn write_first_record(&self, r: &Record) -> Result<()> {
        self.write_record(r).map_err(|e| {
            Error::io(
                format_args!("write '{}'", shown(&self.record_path()).display()),
                &e,
            )
        })?;
        self.reserve().map_err(|e| {
            Error::io(
                format_args!(
                    "reserve room for the job's records in '{}'",
                    shown(&self.dir).display()
                ),
                &e,
            )
        })
    }

    /// Makes the record's spare, as large as the record: the room its
    /// later records are written into, a full disk or not. Called once the
    /// first record is written; a job without one is not started.
    pub fn reserve(&self) -> io::Result<()> {
        use std::io::Write;
        let len = fs::symlink_metadata(self.record_path())?.len() as usize;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.spare_path())?;
        let written = f.write_all(&vec![b' '; len.max(SLOT)]);
        if written.is_err() {
            let _ = fs::remove_file(self.spare_path());
        }
        written
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
                    "cannot create the log '{}': {}",
                    shown(&path).display(),
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
                    "cannot read the log of job {}: '{}': {}",
                    self.id,
                    shown(&path).display(),
                    os_words(&e)
                ),
            )
        })?;
        let m = f.metadata().map_err(|e| Error::failure(os_words(&e)))?;
        if !m.is_file() || m.uid() != uid() {
            return Err(refuse(&path, "is not a file of yours"));
        }
        Ok(f)
    }

    /// The log's older part, `log.1`, left by a rotation of a capped log
    /// (`--log-max`): `None` when there is none, or it is not a file of
    /// yours.
    pub fn open_older_log(&self) -> Option<File> {
        let f = open_nofollow(&self.dir.join("log.1"), true).ok()?;
        let m = f.metadata().ok()?;
        (m.is_file() && m.uid() == uid()).then_some(f)
    }

    /// Whether this is what a start that failed half-way leaves (killed, or
    /// refused by the disk, between claiming the id and writing the first
    /// record): no record, nothing else of value (an empty log, the spare,
    /// temporary files, a socket), and nothing new for a minute, so not a
    /// start in progress. `gc` removes it; anything else without a record
    /// is the user's to look at.
    pub fn is_leftover(&self) -> bool {
        if !matches!(fs::symlink_metadata(self.record_path()), Err(e) if e.kind() == io::ErrorKind::NotFound)
        {
            return false;
        }
        let Ok(m) = fs::symlink_metadata(&self.dir) else {
            return false;
        };
        let quiet = m
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= std::time::Duration::from_secs(60));
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return false;
        };
        quiet
            && entries.flatten().all(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                let size = e.metadata().map_or(u64::MAX, |m| m.len());
                match &*name {
                    "log" => size == 0,
                    "sock" => true,
                    n => n == SPARE || (n.starts_with(".record.json.") && n.ends_with(".tmp")),
                }
            })
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

/// The spare's name in the job directory.
const SPARE: &str = ".record.spare";

/// The unit records are padded to: a file system's block (and page).
pub const SLOT: usize = 4096;

/// What a record may grow by before it needs a larger slot (an exit
/// status, an end time, a reason for a lost log: a few dozen bytes).
const HEADROOM: usize = 1024;

/// `r` as written: bounded, pretty JSON, padded with spaces to whole slots
/// with [`HEADROOM`] to spare.
fn slot_text(r: &Record) -> io::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(&r.bounded()).map_err(io::Error::other)?;
    text.push(b'\n');
    debug_assert!(text.len() <= MAX_RECORD);
    let slots = (text.len() + HEADROOM).div_ceil(SLOT);
    text.resize(slots * SLOT, b' ');
    Ok(text)
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

/// The record as `read` gives it, read again while it looks lost: a
/// record whose writer is gone is the last word only when it was read
/// after the writer was seen gone. A read before may have been replaced
/// meanwhile, by the same writer (its final record, then it exited) or by
/// the next one (the starter hands over to the supervisor, which may end
/// at once: two writers gone within one look). So it is read again until
/// two reads in a row name the same gone writer, four reads at most.
fn last_word(
    mut read: impl FnMut() -> std::result::Result<Record, String>,
) -> std::result::Result<Record, String> {
    let mut r = read()?;
    for _ in 0..3 {
        if r.status() != Status::Lost {
            break;
        }
        let again = read()?;
        if again.writer == r.writer {
            return Ok(again);
        }
        r = again;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn record(state: State, writer: i32) -> Record {
        let mut r = Record::new("1", &[OsString::from("true")]);
        r.state = state;
        // Pids that are no process: every writer here is gone.
        r.writer = Some(ProcId {
            pid: i32::MAX - writer,
            start: 1,
        });
        r
    }

    fn read_in_turn(records: Vec<Record>) -> (Record, usize) {
        let mut reads = 0;
        let r = last_word(|| {
            reads += 1;
            Ok(records[(reads - 1).min(records.len() - 1)].clone())
        })
        .unwrap();
        (r, reads)
    }

    #[test]
    fn a_record_replaced_by_its_writers_final_one_is_read_again() {
        let (r, reads) = read_in_turn(vec![record(State::Running, 1), record(State::Exited, 1)]);
        assert_eq!(r.state, State::Exited);
        assert_eq!(reads, 2);
    }

    #[test]
    fn a_handover_and_an_end_within_one_look_still_give_the_final_record() {
        // The starter's record, then the supervisor's (gone too by the
        // time it is looked at), then the supervisor's final one: one
        // re-read would have said lost.
        let (r, reads) = read_in_turn(vec![
            record(State::Starting, 1),
            record(State::Running, 2),
            record(State::Exited, 2),
        ]);
        assert_eq!(r.state, State::Exited, "{r:?}");
        assert_eq!(reads, 3);
    }

    #[test]
    fn a_gone_writer_read_twice_is_the_last_word() {
        let (r, reads) = read_in_turn(vec![
            record(State::Running, 1),
            record(State::Running, 1),
            record(State::Exited, 1),
        ]);
        assert_eq!(r.status(), Status::Lost);
        assert_eq!(reads, 2, "no third read once the writer was seen gone");
    }

    #[test]
    fn a_live_writer_is_read_once() {
        let mut live = record(State::Running, 1);
        live.writer = ProcId::current();
        let (r, reads) = read_in_turn(vec![live, record(State::Exited, 1)]);
        assert_eq!(r.status(), Status::Running);
        assert_eq!(reads, 1);
    }
}
