//! Starting programs: find a command on PATH as `execvp` would, put this
//! process in the state every protected program inherits (SIGHUP ignored,
//! not blocked), and exec with argv[0] as the user typed it.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{os_words, Error, EXIT_CANNOT_RUN, EXIT_NOT_FOUND};

/// What the search for a command found.
pub enum Lookup {
    Program(PathBuf),
    Missing,
    /// A path that exists but cannot be executed, with the reason.
    NotRunnable(PathBuf, String),
}

/// The directories on PATH, in order, as `execvp` reads them: an empty
/// entry is the current directory; PATH unset means the system default.
pub fn path_dirs() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|d| {
            if d.is_empty() {
                PathBuf::from(".")
            } else {
                PathBuf::from(OsStr::from_bytes(d))
            }
        })
        .collect()
}

/// Finds `cmd` as `execvp` would: a name with a slash is used as is,
/// otherwise each PATH entry is tried.
pub fn find_program(cmd: &OsStr) -> Lookup {
    find_program_skipping(cmd, None)
}

/// [`find_program`], passing over the directory `skip` (by identity, so a
/// symlink to it is passed over too): a wrapper must not find itself.
pub fn find_program_skipping(cmd: &OsStr, skip: Option<&Path>) -> Lookup {
    if cmd.as_bytes().contains(&b'/') {
        return check_candidate(Path::new(cmd)).unwrap_or(Lookup::Missing);
    }
    if cmd.is_empty() {
        return Lookup::Missing;
    }
    let identity = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let skip_id = skip.and_then(identity);
    let mut denied: Option<Lookup> = None;
    for dir in path_dirs() {
        if skip_id.is_some() && identity(&dir) == skip_id {
            continue;
        }
        match check_candidate(&dir.join(cmd)) {
            Some(Lookup::Program(p)) => return Lookup::Program(p),
            Some(f @ Lookup::NotRunnable(..)) => {
                // execvp keeps looking but reports EACCES if nothing better
                // turns up.
                denied.get_or_insert(f);
            }
            _ => {}
        }
    }
    denied.unwrap_or(Lookup::Missing)
}

fn check_candidate(p: &Path) -> Option<Lookup> {
    let m = std::fs::metadata(p).ok()?;
    if m.is_dir() {
        return Some(Lookup::NotRunnable(p.into(), "is a directory".into()));
    }
    if p.as_os_str().as_bytes().contains(&0) {
        return None;
    }
    let runnable = rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok();
    if !runnable || m.permissions().mode() & 0o111 == 0 {
        return Some(Lookup::NotRunnable(p.into(), "Permission denied".into()));
    }
    Some(Lookup::Program(p.into()))
}

/// SIGHUP ignored and not blocked in this process: exec keeps SIG_IGN for
/// every program, static ones included, and a blocked SIGHUP would be
/// queued for a program that later reads it with sigwait/signalfd.
pub fn protect_self() {
    // SAFETY: setting a standard disposition and unblocking one signal.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// `execv` with argv[0] as the user typed it; a file without a `#!` line or
/// ELF header is run by /bin/sh, as execvp does.
pub fn exec_program(program: &Path, argv0: &OsStr, args: &[OsString]) -> Error {
    let to_c = |s: &OsStr| CString::new(s.as_bytes().to_vec());
    let mut argv: Vec<CString> = Vec::with_capacity(args.len() + 2);
    match to_c(argv0) {
        Ok(c) => argv.push(c),
        Err(_) => return Error::failure("the command name contains a NUL byte"),
    }
    for a in args {
        match to_c(a) {
            Ok(c) => argv.push(c),
            Err(_) => return Error::failure("an argument contains a NUL byte"),
        }
    }
    let path = match CString::new(program.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return Error::failure("the program path contains a NUL byte"),
    };
    let Err(errno) = nix::unistd::execv(&path, &argv);
    let err = std::io::Error::from(errno);
    if errno == nix::errno::Errno::ENOEXEC {
        let sh = c"/bin/sh";
        let mut sh_argv: Vec<&CStr> = vec![sh, &path];
        sh_argv.extend(argv.iter().skip(1).map(|c| c.as_c_str()));
        let _ = nix::unistd::execv(sh, &sh_argv);
    }
    let status = if err.raw_os_error() == Some(libc::ENOENT) {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    Error::new(
        status,
        format!("cannot run '{}': {}", program.display(), os_words(&err)),
    )
}
