//! What `rerun` needs beside the record, kept out of it because it has no
//! bound (records are bounded: [`super::MAX_RECORD`]): the argv exactly as
//! given (`argv`) and the environment (`env`), each a file in the job's
//! directory, 0600, one NUL-terminated entry after another (`KEY=VALUE`
//! for the environment).

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::Job;
use crate::sys::private_dir::{open_nofollow, replace_file, uid};

/// The files' names in the job directory.
const ARGV: &str = "argv";
const ENV: &str = "env";

/// What a reader takes at most: an argv plus environment is limited by the
/// kernel to a few MiB (ARG_MAX and the stack); anything far larger is not
/// one of these files.
const READ_MAX: u64 = 64 << 20;

impl Job {
    pub fn env_path(&self) -> PathBuf {
        self.dir.join(ENV)
    }

    pub fn argv_path(&self) -> PathBuf {
        self.dir.join(ARGV)
    }

    /// Saves the argv and this process's environment for `rerun`.
    pub fn save_for_rerun(&self, argv: &[OsString]) -> io::Result<()> {
        replace_file(
            &self.argv_path(),
            &join(argv.iter().map(|a| a.as_bytes().to_vec())),
            0o600,
            false,
        )?;
        let env = std::env::vars_os().map(|(k, v)| {
            let mut e = k.into_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        });
        replace_file(&self.env_path(), &join(env), 0o600, false)
    }

    /// The saved argv; `None` when the job has none (an older hupsafe, a
    /// line, a rescued process).
    pub fn saved_argv(&self) -> io::Result<Option<Vec<OsString>>> {
        let Some(bytes) = self.read_saved(&self.argv_path())? else {
            return Ok(None);
        };
        let argv = split(&bytes).map(OsString::from_vec).collect::<Vec<_>>();
        if argv.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "argv is empty"));
        }
        Ok(Some(argv))
    }

    /// The saved environment as (KEY, VALUE) pairs; `None` when the job has
    /// none. Entries without a name are left out.
    pub fn saved_env(&self) -> io::Result<Option<Vec<(OsString, OsString)>>> {
        let Some(bytes) = self.read_saved(&self.env_path())? else {
            return Ok(None);
        };
        let env = split(&bytes)
            .filter_map(|e| {
                let at = e.iter().position(|&b| b == b'=')?;
                (at > 0).then(|| {
                    (
                        OsString::from_vec(e[..at].to_vec()),
                        OsString::from_vec(e[at + 1..].to_vec()),
                    )
                })
            })
            .collect();
        Ok(Some(env))
    }

    /// Which of the argv and the environment are saved (each a regular
    /// file of yours), without reading them: what `ps --json` says.
    pub fn saved(&self) -> (bool, bool) {
        let mine = |p: PathBuf| {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.uid() == uid())
        };
        (mine(self.argv_path()), mine(self.env_path()))
    }

    /// A saved file: never through a symlink, yours, a regular file.
    fn read_saved(&self, path: &std::path::Path) -> io::Result<Option<Vec<u8>>> {
        let mut f = match open_nofollow(path, true) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let m = f.metadata()?;
        if !m.is_file() || m.uid() != uid() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "not a file of yours",
            ));
        }
        if m.len() > READ_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
        }
        let mut bytes = Vec::with_capacity(m.len() as usize);
        f.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }
}

/// Entries, each followed by a NUL.
fn join(entries: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e);
        out.push(0);
    }
    out
}

/// The entries of [`join`]'s output (a last one without its NUL counts).
fn split(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let none = body.is_empty() && bytes.is_empty();
    body.split(|&b| b == 0)
        .map(<[u8]>::to_vec)
        .take(if none { 0 } else { usize::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_empty_ones_included() {
        for entries in [
            vec![],
            vec![b"".to_vec()],
            vec![b"a".to_vec(), b"".to_vec(), b"b c\n".to_vec()],
        ] {
            let bytes = join(entries.clone().into_iter());
            assert_eq!(split(&bytes).collect::<Vec<_>>(), entries);
        }
    }
}
