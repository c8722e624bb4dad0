//! What the process inherited, captured before Rust's runtime changes it.
//!
//! Rust's start-up code sets SIGPIPE to SIG_IGN and reopens closed fds 0-2 on /dev/null before
//! `main` (docs/HANGUPS.md, "The GNU nohup contract"). A runner must hand its command what it was
//! given, and the nohup drop-in must see closed descriptors as closed, so an `.init_array`
//! constructor (which runs before the runtime's set-up) records both.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static SIGPIPE_HANDLER: AtomicUsize = AtomicUsize::new(libc::SIG_DFL);
static FD_CLOSED: [AtomicBool; 3] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

#[ctor::ctor(unsafe)]
fn capture_inherited_state() {
    // SAFETY: plain libc queries on a zeroed struct and fds 0-2.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_HANDLER.store(old.sa_sigaction, Ordering::Relaxed);
        }
        for (fd, closed) in FD_CLOSED.iter().enumerate() {
            closed.store(
                libc::fcntl(fd as i32, libc::F_GETFD) == -1,
                Ordering::Relaxed,
            );
        }
    }
}

/// Whether fd 0, 1 or 2 was closed when hupsafe started.
#[allow(dead_code)] // used by the nohup drop-in
pub fn fd_was_closed(fd: usize) -> bool {
    FD_CLOSED.get(fd).is_some_and(|c| c.load(Ordering::Relaxed))
}

/// Puts SIGPIPE back to what hupsafe inherited (SIG_DFL or SIG_IGN), so the
/// command sees its own inheritance, not Rust's.
pub fn restore_sigpipe() {
    let h = SIGPIPE_HANDLER.load(Ordering::Relaxed);
    let h = if h == libc::SIG_IGN {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: setting a standard disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, h);
    }
}

/// What Rust's runtime does before `main` and hupsafe relies on, for
/// hupsafe's own entry point (`main.rs`), in the same order and way as std
/// (`sys::pal::unix::init`): fds 0-2 that are closed are opened on
/// /dev/null, so no file hupsafe opens becomes a standard stream (abort if
/// that fails), and SIGPIPE is ignored, so a write into a closed pipe is an
/// EPIPE error to report rather than death. Left out: the stack-overflow
/// handler (an overflow is a plain SIGSEGV, without std's message), whose
/// set-up reads /proc/self/maps, a tenth of an exec (README, Benchmarks).
#[cfg_attr(test, allow(dead_code))]
pub fn init() {
    // SAFETY: poll, fcntl, open and signal on fds 0-2 and a constant path;
    // nothing else runs yet.
    unsafe {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        let closed: [bool; 3] = loop {
            if libc::poll(fds.as_mut_ptr(), 3, 0) != -1 {
                break fds.map(|p| p.revents & libc::POLLNVAL != 0);
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // poll may be unusable (an RLIMIT_NOFILE of 0, a sandbox):
                // ask each fd instead, as std does.
                Some(libc::EINVAL | libc::EAGAIN | libc::ENOMEM) => {
                    break [0, 1, 2].map(|fd| {
                        libc::fcntl(fd, libc::F_GETFD) == -1
                            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                    });
                }
                _ => libc::abort(),
            }
        };
        for c in closed {
            // open() takes the lowest free fd: the one just found closed.
            if c && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) == -1 {
                libc::abort();
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
