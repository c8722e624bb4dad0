//! SIGHUP in signal masks: never blocked in the kernel, blocked in the
//! program's view.
//!
//! The kernel never discards a blocked signal, even an ignored one
//! (docs/HANGUPS.md, "Blocked SIGHUP is queued"): a program that blocks
//! SIGHUP and reads it through `signalfd` or `sigwait` would receive it
//! despite SIG_IGN. So SIGHUP is removed from every mask on its way to the
//! kernel, and from every set a program waits on. What the program asked
//! for is kept per thread (masks are per thread) and merged back into the
//! masks it reads, so that save / block / restore sequences see what they
//! expect.

use crate::shadow::Writer;
use crate::sys::{self, HUP_BIT};
use crate::SHADOW;

extern "C" {
    fn hupsafe_hup_blocked_slot() -> *mut u8;
}

/// Whether the calling thread believes SIGHUP is blocked.
pub fn hup_blocked() -> bool {
    // SAFETY: the slot is this thread's own initial-exec TLS byte.
    unsafe { *hupsafe_hup_blocked_slot() != 0 }
}

/// Records whether the calling thread believes SIGHUP is blocked. A child
/// sharing our memory (vfork) runs on its parent's thread storage, so its
/// changes are not recorded: the parent's view must stay intact.
pub fn set_hup_blocked(blocked: bool) {
    if hup_blocked() == blocked {
        return;
    }
    if SHADOW.writer() != Writer::Owner {
        return;
    }
    // SAFETY: as above.
    unsafe { *hupsafe_hup_blocked_slot() = blocked as u8 }
}

/// The program's view after applying `how` with a set that does or does not
/// contain SIGHUP; `None` for an invalid `how` (the call fails, nothing
/// changes).
pub fn after(how: i32, set_has_hup: bool, blocked: bool) -> Option<bool> {
    match how {
        sys::SIG_BLOCK => Some(blocked || set_has_hup),
        sys::SIG_UNBLOCK => Some(blocked && !set_has_hup),
        sys::SIG_SETMASK => Some(set_has_hup),
        _ => None,
    }
}

/// The first word of a libc `sigset_t` (SIGHUP is its bit 0).
///
/// # Safety
/// `set` must point to a valid `sigset_t` (at least 8 bytes).
pub unsafe fn word(set: *const libc::sigset_t) -> u64 {
    // SAFETY: glibc's sigset_t starts with an array of unsigned longs.
    unsafe { core::ptr::read_unaligned(set as *const u64) }
}

/// A copy of `set` without SIGHUP.
///
/// # Safety
/// `set` must point to a valid `sigset_t`.
pub unsafe fn without_hup(set: *const libc::sigset_t) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data.
    let mut copy: libc::sigset_t = unsafe { core::ptr::read(set) };
    let p = &mut copy as *mut libc::sigset_t as *mut u64;
    // SAFETY: the first word of our own copy.
    unsafe { *p &= !HUP_BIT };
    copy
}

/// Sets or clears SIGHUP in a mask the program reads back.
///
/// # Safety
/// `set` must point to a writable `sigset_t`.
pub unsafe fn put_hup(set: *mut libc::sigset_t, blocked: bool) {
    let p = set as *mut u64;
    // SAFETY: first word of the caller's set.
    unsafe {
        let w = core::ptr::read_unaligned(p);
        let w = if blocked { w | HUP_BIT } else { w & !HUP_BIT };
        core::ptr::write_unaligned(p, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_semantics() {
        assert_eq!(after(sys::SIG_BLOCK, true, false), Some(true));
        assert_eq!(after(sys::SIG_BLOCK, false, true), Some(true));
        assert_eq!(after(sys::SIG_BLOCK, false, false), Some(false));
        assert_eq!(after(sys::SIG_UNBLOCK, true, true), Some(false));
        assert_eq!(after(sys::SIG_UNBLOCK, false, true), Some(true));
        assert_eq!(after(sys::SIG_SETMASK, false, true), Some(false));
        assert_eq!(after(sys::SIG_SETMASK, true, false), Some(true));
        assert_eq!(after(7, true, false), None);
    }

    #[test]
    fn stripping_keeps_other_signals() {
        // SAFETY: plain local sigsets.
        unsafe {
            let mut s: libc::sigset_t = core::mem::zeroed();
            libc::sigaddset(&mut s, libc::SIGHUP);
            libc::sigaddset(&mut s, libc::SIGUSR2);
            libc::sigaddset(&mut s, 40);
            let c = without_hup(&s);
            assert_eq!(libc::sigismember(&c, libc::SIGHUP), 0);
            assert_eq!(libc::sigismember(&c, libc::SIGUSR2), 1);
            assert_eq!(libc::sigismember(&c, 40), 1);
            let mut d = c;
            put_hup(&mut d, true);
            assert_eq!(libc::sigismember(&d, libc::SIGHUP), 1);
            put_hup(&mut d, false);
            assert_eq!(libc::sigismember(&d, libc::SIGHUP), 0);
        }
    }

    #[test]
    fn thread_view_is_per_thread() {
        crate::SHADOW.claim(sys::getpid());
        set_hup_blocked(true);
        assert!(hup_blocked());
        let other = std::thread::spawn(hup_blocked).join().unwrap();
        assert!(!other);
        set_hup_blocked(false);
        assert!(!hup_blocked());
    }
}
