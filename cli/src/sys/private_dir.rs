//! Directories only the user can touch: where the shim and the job state
//! live. Whoever can change the shim runs code in every protected process,
//! and job logs hold everything the programs print, so both directories are
//! created 0700 and checked on every use: a directory (not a symlink),
//! owned by the user, private, below directories only the user or root can
//! change, reached once from `/` (sys/trusted.rs) and then used through the
//! open descriptor.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::trusted::{self, Refusal, Walked};
use crate::error::{os_words, Error, Result};

/// A kind of private directory, for the messages about it.
pub struct Private {
    /// What it holds: "refusing to use DIR for {what}".
    pub what: &'static str,
    /// Why that matters, after the reason.
    pub stakes: &'static str,
    /// How to get it out of the way when it is not the user's own.
    pub fix: &'static str,
}

pub fn uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl Private {
    /// Creates `dir` (and missing parents) as 0700 when missing, then
    /// checks it and every directory above it; the open directory.
    pub fn ensure(&self, dir: &Path) -> Result<Walked> {
        self.open_checked(dir, Some(0o700), 0o077)
    }

    /// Checks an existing `dir`: a directory, the user's own, private,
    /// below directories only the user (or root) can change.
    pub fn check(&self, dir: &Path) -> Result<Walked> {
        self.open_checked(dir, None, 0o077)
    }

    /// Walks to `dir` from `/` (sys/trusted.rs), creating it with mode
    /// `create` when asked, and checks the last directory: a directory
    /// (not a symlink), the user's own, with no bit of `deny` in its mode.
    pub fn open_checked(&self, dir: &Path, create: Option<u32>, deny: u32) -> Result<Walked> {
        let w = trusted::walk(dir, create).map_err(|r| self.refusal(dir, r))?;
        self.judge(dir, w, deny)
    }

    fn judge(&self, dir: &Path, w: Walked, deny: u32) -> Result<Walked> {
        if w.final_was_link {
            return Err(self.refuse(dir, "is not a directory (or is a symbolic link)", self.fix));
        }
        if w.uid != uid() {
            return Err(self.refuse(
                dir,
                &format!("is owned by uid {}, not by you (uid {})", w.uid, uid()),
                self.fix,
            ));
        }
        if w.mode & deny != 0 {
            let (what, chmod) = if deny & 0o070 != 0 {
                ("is not private", 0o700)
            } else {
                ("can be written by others", 0o755)
            };
            return Err(self.refuse(
                dir,
                &format!("{what} (mode {:o})", w.mode & 0o7777),
                &format!("run: chmod {chmod:o} '{}'", dir.display()),
            ));
        }
        Ok(w)
    }

    /// The directory `name` inside `parent` (opened relative to it, never
    /// looked up by path again), created 0700 when `create`, checked as
    /// [`Private::check`] does.
    pub fn child(&self, parent: &Walked, name: &str, create: bool) -> Result<Walked> {
        let dir = parent.path.join(name);
        let w = trusted::child(parent, name, create.then_some(0o700))
            .map_err(|r| self.refusal(&dir, r))?;
        self.judge(&dir, w, 0o077)
    }

    /// The message for a walk that stopped.
    pub fn refusal(&self, dir: &Path, r: Refusal) -> Error {
        match r {
            Refusal::Unsafe { at, why } if at == dir => self.refuse(dir, &why, self.fix),
            Refusal::Unsafe { at, why } => self.refuse(
                dir,
                &format!(
                    "sits under '{}', which {why}: whoever can change it can put another \
                     directory in place of this one",
                    at.display()
                ),
                self.fix,
            ),
            Refusal::Io { at, err } => Error::failure(format!(
                "cannot use '{}' for {}: {}{}",
                dir.display(),
                self.what,
                if at == dir {
                    String::new()
                } else {
                    format!("'{}': ", at.display())
                },
                os_words(&err)
            )),
        }
    }

    /// The refusal message: the problem, why it matters, and the fix.
    pub fn refuse(&self, path: &Path, why: &str, fix: &str) -> Error {
        Error::failure(format!(
            "refusing to use '{}' for {}: it {why}; {}. Fix: {fix}",
            path.display(),
            self.what,
            self.stakes
        ))
    }
}

/// Replaces `target` atomically with `bytes`, mode `mode`: a new file with
/// a random name beside it (created exclusively, so never an existing file
/// nor a planted symlink), written, optionally synced, then renamed over
/// `target`. A reader sees the old file or the new one, never a mix; a
/// failure leaves the old file and no temporary one.
pub fn replace_file(target: &Path, bytes: &[u8], mode: u32, sync: bool) -> io::Result<()> {
    use std::io::Write;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // The umask applied at creation; the mode asked for is the mode meant.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// How [`trade_file`] writes into its spare.
#[derive(Clone, Copy)]
pub enum Room {
    /// The spare keeps its length, the text padded with spaces (the
    /// caller's format allows them): its blocks are room already taken, so
    /// a full disk cannot keep the text out. A missing spare is an error.
    Kept,
    /// The spare takes the text's length, and is created with this mode
    /// the first time; a missing `target` is the spare renamed onto it.
    Exact(u32),
}

/// Replaces `target` with `bytes` by trading names with `spare`, a file
/// kept beside it for that (written in place, never through a link,
/// refused unless a file of this user's): a reader sees the old whole text
/// or the new one, and once both exist no file is made or deleted, none
/// grows. Some filesystems make every file created cost more for each one
/// deleted in the last minutes (ext4 without a journal scans past them):
/// a standby's announcement, made for every protected line, is traded in
/// too. The old text is left in `spare`.
pub fn trade_file(spare: &Path, target: &Path, bytes: &[u8], room: Room) -> io::Result<()> {
    use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
    let mut open = fs::OpenOptions::new();
    open.write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    if let Room::Exact(mode) = room {
        open.create(true).mode(mode);
    }
    let f = open.open(spare)?;
    let m = f.metadata()?;
    if !m.is_file() || m.uid() != uid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "'{}' is not a file of yours",
                trusted::shown(spare).display()
            ),
        ));
    }
    match room {
        Room::Kept => {
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().max(m.len() as usize), b' ');
            f.write_all_at(&padded, 0)?;
        }
        Room::Exact(mode) => {
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            f.write_all_at(bytes, 0)?;
            f.set_len(bytes.len() as u64)?;
        }
    }
    drop(f);
    let traded = rustix::fs::renameat_with(
        rustix::fs::CWD,
        spare,
        rustix::fs::CWD,
        target,
        rustix::fs::RenameFlags::EXCHANGE,
    );
    match (traded, room) {
        (Err(rustix::io::Errno::NOENT), Room::Exact(_)) => Ok(fs::rename(spare, target)?),
        (traded, _) => Ok(traded?),
    }
}

/// Opens an existing file for reading, never through a symlink.
pub fn open_nofollow(path: &Path, nonblock: bool) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

/// The wrap directory: `hupsafe init` puts it first on PATH, so whoever can
/// write it chooses what every command name runs.
pub const WRAPPERS: Private = Private {
    what: "wrappers",
    stakes: "it comes first on PATH, so whoever can write it chooses what your commands run",
    fix: "remove it, or set HUPSAFE_WRAP_DIR to a directory only you can write",
};

/// The wrap directory checked with every directory above it (created 0755
/// when `create`): the user's own, writable by nobody else.
pub fn wrap_dir_checked(dir: &Path, create: bool) -> Result<Walked> {
    WRAPPERS.open_checked(dir, create.then_some(0o755), 0o022)
}
