//! `hupsafe install-nohup DIR`: makes `DIR/nohup` a symlink to this
//! hupsafe binary, which then behaves as GNU nohup plus the shim. It never
//! replaces a `nohup` that is not already hupsafe's.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{os_words, write_stdout, Error, Result};

pub fn install(dir: &Path) -> Result<()> {
    let exe = this_binary().map_err(|e| {
        Error::failure(format!(
            "cannot tell where this hupsafe binary is: {}",
            os_words(&e)
        ))
    })?;
    fs::create_dir_all(dir).map_err(|e| {
        Error::failure(format!(
            "cannot create '{}': {}",
            dir.display(),
            os_words(&e)
        ))
    })?;
    let link = dir.join("nohup");
    let already = match fs::symlink_metadata(&link) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(Error::failure(format!(
                "cannot look at '{}': {}",
                link.display(),
                os_words(&e)
            )))
        }
        Ok(m) => match ours(&link, m.file_type().is_symlink(), &exe) {
            Ours::Same => true,
            Ours::Stale => {
                fs::remove_file(&link).map_err(|e| {
                    Error::failure(format!(
                        "cannot replace '{}': {}",
                        link.display(),
                        os_words(&e)
                    ))
                })?;
                false
            }
            Ours::No(what) => {
                return Err(Error::failure(format!(
                    "refusing to replace '{}': it is {what}, not hupsafe's nohup. \
                     Remove it yourself if you want hupsafe there, or choose another DIR.",
                    link.display()
                )))
            }
        },
    };
    if !already {
        std::os::unix::fs::symlink(&exe, &link).map_err(|e| {
            Error::failure(format!(
                "cannot create '{}': {}",
                link.display(),
                os_words(&e)
            ))
        })?;
    }
    let mut msg = if already {
        format!(
            "'{}' already points to '{}'.\n",
            link.display(),
            exe.display()
        )
    } else {
        format!("Installed '{}' -> '{}'.\n", link.display(), exe.display())
    };
    msg.push_str(&path_advice(dir));
    write_stdout(msg.as_bytes())
}

/// This binary's path. If it was replaced while running (an upgrade),
/// /proc/self/exe says "PATH (deleted)"; the new file at PATH is the one
/// to link to.
fn this_binary() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    fs::canonicalize(&exe).or_else(|e| {
        let b = exe.as_os_str().as_bytes();
        match b.strip_suffix(b" (deleted)") {
            Some(p) => fs::canonicalize(OsStr::from_bytes(p)),
            None => Err(e),
        }
    })
}

enum Ours {
    /// A symlink to this very binary.
    Same,
    /// A dangling symlink to some `hupsafe` (an older install moved away).
    Stale,
    No(String),
}

fn ours(link: &Path, is_symlink: bool, exe: &Path) -> Ours {
    if !is_symlink {
        return Ours::No("a regular file or directory".into());
    }
    let target = fs::read_link(link).unwrap_or_default();
    match fs::canonicalize(link) {
        Ok(t) if t == exe => Ours::Same,
        Ok(t) => Ours::No(format!("a link to '{}'", t.display())),
        Err(_) if target.file_name() == Some(OsStr::new("hupsafe")) => Ours::Stale,
        Err(_) => Ours::No(format!("a dangling link to '{}'", target.display())),
    }
}

/// Where DIR stands on PATH relative to the other `nohup`s.
fn path_advice(dir: &Path) -> String {
    let dir_abs = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let entries = crate::sys::exec::path_dirs();
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let ours_at = entries.iter().position(|e| canon(e) == dir_abs);
    let other_at = entries.iter().position(|e| {
        canon(e) != dir_abs && fs::metadata(e.join("nohup")).is_ok_and(|m| m.is_file())
    });
    let shell_line = format!(
        "  export PATH=\"{}:$PATH\"   # e.g. in ~/.bashrc or ~/.profile\n",
        dir_abs.display()
    );
    match (ours_at, other_at) {
        (Some(a), Some(b)) if a < b => format!(
            "'{}' comes before '{}' on PATH: `nohup` now runs hupsafe \
             (run `hash -r` in shells that are already open).\n",
            dir_abs.display(),
            entries[b].display()
        ),
        (Some(_), None) => format!(
            "'{}' is on PATH: `nohup` now runs hupsafe \
             (run `hash -r` in shells that are already open).\n",
            dir_abs.display()
        ),
        (Some(_), Some(b)) => format!(
            "'{}' comes after '{}' on PATH, so `nohup` still runs the other one. \
             Put it first:\n{shell_line}",
            dir_abs.display(),
            entries[b].display()
        ),
        (None, _) => format!(
            "'{}' is not on PATH. Put it first, so that `nohup` finds hupsafe:\n{shell_line}",
            dir_abs.display()
        ),
    }
}
