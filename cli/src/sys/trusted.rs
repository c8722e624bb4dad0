//! Directories hupsafe trusts, opened once and checked with every directory
//! above them.
//!
//! Checking a path and then using the path again leaves a window: whoever
//! can write a directory on the way can swap what the name points to in
//! between (`renameat2(RENAME_EXCHANGE)` in a loop wins often). So a
//! trusted directory is reached by walking from `/` one component at a
//! time, each opened with `O_PATH|O_NOFOLLOW` relative to the one before and
//! checked on the open descriptor (`fstat`), and the caller keeps the
//! descriptor of the last one and does everything else relative to it (the
//! `*at` calls, or a `/proc/self/fd/N/NAME` path, which the kernel resolves
//! through the open directory, not by name).
//!
//! A component is refused when someone other than the user could change
//! what lies below it: a directory owned by someone other than root or the
//! user, or writable by others without the sticky bit (in a sticky
//! directory like `/tmp` others cannot rename or remove what is ours); a
//! symbolic link owned by someone other than root or the user. A link that
//! passes (`/bin -> usr/bin`, or one of the user's own) is followed by
//! walking its target the same way.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

/// Why a walk stopped.
#[derive(Debug)]
pub enum Refusal {
    /// `at` could be changed by someone other than the user (or root).
    Unsafe { at: PathBuf, why: String },
    /// The system said no (missing, not a directory, permission).
    Io { at: PathBuf, err: io::Error },
}

/// Symbolic links followed at most, as the kernel's own limit.
const MAX_LINKS: u32 = 40;

/// A walked directory: its `O_PATH` descriptor and the path it was reached
/// by (for messages only).
#[derive(Debug)]
pub struct Walked {
    pub fd: OwnedFd,
    pub path: PathBuf,
    /// The final directory's owner and mode, read on the descriptor.
    pub uid: u32,
    pub mode: u32,
    /// Every directory on the way (and the last one) can be searched by
    /// every user: a file below it with o+r is readable by anyone.
    pub reachable_by_all: bool,
    /// The last component was a symbolic link (followed).
    pub final_was_link: bool,
}

fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Why a directory with this owner and mode is unsafe to pass through.
pub fn unsafe_dir(uid: u32, mode: u32) -> Option<String> {
    if uid != 0 && uid != me() {
        return Some(format!("is owned by uid {uid}, not by you or root"));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Some(format!(
            "can be written by others (mode {:o}, not sticky)",
            mode & 0o7777
        ));
    }
    None
}

/// Walks `path` (absolute) from `/`, creating missing directories with mode
/// `create` when asked.
/// Every directory above the last one is checked here; the last one's
/// owner and mode are returned for the caller to judge.
pub fn walk(path: &Path, create: Option<u32>) -> Result<Walked, Refusal> {
    let io_err = |at: &Path, e: io::Error| Refusal::Io {
        at: at.to_path_buf(),
        err: e,
    };
    if !path.is_absolute() {
        return Err(io_err(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path"),
        ));
    }
    let o_path = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open_root = || {
        rustix::fs::openat(
            rustix::fs::CWD,
            "/",
            o_path | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .map_err(|e| io_err(Path::new("/"), e.into()))
    };
    let mut todo: VecDeque<OsString> = components(path);
    let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(open_root()?, PathBuf::from("/"))];
    let st = rustix::fs::fstat(&stack[0].0).map_err(|e| io_err(Path::new("/"), e.into()))?;
    if let Some(why) = unsafe_dir(st.st_uid, st.st_mode) {
        return Err(Refusal::Unsafe {
            at: "/".into(),
            why,
        });
    }
    let mut reachable = st.st_mode & 0o001 != 0;
    let mut links = 0;
    let mut final_was_link = false;
    let mut just_created = false;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let (cur, cur_path) = stack.last().expect("the root stays");
        let at = cur_path.join(&name);
        let fd = match rustix::fs::openat(cur, name.as_os_str(), o_path, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) if create.is_some() => {
                let mode = create.unwrap_or(0o700);
                match rustix::fs::mkdirat(cur, name.as_os_str(), Mode::from_raw_mode(mode)) {
                    Ok(()) => just_created = true,
                    Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io_err(&at, e.into())),
                }
                todo.push_front(name);
                continue;
            }
            Err(e) => return Err(io_err(&at, e.into())),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err(&at, e.into()))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                if st.st_uid != 0 && st.st_uid != me() {
                    return Err(Refusal::Unsafe {
                        at,
                        why: format!(
                            "is a symbolic link owned by uid {}, who can point it elsewhere",
                            st.st_uid
                        ),
                    });
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(io_err(&at, io::Error::from_raw_os_error(libc::ELOOP)));
                }
                let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                    .map_err(|e| io_err(&at, e.into()))?;
                let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                // The path's own last component is a link: whatever its
                // target, the caller hears of it.
                final_was_link |= todo.is_empty();
                if target.is_absolute() {
                    stack.truncate(1);
                }
                for c in components(&target).into_iter().rev() {
                    todo.push_front(c);
                }
                continue;
            }
            FileType::Directory => {}
            _ => {
                return Err(io_err(&at, io::Error::from_raw_os_error(libc::ENOTDIR)));
            }
        }
        let mode_now = if just_created {
            // A umask can only take bits away; put back the mode meant.
            just_created = false;
            let mode = create.unwrap_or(0o700);
            if st.st_uid == me() && st.st_mode & 0o7777 != mode {
                let real = rustix::fs::openat(
                    &fd,
                    ".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err(&at, e.into()))?;
                rustix::fs::fchmod(&real, Mode::from_raw_mode(mode))
                    .map_err(|e| io_err(&at, e.into()))?;
            }
            rustix::fs::fstat(&fd)
                .map_err(|e| io_err(&at, e.into()))?
                .st_mode
        } else {
            st.st_mode
        };
        // The last directory is judged by the caller (private, or not
        // writable by others), with its own message.
        if !todo.is_empty() {
            if let Some(why) = unsafe_dir(st.st_uid, mode_now) {
                return Err(Refusal::Unsafe { at, why });
            }
        }
        reachable &= mode_now & 0o001 != 0;
        stack.push((fd, at));
    }
    let (fd, at) = stack.pop().expect("the root stays");
    // After a trailing `..` the last directory is not the last one opened.
    let st = rustix::fs::fstat(&fd).map_err(|e| io_err(&at, e.into()))?;
    Ok(Walked {
        fd,
        path: if at == Path::new("/") {
            at
        } else {
            path.to_path_buf()
        },
        uid: st.st_uid,
        mode: st.st_mode,
        reachable_by_all: reachable,
        final_was_link,
    })
}

/// The directory `name` inside the walked `parent`, opened relative to it
/// (created with mode `create` when missing and asked); a symbolic link
/// there is reported as `final_was_link`, not followed.
pub fn child(parent: &Walked, name: &str, create: Option<u32>) -> Result<Walked, Refusal> {
    let at = parent.path.join(name);
    let io_err = |e: rustix::io::Errno| Refusal::Io {
        at: at.clone(),
        err: e.into(),
    };
    let o_path = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut created = false;
    let fd = match rustix::fs::openat(&parent.fd, name, o_path, Mode::empty()) {
        Err(rustix::io::Errno::NOENT) if create.is_some() => {
            let mode = create.unwrap_or(0o700);
            match rustix::fs::mkdirat(&parent.fd, name, Mode::from_raw_mode(mode)) {
                Ok(()) => created = true,
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(io_err(e)),
            }
            rustix::fs::openat(&parent.fd, name, o_path, Mode::empty()).map_err(io_err)?
        }
        r => r.map_err(io_err)?,
    };
    let mut st = rustix::fs::fstat(&fd).map_err(io_err)?;
    let ft = FileType::from_raw_mode(st.st_mode);
    if ft != FileType::Directory && ft != FileType::Symlink {
        return Err(io_err(rustix::io::Errno::NOTDIR));
    }
    if created {
        let mode = create.unwrap_or(0o700);
        if st.st_mode & 0o7777 != mode && st.st_uid == me() {
            rustix::fs::fchmod(
                reopen_dir(&fd).map_err(|e| Refusal::Io {
                    at: at.clone(),
                    err: e,
                })?,
                Mode::from_raw_mode(mode),
            )
            .map_err(io_err)?;
            st = rustix::fs::fstat(&fd).map_err(io_err)?;
        }
    }
    Ok(Walked {
        fd,
        path: at.clone(),
        uid: st.st_uid,
        mode: st.st_mode,
        reachable_by_all: parent.reachable_by_all && st.st_mode & 0o001 != 0,
        final_was_link: ft == FileType::Symlink,
    })
}

fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// A readable descriptor for the walked directory (to list it, or change
/// its mode); the `O_PATH` one serves every `*at` call.
pub fn reopen_dir(fd: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// A descriptor moved above the standard streams (a program that redirects
/// 0, 1 and 2 must not close it by accident).
pub fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}

/// The path `/proc/self/fd/N/name`: `name` looked up in the open directory
/// `fd`, whatever happens to the directory's own path.
pub fn through(fd: &impl AsRawFd, name: impl AsRef<Path>) -> PathBuf {
    let p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let name = name.as_ref();
    if name.as_os_str().is_empty() {
        p
    } else {
        p.join(name)
    }
}

/// For messages: a `/proc/self/fd/N/...` path shown as the directory's real
/// path (what the descriptor points to now); any other path as it is.
pub fn shown(p: &Path) -> PathBuf {
    let Ok(rest) = p.strip_prefix("/proc/self/fd") else {
        return p.to_path_buf();
    };
    let mut c = rest.components();
    let Some(Component::Normal(n)) = c.next() else {
        return p.to_path_buf();
    };
    match std::fs::read_link(Path::new("/proc/self/fd").join(n)) {
        Ok(real) if real.is_absolute() => real.join(c.as_path()),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn walks_and_creates() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b/c");
        let w = walk(&d, Some(0o700)).unwrap();
        assert_eq!(w.mode & 0o7777, 0o700);
        assert_eq!(w.path, d);
        let again = walk(&d, None).unwrap();
        assert_eq!(shown(&through(&again.fd, "x")), d.join("x"));
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = walk(&open.join("state"), Some(0o700)).unwrap_err();
        // The last directory is the caller's to judge.
        assert_eq!(walk(&open, None).unwrap().mode & 0o777, 0o777);
        assert!(
            matches!(e, Refusal::Unsafe { ref at, .. } if at == &open),
            "{e:?}"
        );
        // Sticky is fine.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        walk(&open.join("state"), Some(0o700)).unwrap();
    }

    #[test]
    fn follows_own_links() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("link")).unwrap();
        let w = walk(&t.path().join("link/sub"), Some(0o700)).unwrap();
        assert!(real.join("sub").is_dir());
        assert!(!w.final_was_link);
        let w = walk(&t.path().join("link"), None).unwrap();
        assert!(w.final_was_link);
        std::os::unix::fs::symlink(real.join("sub"), t.path().join("deep")).unwrap();
        assert!(walk(&t.path().join("deep"), None).unwrap().final_was_link);
    }
}
