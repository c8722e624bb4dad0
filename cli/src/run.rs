//! `hupsafe CMD ARGS...`: find the program, preload the shim, ignore
//! SIGHUP, and exec. No hupsafe process stays around: the command's pid,
//! exit status, signals and standard streams are its own.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{os_words, Error, EXIT_CANNOT_RUN, EXIT_NOT_FOUND};
use crate::inspect::{self, Concern, Target};
use crate::{preload, startup};

/// Options that shape one run.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub quiet: bool,
    /// Apply the seccomp filter before exec (implies no relay).
    pub strict: bool,
}

/// What the search for a command found.
pub enum Lookup {
    Program(PathBuf),
    Missing,
    /// A path that exists but cannot be executed, with the reason.
    NotRunnable(PathBuf, String),
}

/// Finds `cmd` as `execvp` would: a name with a slash is used as is,
/// otherwise each PATH entry is tried (an empty entry is the current
/// directory; PATH unset means the system default).
pub fn find_program(cmd: &OsStr) -> Lookup {
    if cmd.as_bytes().contains(&b'/') {
        return check_candidate(Path::new(cmd)).unwrap_or(Lookup::Missing);
    }
    if cmd.is_empty() {
        return Lookup::Missing;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    let mut denied: Option<Lookup> = None;
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
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
    let c = CString::new(p.as_os_str().as_bytes()).ok()?;
    // SAFETY: access() on a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 || m.permissions().mode() & 0o111 == 0 {
        return Some(Lookup::NotRunnable(p.into(), "Permission denied".into()));
    }
    Some(Lookup::Program(p.into()))
}

/// Prepares the environment and process state, then replaces hupsafe with
/// the command. Returns only on failure.
pub fn exec(cmd: &OsStr, args: &[OsString], opts: &RunOptions) -> Error {
    let program = match find_program(cmd) {
        Lookup::Program(p) => p,
        Lookup::Missing => return not_found(cmd),
        Lookup::NotRunnable(p, why) => {
            return Error::new(
                EXIT_CANNOT_RUN,
                format!("hupsafe: cannot run '{}': {why}", p.display()),
            )
        }
    };
    let target = inspect::elf(&program).ok();
    let filter = if opts.strict {
        if target.as_ref().is_some_and(shim_is_noisy) {
            return Error::failure(format!(
                "hupsafe: --strict cannot run '{}': it is a 32-bit program, and the filter \
                 (64-bit system calls) would make the kernel kill it; run it without --strict",
                program.display()
            ));
        }
        match crate::strict::prepare() {
            Ok(f) => Some(f),
            Err(e) => return e,
        }
    } else {
        None
    };
    // Under --strict the warning below says what protects the program.
    if !opts.quiet && !opts.strict {
        if let Some(note) = target.as_ref().and_then(note_for) {
            eprintln!("{note}");
        }
    }
    // Every dynamic loader gets the shim, musl's included (it depends on
    // libc.so.6 only, which musl's loader takes as itself); the ones that
    // cannot use it (static, 32-bit, secure mode) ignore it, as their
    // children may not.
    let existing = std::env::var_os("LD_PRELOAD");
    let shim = match preload::install() {
        Ok(p) => p,
        Err(e) => return Error::new(e.status, format!("hupsafe: {}", e.message)),
    };
    let (value, remarks) = preload::compose(existing.as_deref(), &shim);
    if !opts.quiet {
        for r in remarks {
            eprintln!("hupsafe: note: {r}");
        }
    }
    std::env::set_var("LD_PRELOAD", &value);
    protect_self();
    startup::restore_sigpipe();
    if filter.is_some() && !opts.quiet {
        eprintln!("{}", crate::strict::WARNING);
        let secure = target.as_ref().map(real_ids_concerns).and_then(|c| {
            c.into_iter().find_map(|c| match c {
                Concern::SecureExec(why) => Some(why),
                _ => None,
            })
        });
        if let Some(why) = secure {
            eprintln!(
                "hupsafe: warning: --strict: '{}' runs {why}: under no_new_privs the \
                 kernel runs it without elevating (with your own ids), so it may fail",
                program.display()
            );
        }
    }
    if let Some(on_pty) = crate::relay::relayed_fds() {
        if let Some(e) = crate::relay::run(&program, cmd, args, on_pty, opts.quiet, filter.as_ref())
        {
            return e;
        }
    }
    if let Some(f) = &filter {
        if let Err(e) = crate::strict::apply(f) {
            return e;
        }
    }
    exec_program(&program, cmd, args)
}

/// Whether the program's loader would complain about the shim on stderr
/// ("wrong ELF class") before ignoring it.
pub fn shim_is_noisy(t: &Target) -> bool {
    real_ids_concerns(t)
        .iter()
        .any(|c| matches!(c, Concern::WrongClass(_)))
}

/// Whether the shim may go into the program's LD_PRELOAD without changing
/// anything else it does (what the nohup drop-in needs).
pub fn shim_is_welcome(t: &Target) -> bool {
    !shim_is_noisy(t)
}

fn real_ids_concerns(t: &Target) -> Vec<Concern> {
    // SAFETY: getuid/getgid cannot fail.
    let (ruid, rgid) = unsafe { (libc::getuid(), libc::getgid()) };
    t.concerns(ruid, rgid)
}

/// The one note `run` prints when the shim will not reach the program:
/// what still protects it, and what would do more.
pub fn note_for(t: &Target) -> Option<String> {
    let concerns = real_ids_concerns(t);
    if concerns.is_empty() {
        return None;
    }
    let executed = t.executed()?;
    let subject = if executed.path == t.path {
        format!("'{}'", t.path.display())
    } else {
        format!(
            "'{}' is run by '{}', which",
            t.path.display(),
            executed.path.display()
        )
    };
    let reasons: Vec<String> = concerns.iter().map(|c| c.to_string()).collect();
    let mut more = String::new();
    if concerns.iter().any(|c| matches!(c, Concern::Static)) {
        more.push_str(
            "; `hupsafe run --strict -- CMD` (seccomp: the kernel turns the change into a \
             no-op; see --help for its costs) would enforce it",
        );
    }
    if concerns.iter().any(|c| matches!(c, Concern::WrongClass(_))) {
        more.push_str("; its 64-bit children still get the shim");
    }
    Some(format!(
        "hupsafe: note: {subject} {}: only the inherited SIG_IGN protects it, and the \
         program can take SIGHUP back by setting its own handler{more}",
        reasons.join(", and ")
    ))
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

fn not_found(cmd: &OsStr) -> Error {
    let name = cmd.to_string_lossy();
    // Shell words are not programs: running them under hupsafe cannot
    // work, and the user deserves to be told why.
    if crate::shellwords::is_shell_word(&name) {
        let kind = if crate::shellwords::KEYWORDS.contains(&name.as_ref()) {
            "keyword"
        } else {
            "builtin"
        };
        return Error::new(
            EXIT_NOT_FOUND,
            format!(
                "hupsafe: '{name}' is a shell {kind}, not a program: hupsafe can only run \
                 programs. Run a shell instead, e.g.: hupsafe bash -c '{name} ...'"
            ),
        );
    }
    Error::new(
        EXIT_NOT_FOUND,
        format!("hupsafe: '{name}': command not found (not a program on PATH; aliases and shell functions cannot be run)"),
    )
}

/// `execv` with argv[0] as the user typed it; a file without a `#!` line or
/// ELF header is run by /bin/sh, as execvp does.
pub fn exec_program(program: &Path, argv0: &OsStr, args: &[OsString]) -> Error {
    let to_c = |s: &OsStr| CString::new(s.as_bytes().to_vec());
    let mut argv: Vec<CString> = Vec::with_capacity(args.len() + 2);
    match to_c(argv0) {
        Ok(c) => argv.push(c),
        Err(_) => return Error::failure("hupsafe: the command name contains a NUL byte"),
    }
    for a in args {
        match to_c(a) {
            Ok(c) => argv.push(c),
            Err(_) => return Error::failure("hupsafe: an argument contains a NUL byte"),
        }
    }
    let path = match CString::new(program.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return Error::failure("hupsafe: the program path contains a NUL byte"),
    };
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: NUL-terminated strings and a NULL-terminated argv.
    unsafe { libc::execv(path.as_ptr(), ptrs.as_ptr()) };
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOEXEC) {
        let sh = CString::new("/bin/sh").unwrap();
        let mut sh_argv: Vec<*const libc::c_char> = vec![sh.as_ptr(), path.as_ptr()];
        sh_argv.extend(argv.iter().skip(1).map(|c| c.as_ptr()));
        sh_argv.push(std::ptr::null());
        // SAFETY: as above.
        unsafe { libc::execv(sh.as_ptr(), sh_argv.as_ptr()) };
    }
    let status = if err.raw_os_error() == Some(libc::ENOENT) {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    Error::new(
        status,
        format!(
            "hupsafe: cannot run '{}': {}",
            program.display(),
            os_words(&err)
        ),
    )
}
