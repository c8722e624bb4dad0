//! Directories only the user can touch: where the shim and the job state
//! live. Whoever can change the shim runs code in every protected process,
//! and job logs hold everything the programs print, so both directories are
//! created 0700 and checked on every use: a directory (not a symlink),
//! owned by the user, private.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

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
    /// checks it.
    pub fn ensure(&self, dir: &Path) -> Result<()> {
        match fs::symlink_metadata(dir) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut b = fs::DirBuilder::new();
                b.recursive(true).mode(0o700);
                b.create(dir).map_err(|e| {
                    Error::failure(format!(
                        "cannot create '{}' for {}: {}",
                        dir.display(),
                        self.what,
                        os_words(&e)
                    ))
                })?;
                // A umask can only take bits away; make sure it left ours.
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
            }
            Err(e) => return Err(self.cannot_use(dir, &e)),
        }
        self.check(dir)
    }

    /// Checks an existing `dir`: a directory, the user's own, private.
    pub fn check(&self, dir: &Path) -> Result<()> {
        let m = fs::symlink_metadata(dir).map_err(|e| self.cannot_use(dir, &e))?;
        if m.file_type().is_symlink() || !m.is_dir() {
            return Err(self.refuse(dir, "is not a directory (or is a symbolic link)", self.fix));
        }
        if m.uid() != uid() {
            return Err(self.refuse(
                dir,
                &format!("is owned by uid {}, not by you (uid {})", m.uid(), uid()),
                self.fix,
            ));
        }
        if m.mode() & 0o077 != 0 {
            return Err(self.refuse(
                dir,
                &format!("is not private (mode {:o})", m.mode() & 0o7777),
                &format!("run: chmod 700 '{}'", dir.display()),
            ));
        }
        Ok(())
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

    fn cannot_use(&self, dir: &Path, e: &io::Error) -> Error {
        Error::failure(format!(
            "cannot use '{}' for {}: {}",
            dir.display(),
            self.what,
            os_words(e)
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

/// Opens an existing file for reading, never through a symlink.
pub fn open_nofollow(path: &Path, nonblock: bool) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}
