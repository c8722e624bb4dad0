//! The program's output: read from the pty's master, written to the log
//! (whatever happens to the clients) and to the live clients; and keys
//! passed the other way. A log that cannot be written costs the log those
//! bytes, counted in the record, never the program its output.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use super::super::os;
use super::super::proto;
use super::clients::Mode;
use super::{Supervisor, RECORD_EVERY};
use crate::error::os_words;

/// The job's log: appended to, and read again for replays.
pub struct Log {
    file: File,
    /// The log again, for replays (None if it could not be opened).
    reader: Option<File>,
    /// Bytes in the log: everything the program wrote, less what was lost.
    end: u64,
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
        }
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// The descriptors to keep open.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        std::iter::once(self.file.as_raw_fd()).chain(self.reader.as_ref().map(|r| r.as_raw_fd()))
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
        Appended {
            written: done,
            error,
        }
    }

    pub fn flush(&mut self) {
        let _ = self.file.flush();
    }

    /// Reads logged bytes at `at`; `None` at the end, or if the log is
    /// shorter than we wrote (truncated by hand) or unreadable.
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> Option<usize> {
        let want = ((self.end.saturating_sub(at)) as usize).min(buf.len());
        match self.reader.as_ref()?.read_at(&mut buf[..want], at) {
            Ok(n) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// The offset just after the first newline at or after `from`, so a
    /// replay starts on a line of its own (or `from` if there is none near).
    pub fn line_start_after(&self, from: u64) -> u64 {
        let mut buf = [0u8; 4096];
        let Some(r) = &self.reader else {
            return from;
        };
        match r.read_at(&mut buf, from) {
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
        let appended = self.log.append(data);
        if appended.error.is_some() {
            self.record.log_error = appended.error;
        }
        let lost = (data.len() - appended.written) as u64;
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
    use std::fs::OpenOptions;

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
