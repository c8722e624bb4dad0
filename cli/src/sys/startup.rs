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
