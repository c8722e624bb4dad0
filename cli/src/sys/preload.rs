//! The shim on disk, and in LD_PRELOAD.
//!
//! The shim travels inside the `hupsafe` binary and is written once into a
//! private per-user directory, named by its content hash so that two
//! versions of hupsafe never clash. Whoever can replace that file runs code
//! in every protected process, so the directory and the file are checked on
//! every use: owned by the user, not writable by anyone else, and every
//! directory and link above them safe (owned by the user or root, and not
//! group/world-writable unless sticky, like /tmp), walked from `/` and used
//! through the open directory (sys/trusted.rs). Root's programs load a
//! system copy every user can read ([`install`]).
//!
//! LD_PRELOAD is split on colons and spaces with no escaping, so the path may contain neither
//! (docs/HANGUPS.md, "Interposer rules"); a location that would is skipped for the next candidate.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::dirs;
use super::private_dir::{open_nofollow, replace_file};
use crate::error::{os_words, Error, Result};
use crate::sys::private_dir::{uid, Private};
use crate::sys::trusted::{self, Walked};

/// The variable that overrides the directory.
const LIB_DIR_VAR: &str = dirs::LIB.var;

/// The shim this binary carries.
pub static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libnohup.so"));
/// Its content hash (FNV-1a 64, hex).
pub const SHIM_HASH: &str = env!("HUPSAFE_SHIM_HASH");

/// The file name of this version's shim.
pub fn shim_file_name() -> String {
    format!("libnohup-{SHIM_HASH}.so")
}

/// The entries of an LD_PRELOAD value as the loader splits it: on colons
/// and spaces, with no escaping; empty ones are skipped.
pub fn entries(value: &OsStr) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty())
}

/// Whether an LD_PRELOAD entry is a hupsafe shim (of any version).
pub fn is_hupsafe_shim(entry: &[u8]) -> bool {
    let name = entry.rsplit(|&b| b == b'/').next().unwrap_or(entry);
    name.len() == "libnohup-".len() + 16 + ".so".len()
        && name.starts_with(b"libnohup-")
        && name.ends_with(b".so")
        && name["libnohup-".len()..name.len() - 3]
            .iter()
            .all(|b| b.is_ascii_hexdigit())
}

/// Where `hupsafe install --system` puts the shim, and where root's
/// protected programs load it from: root-owned, 0755.
pub const SYSTEM_LIB_DIR: &str = "/usr/local/lib/hupsafe";

/// Where the shim may live, best first: `(path, explicit, shared)`. An
/// explicit choice is an error when unusable; a default falls through to
/// the next one, and so does a refused one in a directory everybody shares
/// (another user may have made `/var/tmp/hupsafe-UID` first).
fn candidates() -> Vec<(PathBuf, bool, bool)> {
    if let Some(dir) = std::env::var_os(LIB_DIR_VAR).filter(|d| !d.is_empty()) {
        return vec![(PathBuf::from(dir), true, false)];
    }
    let mut v = Vec::new();
    if let Some(d) = dirs::LIB.default_dir() {
        v.push((d, false, false));
    }
    let u = uid();
    v.push((PathBuf::from(format!("/var/tmp/hupsafe-{u}")), false, true));
    v.push((PathBuf::from(format!("/tmp/hupsafe-{u}")), false, true));
    v
}

/// Why a path cannot go into LD_PRELOAD, if it cannot.
fn preload_unsafe_chars(p: &Path) -> Option<&'static str> {
    let b = p.as_os_str().as_bytes();
    if b.contains(&b':') {
        Some("contains a colon")
    } else if b.iter().any(|c| c.is_ascii_whitespace()) {
        Some("contains white space")
    } else {
        None
    }
}

/// Installs (or checks) the shim and returns the absolute path to put in
/// LD_PRELOAD (or DT_NEEDED).
///
/// For root that is the system copy ([`install_system`]): a program root
/// starts may become any user (`setpriv`, `su`, a daemon dropping
/// privileges), and the loader of that user must be able to read the shim,
/// which a private 0700 directory forbids. Readability is not the risk,
/// writability is: the system copy is readable by all and writable by root
/// only. An explicit `HUPSAFE_LIB_DIR` is root's own choice and is used as
/// for anyone (checked the same way): a copy there is root's alone, so
/// nothing else running as root can damage it, and users root's programs
/// become may not be able to read it.
pub fn install() -> Result<PathBuf> {
    let explicit = std::env::var_os(LIB_DIR_VAR).is_some_and(|d| !d.is_empty());
    if uid() == 0 && !explicit {
        return install_system();
    }
    install_private()
}

/// The shim in the user's private directory.
pub fn install_private() -> Result<PathBuf> {
    let mut skipped: Vec<String> = Vec::new();
    for (dir, explicit, shared) in candidates() {
        let attempt = (|| -> Result<PathBuf> {
            if !dir.is_absolute() {
                return Err(Error::failure(format!(
                    "{} must be an absolute path, got '{}'",
                    LIB_DIR_VAR,
                    dir.display()
                )));
            }
            if let Some(why) = preload_unsafe_chars(&dir) {
                return Err(Error::failure(format!(
                    "'{}' {why}, which LD_PRELOAD cannot carry",
                    dir.display()
                )));
            }
            let w = SHIM_DIR.ensure(&dir)?;
            install_in(&w, &dir)
        })();
        match attempt {
            Ok(p) => return Ok(p),
            Err(e) if explicit || (!shared && e.message.starts_with("refusing")) => {
                return Err(e);
            }
            Err(e) => skipped.push(e.message),
        }
    }
    Err(Error::failure(format!(
        "no private directory for the shim could be used:\n  {}\n\
         Set {LIB_DIR_VAR} to a directory of your own without spaces or colons.",
        skipped.join("\n  ")
    )))
}

/// The shim's directory: whoever can change the shim runs code in every
/// protected process.
const SHIM_DIR: Private = Private {
    what: "the shim",
    stakes: "whoever can change the shim runs code in every protected process",
    fix: "remove it, or set HUPSAFE_LIB_DIR to a directory of your own",
};

/// The system directory: whoever can change it runs code as root.
const SYSTEM_DIR: Private = Private {
    what: "the system-wide shim",
    stakes: "whoever can change it runs code in every program root protects, as root",
    fix: "make it and every directory above it root's, not writable by others",
};

/// The system-wide copy of the shim, written when missing (root only):
/// `/usr/local/lib/hupsafe/libnohup-HASH.so`, root-owned, every directory
/// above it root-owned and not writable by others, readable by every user.
pub fn install_system() -> Result<PathBuf> {
    let dir = Path::new(SYSTEM_LIB_DIR);
    let w = trusted::walk(dir, (uid() == 0).then_some(0o755))
        .map_err(|r| SYSTEM_DIR.refusal(dir, r))?;
    if w.final_was_link || w.uid != 0 || w.mode & 0o022 != 0 {
        return Err(SYSTEM_DIR.refuse(
            dir,
            &format!(
                "is {}owned by uid {}, mode {:o}",
                if w.final_was_link {
                    "a symbolic link, "
                } else {
                    ""
                },
                w.uid,
                w.mode & 0o7777
            ),
            SYSTEM_DIR.fix,
        ));
    }
    if !w.reachable_by_all {
        return Err(SYSTEM_DIR.refuse(
            dir,
            "cannot be searched by every user (a directory on the way lacks o+x)",
            &format!("run: chmod o+x on the directories of '{SYSTEM_LIB_DIR}'"),
        ));
    }
    install_in(&w, dir)
}

fn refuse(path: &Path, why: &str, fix: &str) -> Error {
    SHIM_DIR.refuse(path, why, fix)
}

/// Writes the shim into the walked directory `w` (reached as `dir`) unless
/// an identical copy is there that only its owner can write. Everything
/// goes through the open directory, so the path is not looked up again.
fn install_in(w: &Walked, dir: &Path) -> Result<PathBuf> {
    let path = dir.join(shim_file_name());
    let at = trusted::through(&w.fd, shim_file_name());
    // Root's system copy is read by every user: 0755 (0500 would do for
    // the owner alone).
    let mode = if w.uid == 0 && w.mode & 0o005 == 0o005 {
        0o755
    } else {
        0o500
    };
    match fs::symlink_metadata(&at) {
        Ok(m) => {
            if m.file_type().is_symlink() || !m.is_file() {
                return Err(refuse(
                    &path,
                    "is not a regular file",
                    "remove it; hupsafe will write it again",
                ));
            }
            if m.uid() != w.uid {
                return Err(refuse(
                    &path,
                    &format!(
                        "is owned by uid {}, not by {}",
                        m.uid(),
                        if w.uid == uid() { "you" } else { "root" }
                    ),
                    "remove it; hupsafe will write it again",
                ));
            }
            if m.mode() & 0o022 != 0 {
                return Err(refuse(
                    &path,
                    &format!("is writable by others (mode {:o})", m.mode() & 0o7777),
                    "remove it; hupsafe will write it again",
                ));
            }
            if m.len() == SHIM.len() as u64 && same_content(&at) {
                if m.mode() & 0o777 != mode && mode == 0o755 {
                    let _ = fs::set_permissions(&at, fs::Permissions::from_mode(mode));
                }
                return Ok(path);
            }
            // Damaged or truncated: replace it atomically below.
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::failure(format!(
                "cannot use '{}': {}",
                path.display(),
                os_words(&e)
            )))
        }
    }
    replace_file(&at, SHIM, mode, true).map_err(|e| {
        Error::failure(format!(
            "cannot write the shim to '{}': {}",
            path.display(),
            os_words(&e)
        ))
    })?;
    Ok(path)
}

fn same_content(path: &Path) -> bool {
    let Ok(mut f) = open_nofollow(path, false) else {
        return false;
    };
    // Compared a page at a time, every byte, through a buffer on the stack:
    // a heap copy of the whole shim costs a page fault per 4 KiB (about
    // 1.5 us each on a VM), several times the extra reads.
    let mut buf = [0u8; 4096];
    let mut rest = SHIM;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return rest.is_empty(),
            Ok(n) if n <= rest.len() && buf[..n] == rest[..n] => rest = &rest[n..],
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A remark about the user's existing LD_PRELOAD, to be shown as a note.
#[derive(Debug, PartialEq, Eq)]
pub enum Remark {
    Relative(String),
    Missing(String),
}

impl std::fmt::Display for Remark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remark::Relative(e) => write!(
                f,
                "LD_PRELOAD entry '{e}' is a relative path: it breaks as soon as a \
                 program changes directory; kept as is (use an absolute path)"
            ),
            Remark::Missing(e) => write!(
                f,
                "LD_PRELOAD entry '{e}' does not exist: the loader will warn in every \
                 program; kept as is"
            ),
        }
    }
}

/// The new LD_PRELOAD value: the user's entries kept (any older hupsafe
/// shim replaced by this one, never twice), the shim placed first, except
/// after sanitizer runtimes, which must come first or they abort.
pub fn compose(existing: Option<&OsStr>, shim: &Path) -> (OsString, Vec<Remark>) {
    let mut first: Vec<&[u8]> = Vec::new();
    let mut rest: Vec<&[u8]> = Vec::new();
    let mut remarks = Vec::new();
    let shim_b = shim.as_os_str().as_bytes();
    if let Some(e) = existing {
        for entry in entries(e) {
            if entry == shim_b || is_hupsafe_shim(entry) {
                continue;
            }
            let text = String::from_utf8_lossy(entry).into_owned();
            if entry.contains(&b'/') && !entry.starts_with(b"/") {
                remarks.push(Remark::Relative(text));
            } else if entry.starts_with(b"/") && !Path::new(OsStr::from_bytes(entry)).exists() {
                remarks.push(Remark::Missing(text));
            }
            if is_sanitizer_runtime(entry) {
                first.push(entry);
            } else {
                rest.push(entry);
            }
        }
    }
    let mut all: Vec<&[u8]> = first;
    all.push(shim_b);
    all.extend(rest);
    (OsString::from_vec(all.join(&b':')), remarks)
}

/// LD_PRELOAD without any hupsafe shim, for a program the shim would
/// harm; None when nothing else is left (unset it).
pub fn without_shim(existing: Option<&OsStr>) -> Option<OsString> {
    let kept: Vec<&[u8]> = entries(existing?).filter(|s| !is_hupsafe_shim(s)).collect();
    (!kept.is_empty()).then(|| OsString::from_vec(kept.join(&b':')))
}

fn is_sanitizer_runtime(entry: &[u8]) -> bool {
    let name = entry.rsplit(|&b| b == b'/').next().unwrap_or(entry);
    let name = String::from_utf8_lossy(name);
    [
        "libasan",
        "libhwasan",
        "libtsan",
        "libmsan",
        "liblsan",
        "libubsan",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || name.starts_with("libclang_rt.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(existing: &str) -> String {
        let (v, _) = compose(
            Some(OsStr::new(existing)),
            Path::new("/h/libnohup-0123456789abcdef.so"),
        );
        v.into_string().unwrap()
    }

    #[test]
    fn shim_first_and_never_twice() {
        assert_eq!(comp(""), "/h/libnohup-0123456789abcdef.so");
        assert_eq!(
            comp("/h/libnohup-0123456789abcdef.so:/usr/lib/x.so"),
            "/h/libnohup-0123456789abcdef.so:/usr/lib/x.so"
        );
        // An older version's shim is replaced, not kept beside ours.
        assert_eq!(
            comp("/old/libnohup-ffffffffffffffff.so /usr/lib/x.so"),
            "/h/libnohup-0123456789abcdef.so:/usr/lib/x.so"
        );
    }

    #[test]
    fn sanitizers_stay_first() {
        assert_eq!(
            comp("/usr/lib/x86_64-linux-gnu/libasan.so.8:/usr/lib/y.so"),
            "/usr/lib/x86_64-linux-gnu/libasan.so.8:/h/libnohup-0123456789abcdef.so:/usr/lib/y.so"
        );
    }

    #[test]
    fn odd_entries_are_kept_and_remarked() {
        let (v, r) = compose(
            Some(OsStr::new("rel/lib.so:/nonexistent/lib.so")),
            Path::new("/h/libnohup-0123456789abcdef.so"),
        );
        assert_eq!(
            v,
            "/h/libnohup-0123456789abcdef.so:rel/lib.so:/nonexistent/lib.so"
        );
        assert_eq!(
            r,
            vec![
                Remark::Relative("rel/lib.so".into()),
                Remark::Missing("/nonexistent/lib.so".into())
            ]
        );
    }

    #[test]
    fn entries_split_on_colons_and_spaces() {
        let v: Vec<&[u8]> = entries(OsStr::new(" /a.so:b.so  /c d::")).collect();
        assert_eq!(v, [&b"/a.so"[..], b"b.so", b"/c", b"d"]);
    }

    #[test]
    fn recognises_shim_names() {
        assert!(is_hupsafe_shim(b"/a/libnohup-0123456789abcdef.so"));
        assert!(!is_hupsafe_shim(b"/a/libnohup.so"));
        assert!(!is_hupsafe_shim(b"/a/libnohup-xyz.so"));
    }

    #[test]
    fn paths_with_colons_or_spaces_are_unsuitable() {
        assert!(preload_unsafe_chars(Path::new("/a b/c")).is_some());
        assert!(preload_unsafe_chars(Path::new("/a:b/c")).is_some());
        assert!(preload_unsafe_chars(Path::new("/ab/c")).is_none());
    }
}
