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
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
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
