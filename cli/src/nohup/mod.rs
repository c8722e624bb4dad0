//! hupsafe invoked as `nohup`: GNU nohup's contract, exactly, plus the shim.
//!
//! This follows coreutils 9.1's `nohup.c` step by step (docs/HANGUPS.md, "The GNU nohup
//! contract"): the same option parsing, terminal tests, file opening order,
//! messages, exit statuses and failure modes, so that scripts and people
//! that rely on GNU nohup see no difference. The only additions are the
//! ones that make the command safer: the shim in LD_PRELOAD and SIGHUP
//! unblocked as well as ignored. Nothing else is ever printed: stderr is
//! part of the contract, so a shim that cannot be installed is left out
//! silently and the command runs as under GNU nohup.
//!
//! Everything goes through raw file descriptors: Rust's `println!` panics
//! on a full stdout, and std reopened closed fds 0-2 before `main`, so
//! those are closed again first (GNU nohup must see them closed: it opens
//! nohup.out into the lowest free slot).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

use crate::error::{EXIT_CANNOT_RUN, EXIT_FAILURE, EXIT_NOT_FOUND};
mod gnu;
use crate::sys::{elf, exec, preload, startup};

/// Exit status of nohup's own failures when POSIXLY_CORRECT is set.
const POSIX_NOHUP_FAILURE: i32 = 127;

/// Whether this process was started under the name `nohup`.
pub fn invoked_as_nohup(argv0: &OsStr) -> bool {
    let b = argv0.as_bytes();
    let base = b.rsplit(|&c| c == b'/').next().unwrap_or(b);
    base == b"nohup"
}

/// Writes all of `bytes` to `fd`, as stdio would; the errno on failure.
fn write_fd(fd: i32, mut bytes: &[u8]) -> Result<(), i32> {
    while !bytes.is_empty() {
        // SAFETY: writing from a valid buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let e = io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn strerror(code: i32) -> Vec<u8> {
    // SAFETY: strerror returns a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) }
        .to_bytes()
        .to_vec()
}

/// What nohup's stderr stream remembers: whether any write to it failed
/// (stdio's `ferror(stderr)`).
struct Diagnostics<'a> {
    program: &'a [u8],
    failed: bool,
}

impl Diagnostics<'_> {
    /// Raw bytes to stderr.
    fn raw(&mut self, bytes: &[u8]) {
        if write_fd(libc::STDERR_FILENO, bytes).is_err() {
            self.failed = true;
        }
    }

    /// glibc's `error(0, errnum, ...)`: `PROGRAM: MESSAGE[: STRERROR]`.
    fn error(&mut self, message: &[u8], errnum: Option<i32>) {
        let mut line = self.program.to_vec();
        line.extend_from_slice(b": ");
        line.extend_from_slice(message);
        if let Some(e) = errnum {
            line.extend_from_slice(b": ");
            line.extend_from_slice(&strerror(e));
        }
        line.push(b'\n');
        self.raw(&line);
    }

    /// coreutils' `emit_try_help`.
    fn try_help(&mut self) {
        let line = gnu::format(
            &tr(c"Try '%s --help' for more information.\n"),
            &[self.program],
        );
        self.raw(&line);
    }

    /// `error(0, errnum, _(msgid), quoteaf(arg))`.
    fn error_about(&mut self, msgid: &CStr, arg: &[u8], errnum: Option<i32>) {
        let message = gnu::format(&tr(msgid), &[&gnu::quoteaf(arg)]);
        self.error(&message, errnum);
    }

    /// `error(0, errnum, _(msgid))`.
    fn error_tr(&mut self, msgid: &CStr, errnum: Option<i32>) {
        self.error(&tr(msgid), errnum);
    }
}

/// A coreutils message in the user's language, as GNU nohup prints it.
fn tr(msgid: &CStr) -> Vec<u8> {
    gnu::tr(gnu::COREUTILS, msgid)
}

/// GNU nohup's --help, translated as GNU's is, with one paragraph about
/// the shim and hupsafe's pointers instead of GNU's web links.
fn usage(program: &[u8]) -> Vec<u8> {
    let p = program;
    let parts: [Vec<u8>; 8] = [
        gnu::format(
            &tr(c"Usage: %s COMMAND [ARG]...\n  or:  %s OPTION\n"),
            &[p, p],
        ),
        tr(c"Run COMMAND, ignoring hangup signals.\n\n"),
        tr(c"      --help        display this help and exit\n"),
        tr(c"      --version     output version information and exit\n"),
        gnu::format(
            &tr(
                c"\nIf standard input is a terminal, redirect it from an unreadable file.\n\
If standard output is a terminal, append output to 'nohup.out' if possible,\n\
'$HOME/nohup.out' otherwise.\n\
If standard error is a terminal, redirect it to standard output.\n\
To save output to FILE, use '%s COMMAND > FILE'.\n",
            ),
            &[p],
        ),
        b"\nThis nohup is hupsafe's drop-in for GNU nohup: COMMAND also gets hupsafe's\n\
shim in LD_PRELOAD, so it keeps ignoring hangups even if it tries to catch\n\
them or to restore the default action.\n"
            .to_vec(),
        gnu::format(
            &tr(
                c"\nNOTE: your shell may have its own version of %s, which usually supersedes\n\
the version described here.  Please refer to your shell's documentation\n\
for details about the options it supports.\n",
            ),
            &[b"nohup"],
        ),
        b"\nFull documentation: 'hupsafe --help', 'hupsafe man'\n".to_vec(),
    ];
    parts.concat()
}

fn version() -> Vec<u8> {
    format!(
        "nohup (hupsafe) {}\n\
         A drop-in for GNU nohup (coreutils) with hupsafe's hangup protection.\n\
         License {}.\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_LICENSE")
    )
    .into_bytes()
}

/// Runs as GNU nohup. Never returns.
pub fn main(args: Vec<OsString>) -> ! {
    gnu::use_environment_locale();
    // GNU nohup and its command inherit SIGPIPE as it was; so must we
    // (a --help into a closed pipe dies of SIGPIPE there too).
    startup::restore_sigpipe();
    for fd in 0..3 {
        if startup::fd_was_closed(fd) {
            // SAFETY: closing a descriptor std reopened on /dev/null.
            unsafe { libc::close(fd as i32) };
        }
    }
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let program = gnu::program_name(argv[0]);
    let exit_failure = if std::env::var_os("POSIXLY_CORRECT").is_some() {
        POSIX_NOHUP_FAILURE
    } else {
        EXIT_FAILURE
    };
    let mut diag = Diagnostics {
        program,
        failed: false,
    };

    let optind = match gnu::parse_standard_options(&argv) {
        gnu::Parsed::Help => print_and_exit(&usage(program), &mut diag, exit_failure),
        gnu::Parsed::Version => print_and_exit(&version(), &mut diag, exit_failure),
        gnu::Parsed::Error(message) => {
            diag.raw(&message);
            diag.try_help();
            std::process::exit(exit_failure);
        }
        gnu::Parsed::Operands(i) => i,
    };
    if argv.len() <= optind {
        diag.error_tr(c"missing operand", None);
        diag.try_help();
        std::process::exit(exit_failure);
    }
    let command = &args[optind..];
    let ld_preload = protected_ld_preload(&command[0]);

    // SAFETY (this block): isatty/open/dup2/close/fcntl/umask on fds and
    // NUL-terminated paths; nohup is single-threaded.
    let ignoring_input = unsafe { libc::isatty(0) } == 1;
    let redirecting_stdout = unsafe { libc::isatty(1) } == 1;
    let stdout_is_closed = !redirecting_stdout && errno() == libc::EBADF;
    let redirecting_stderr = unsafe { libc::isatty(2) } == 1;

    if ignoring_input {
        // Write-only on purpose: any read fails instead of blocking.
        if fd_reopen(0, c"/dev/null", libc::O_WRONLY, 0) < 0 {
            let e = errno();
            diag.error_tr(c"failed to render standard input unusable", Some(e));
            std::process::exit(exit_failure);
        }
        if !redirecting_stdout && !redirecting_stderr {
            diag.error_tr(c"ignoring input", None);
        }
    }

    let mut out_fd = libc::STDOUT_FILENO;
    if redirecting_stdout || (redirecting_stderr && stdout_is_closed) {
        let mut file: Vec<u8> = b"nohup.out".to_vec();
        let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_APPEND;
        let mode: libc::mode_t = 0o600;
        let umask_value = unsafe { libc::umask(!mode) };
        let open_out = |path: &[u8]| -> i32 {
            let c = CString::new(path).expect("no NUL in a file name");
            if redirecting_stdout {
                fd_reopen(1, &c, flags, mode)
            } else {
                unsafe { libc::open(c.as_ptr(), flags, mode as libc::c_uint) }
            }
        };
        out_fd = open_out(&file);
        if out_fd < 0 {
            let saved_errno = errno();
            let mut in_home = None;
            if let Some(home) = std::env::var_os("HOME") {
                let p = gnu::file_name_concat(home.as_bytes(), b"nohup.out");
                out_fd = open_out(&p);
                in_home = Some(p);
            }
            if out_fd < 0 {
                let saved_errno2 = errno();
                diag.error_about(c"failed to open %s", &file, Some(saved_errno));
                if let Some(p) = &in_home {
                    diag.error_about(c"failed to open %s", p, Some(saved_errno2));
                }
                std::process::exit(exit_failure);
            }
            file = in_home.expect("opened in HOME");
        }
        unsafe { libc::umask(umask_value) };
        let what = if ignoring_input {
            c"ignoring input and appending output to %s"
        } else {
            c"appending output to %s"
        };
        diag.error_about(what, &file, None);
    }

    let mut saved_stderr_fd = libc::STDERR_FILENO;
    if redirecting_stderr {
        // The original stderr, for the exec failure message (GNU's
        // choice: that message never goes into nohup.out).
        saved_stderr_fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
        if !redirecting_stdout {
            diag.error_tr(
                if ignoring_input {
                    c"ignoring input and redirecting stderr to stdout"
                } else {
                    c"redirecting stderr to stdout"
                },
                None,
            );
        }
        if unsafe { libc::dup2(out_fd, 2) } < 0 {
            let e = errno();
            diag.error_tr(c"failed to redirect standard error", Some(e));
            std::process::exit(exit_failure);
        }
        if stdout_is_closed {
            unsafe { libc::close(out_fd) };
        }
    }

    // A message that could not be written: stop before running anything.
    if diag.failed {
        std::process::exit(exit_failure);
    }

    match ld_preload {
        Some(Some(v)) => std::env::set_var("LD_PRELOAD", v),
        Some(None) => std::env::remove_var("LD_PRELOAD"),
        None => {}
    }
    exec::protect_self();
    let e = execvp(command);
    let status = if e == libc::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_RUN
    };
    if unsafe { libc::dup2(saved_stderr_fd, 2) } == 2 {
        diag.error_about(c"failed to run command %s", command[0].as_bytes(), Some(e));
    }
    // coreutils' close_stdout at exit: a failed diagnostic is a failure.
    std::process::exit(if diag.failed { exit_failure } else { status });
}

/// `--help`/`--version`: stdout, checked at exit as coreutils'
/// close_stdout does.
fn print_and_exit(text: &[u8], diag: &mut Diagnostics, exit_failure: i32) -> ! {
    if let Err(e) = write_fd(libc::STDOUT_FILENO, text) {
        diag.error_tr(c"write error", Some(e));
        std::process::exit(exit_failure);
    }
    std::process::exit(0);
}

/// gnulib's `fd_reopen`: open `path` as exactly `desired`.
fn fd_reopen(desired: i32, path: &std::ffi::CStr, flags: i32, mode: libc::mode_t) -> i32 {
    // SAFETY: open/dup2/close on a NUL-terminated path and plain fds.
    unsafe {
        let fd = libc::open(path.as_ptr(), flags, mode as libc::c_uint);
        if fd == desired || fd < 0 {
            return fd;
        }
        let fd2 = libc::dup2(fd, desired);
        let saved = errno();
        libc::close(fd);
        *libc::__errno_location() = saved;
        fd2
    }
}

/// The LD_PRELOAD the command should get: `None` to leave it as it is,
/// `Some(None)` to remove it, `Some(Some(v))` to set it. Silent: when the
/// shim cannot be installed the command runs as under GNU nohup.
fn protected_ld_preload(cmd: &OsStr) -> Option<Option<OsString>> {
    let existing = std::env::var_os("LD_PRELOAD");
    let target = match exec::find_program(cmd) {
        exec::Lookup::Program(p) => elf::inspect(&p).ok(),
        _ => None,
    };
    // A 32-bit loader would print "wrong ELF class" on its stderr, which
    // GNU nohup would not: leave the shim out for those.
    if target.as_ref().is_some_and(|t| !elf::shim_is_welcome(t)) {
        return Some(preload::without_shim(existing.as_deref()));
    }
    let shim = preload::install().ok()?;
    let (value, _remarks) = preload::compose(existing.as_deref(), &shim);
    Some(Some(value))
}

/// `execvp`, as GNU nohup calls it (PATH search, ENOEXEC scripts run by
/// /bin/sh, EACCES remembered). Returns errno.
fn execvp(command: &[OsString]) -> i32 {
    let words: Vec<CString> = command
        .iter()
        .map(|w| CString::new(w.as_bytes()).expect("argv has no NUL bytes"))
        .collect();
    let mut ptrs: Vec<*const libc::c_char> = words.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: NUL-terminated strings and a NULL-terminated argv.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    errno()
}
