//! The program's output: read from the pty's master, written to the log
//! (whatever happens to the clients) and to the live clients; and keys
//! passed the other way. A log that cannot be written costs the log those
//! bytes, counted in the record, never the program its output.

use std::fs::File;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::Instant;

use super::super::os;
use super::super::proto;
use super::clients::Mode;
use super::{Supervisor, RECORD_EVERY};
use crate::error::os_words;

/// The job's log: appended to, and read again for replays.
///
/// Offsets are logical: counted from the program's first logged byte, so
/// they stay valid when a capped log is rotated (`log` renamed to `log.1`,
/// replacing the older one, and a new `log` begun).
pub struct Log {
    file: File,
    /// The log again, for replays (None if it could not be opened).
    reader: Option<File>,
    /// Bytes in the log: everything the program wrote, less what was lost.
    end: u64,
    /// The logical offset of the current file's first byte.
    base: u64,
    cap: Option<Cap>,
}

/// A log kept to about `max` bytes: rotated once it holds that many.
struct Cap {
    max: u64,
    /// The log's path (`log.1` is beside it).
    path: PathBuf,
    /// `log.1`, opened for replays, and its first byte's logical offset.
    older: Option<(File, u64)>,
    /// Where the file holds enough to rotate (moved on after a rotation
    /// that failed, so it is not tried again at every write).
    next: u64,
}

/// What became of bytes given to [`Log::append`].
#[derive(Debug, PartialEq, Eq)]
pub struct Appended {
    pub written: usize,
    /// Why the rest could not be written.
    pub error: Option<String>,
}

impl Log {
    pub fn new(file: File, reader: Option<File>) -> Log {
        Log {
            file,
            reader,
            end: 0,
            base: 0,
            cap: None,
        }
    }

    /// The same log, rotated to `path`.1 whenever it holds `max` bytes:
    /// at most about twice `max` on disk, at least the last `max` bytes kept.
    pub fn capped(mut self, path: PathBuf, max: u64) -> Log {
        self.cap = Some(Cap {
            max,
            path,
            older: None,
            next: max,
        });
        self
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// The logical offset of the oldest byte still kept: bytes before it
    /// were dropped by rotations.
    pub fn first(&self) -> u64 {
        match &self.cap {
            Some(Cap {
                older: Some((_, b)),
                ..
            }) => *b,
            _ => self.base,
        }
    }

    /// The descriptors to keep open.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        let older = self.cap.as_ref().and_then(|c| c.older.as_ref());
        std::iter::once(self.file.as_raw_fd())
            .chain(self.reader.as_ref().map(|r| r.as_raw_fd()))
            .chain(older.map(|(f, _)| f.as_raw_fd()))
    }

    /// Writes as much of `data` as the log takes.
    pub fn append(&mut self, data: &[u8]) -> Appended {
        let mut done = 0;
        let mut error = None;
        while done < data.len() {
            match self.file.write(&data[done..]) {
                Ok(0) => {
                    error = Some("the log file accepts no more bytes".into());
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(os_words(&e));
                    break;
                }
            }
        }
        self.end += done as u64;
        if error.is_none() {
            error = self.rotate_if_full();
        }
        Appended {
            written: done,
            error,
        }
    }

    /// Rotates a capped log that holds its cap: `log` becomes `log.1` (the
    /// older `log.1` goes) and a new `log` is begun. Two system calls and
    /// an open: the program is never held up. Why it could not, if it
    /// could not (the log then grows until the cap is reached again).
    fn rotate_if_full(&mut self) -> Option<String> {
        let cap = self.cap.as_mut()?;
        let held = self.end - self.base;
        if held < cap.next {
            return None;
        }
        let older = cap.path.with_file_name(format!(
            "{}.1",
            cap.path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let failed = |cap: &mut Cap, what: &str, e: &io::Error| {
            cap.next = held + cap.max;
            Some(format!("cannot rotate the log ({what}): {}", os_words(e)))
        };
        if let Err(e) = std::fs::rename(&cap.path, &older) {
            return failed(cap, "rename", &e);
        }
        let new = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&cap.path);
        let new = match new {
            Ok(f) => f,
            Err(e) => {
                // Back where it was: the log goes on in the same file.
                let _ = std::fs::rename(&older, &cap.path);
                return failed(cap, "new file", &e);
            }
        };
        let reader = File::open(&cap.path).ok();
        let _ = self.file.flush();
        self.file = new;
        let previous = std::mem::replace(&mut self.reader, reader);
        cap.older = previous.map(|r| (r, self.base));
        self.base = self.end;
        cap.next = cap.max;
        None
    }

    /// The oldest byte still kept once `n` more are appended: later than
    /// [`Log::first`] when that append rotates the log.
    pub fn first_after(&self, n: usize) -> u64 {
        match &self.cap {
            Some(cap) if self.end + n as u64 - self.base >= cap.next => self.base,
            _ => self.first(),
        }
    }

    pub fn flush(&mut self) {
        let _ = self.file.flush();
    }

    /// Reads logged bytes at logical offset `at` (within one file); `None`
    /// at the end, before [`Log::first`], or if the log is shorter than we
    /// wrote (truncated by hand) or unreadable.
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> Option<usize> {
        let (file, start, stop) = self.file_at(at)?;
        let want = ((stop.saturating_sub(at)) as usize).min(buf.len());
        match file.read_at(&mut buf[..want], at - start) {
            Ok(n) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// The file holding logical offset `at`, its first byte's offset, and
    /// where its bytes end.
    fn file_at(&self, at: u64) -> Option<(&File, u64, u64)> {
        if at >= self.base {
            return Some((self.reader.as_ref()?, self.base, self.end));
        }
        let (older, start) = self.cap.as_ref()?.older.as_ref()?;
        (at >= *start).then_some((older, *start, self.base))
    }

    /// The offset just after the first newline at or after `from` (or the
    /// oldest byte kept, if later), so a replay starts on a line of its own
    /// (or `from` if there is none near).
    pub fn line_start_after(&self, from: u64) -> u64 {
        let from = from.max(self.first());
        let mut buf = [0u8; 4096];
        let Some((r, start, _)) = self.file_at(from) else {
            return from;
        };
        match r.read_at(&mut buf, from - start) {
            Ok(n) => buf[..n]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(from, |p| from + p as u64 + 1),
            Err(_) => from,
        }
    }
}

impl Supervisor {
    /// Reads what the program wrote: into the log, then to live clients.
    pub(super) fn read_output(&mut self) {
        for _ in 0..4 {
            if self.master.is_none() || self.backpressure() {
                return;
            }
            // A pty hands out about a page per read: gather what is ready
            // into one chunk, so the log and the clients get one write each.
            let mut n = 0;
            let mut more = true;
            while let (true, Some(m)) = (n < self.buf.len(), self.master.as_ref()) {
                match os::read(m, &mut self.buf[n..]) {
                    Ok(k) if k > 0 => n += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        more = false;
                        break;
                    }
                    // 0 or EIO: every holder of the slave side has closed it.
                    _ => {
                        self.master = None;
                        more = false;
                    }
                }
            }
            if n > 0 {
                self.last_output = Instant::now();
                let data = std::mem::take(&mut self.buf);
                self.output(&data[..n]);
                self.buf = data;
            }
            if !more {
                return;
            }
        }
    }

    fn output(&mut self, data: &[u8]) {
        // Terminals first (a key's echo should not wait for the disk); a
        // replaying client finds these bytes in the log once written.
        for c in self.clients.iter_mut().filter(|c| c.mode == Mode::Live) {
            c.push(proto::OUTPUT, data);
            c.flush();
        }
        // The model reads the log: it must have read what a rotation is
        // about to drop (it is normally far ahead of that).
        let kept = self.log.first_after(data.len());
        if self.screen.as_ref().is_some_and(|s| s.parsed < kept) {
            self.catch_up(kept, usize::MAX);
        }
        let appended = self.log.append(data);
        if appended.error.is_some() {
            self.record.log_error = appended.error;
        }
        let lost = (data.len() - appended.written) as u64;
        if lost > 0 && self.screen.is_some() {
            // Not in the log, still on the screen: fed now, in order.
            self.catch_up(u64::MAX, usize::MAX);
            if let Some(s) = self.screen.as_mut() {
                s.feed(&data[appended.written..]);
            }
        }
        if lost > 0 {
            if self.record.bytes_lost == 0 {
                // The first loss is worth a record at once.
                self.record_written = Instant::now() - RECORD_EVERY;
            }
            self.record.bytes_lost += lost;
            self.record_dirty = true;
        }
    }

    /// Passes queued keys to the program's terminal.
    pub(super) fn write_input(&mut self) {
        let Some(m) = self.master.as_ref() else {
            self.input.clear();
            return;
        };
        while !self.input.is_empty() {
            let (a, _) = self.input.as_slices();
            match os::write(m, a) {
                Ok(n) if n > 0 => {
                    self.input.drain(..n);
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A log in a fresh directory, with its reader.
    pub fn log_in(dir: &tempfile::TempDir) -> Log {
        let path = dir.path().join("log");
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        Log::new(file, File::open(&path).ok())
    }

    #[test]
    fn appended_bytes_are_counted_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = log_in(&dir);
        let a = log.append(b"one\ntwo\nthree");
        assert_eq!(
            a,
            Appended {
                written: 13,
                error: None
            }
        );
        assert_eq!(log.end(), 13);
        let mut buf = [0u8; 64];
        assert_eq!(log.read_at(&mut buf, 4), Some(9));
        assert_eq!(&buf[..9], b"two\nthree");
        assert_eq!(log.read_at(&mut buf, 13), None, "nothing past the end");
        // A small buffer gets a part.
        assert_eq!(log.read_at(&mut buf[..2], 0), Some(2));
    }

    #[test]
    fn replays_start_after_a_newline() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = log_in(&dir);
        log.append(b"first line\nsecond line\nthird");
        assert_eq!(log.line_start_after(0), 11);
        assert_eq!(log.line_start_after(3), 11);
        assert_eq!(log.line_start_after(11), 23);
        assert_eq!(log.line_start_after(24), 24, "no newline: as asked");
    }

    /// Everything readable from logical offset `at` on, as refill reads it.
    fn read_all(log: &Log, mut at: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        at = at.max(log.first());
        while let Some(n) = log.read_at(&mut buf, at) {
            out.extend_from_slice(&buf[..n]);
            at += n as u64;
        }
        out
    }

    #[test]
    fn a_capped_log_rotates_and_keeps_logical_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = log_in(&dir).capped(path.clone(), 10);
        log.append(b"aaaa\nbbbb\n"); // 10 bytes: full, rotated
        assert_eq!(log.first(), 0, "nothing dropped yet: all in log.1");
        assert_eq!(
            std::fs::read(dir.path().join("log.1")).unwrap(),
            b"aaaa\nbbbb\n"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        log.append(b"cccc\n");
        assert_eq!(
            read_all(&log, 0),
            b"aaaa\nbbbb\ncccc\n",
            "across both files"
        );
        assert_eq!(read_all(&log, 12), b"cc\n");
        assert_eq!(log.first_after(4), 0, "no rotation yet: nothing dropped");
        assert_eq!(log.first_after(5), 10, "this append drops the first log.1");
        log.append(b"dddd\neeee\n"); // 15 in log: rotated again
        assert_eq!(log.end(), 25);
        assert_eq!(log.first(), 10, "the first log.1 is gone");
        assert_eq!(
            std::fs::read(dir.path().join("log.1")).unwrap(),
            b"cccc\ndddd\neeee\n"
        );
        let mut buf = [0u8; 8];
        assert_eq!(log.read_at(&mut buf, 3), None, "dropped bytes are not read");
        // A replay asked from a dropped offset starts at the oldest kept.
        assert_eq!(read_all(&log, 0), b"cccc\ndddd\neeee\n");
        assert_eq!(log.line_start_after(2), 15, "after the first kept line");
        assert_eq!(log.line_start_after(20), 25);
        log.append(b"ff");
        assert_eq!(read_all(&log, 24), b"\nff");
        // On disk: at most the cap plus one write, twice.
        let on_disk = std::fs::metadata(&path).unwrap().len()
            + std::fs::metadata(dir.path().join("log.1")).unwrap().len();
        assert_eq!(on_disk, 17);
    }

    #[test]
    fn a_rotation_that_cannot_happen_is_said_and_logging_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        // The log's path is not where the log is: the rename fails.
        let mut log = log_in(&dir).capped(dir.path().join("elsewhere"), 4);
        let a = log.append(b"12345");
        assert_eq!(a.written, 5);
        let why = a.error.expect("a reason");
        assert!(why.contains("cannot rotate the log"), "{why}");
        assert_eq!(log.append(b"6").error, None, "not tried again at once");
        assert_eq!(read_all(&log, 0), b"123456", "nothing lost");
    }

    #[test]
    fn a_full_disk_costs_the_log_and_says_why() {
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut log = Log::new(full, None);
        let a = log.append(b"lost");
        assert_eq!(a.written, 0);
        let why = a.error.expect("a reason");
        assert!(why.contains("space"), "{why}");
        assert_eq!(log.end(), 0, "lost bytes are not logged bytes");
        let mut buf = [0u8; 4];
        assert_eq!(log.read_at(&mut buf, 0), None, "no reader, no replay");
        assert_eq!(log.line_start_after(2), 2);
    }
}
