//! The rule: a request about SIGHUP goes to the shadow, never to the kernel;
//! everything else goes to the real function untouched.
//!
//! Conversions here follow what glibc 2.36 does between the user's
//! `struct sigaction` and the kernel's, so that SIGHUP queries answer
//! exactly what they would without the shim.

use core::ffi::c_int;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::mask;
use crate::real::real;
use crate::sys::{self, KSigaction, SIGHUP};
use crate::SHADOW;

pub type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;

/// `siginterrupt(SIGHUP, 1)` was called: `signal()` then omits SA_RESTART
/// (glibc keeps this per signal in `_sigintr`).
static HUP_INTERRUPTS: AtomicBool = AtomicBool::new(false);

/// glibc's own signal trampoline (`__restore_rt`), learned once.
static LIBC_RESTORER: AtomicUsize = AtomicUsize::new(0);

/// Sets SIG_IGN in the kernel (which also discards a pending SIGHUP) and
/// unblocks SIGHUP, remembering that the program started with it blocked.
pub fn arm_kernel() {
    let ign = KSigaction {
        handler: sys::SIG_IGN,
        ..KSigaction::default()
    };
    let unblock = sys::HUP_BIT;
    let mut old: u64 = 0;
    // SAFETY: pointers to locals.
    unsafe {
        sys::rt_sigaction(SIGHUP, &ign, ptr::null_mut());
        if sys::rt_sigprocmask(sys::SIG_UNBLOCK, &unblock, &mut old) == 0 && old & sys::HUP_BIT != 0
        {
            mask::set_hup_blocked(true);
        }
    }
}

/// The restorer glibc writes into every `sigaction` it passes to the
/// kernel (x86_64). Learned by letting the real `sigaction` set SIGHUP to
/// SIG_IGN once and reading the kernel's record back: the kernel keeps
/// ignoring SIGHUP throughout.
fn libc_restorer() -> usize {
    let r = LIBC_RESTORER.load(Ordering::Relaxed);
    if r != 0 {
        return r;
    }
    let mut learned = sys::own_restorer();
    if let Some(real_sigaction) = real!(REAL.sigaction as SigactionFn) {
        // SAFETY: a zeroed sigaction with SIG_IGN is a valid request.
        unsafe {
            let mut ign: libc::sigaction = core::mem::zeroed();
            ign.sa_sigaction = sys::SIG_IGN;
            if real_sigaction(SIGHUP, &ign, ptr::null_mut()) == 0 {
                let mut k = KSigaction::default();
                if sys::rt_sigaction(SIGHUP, ptr::null(), &mut k) == 0 && k.restorer != 0 {
                    learned = k.restorer;
                }
            }
        }
    }
    LIBC_RESTORER.store(learned, Ordering::Relaxed);
    learned
}

/// The kernel record glibc would make of a user-level request.
pub fn from_user(handler: usize, user_flags: c_int, mask: u64, restorer: usize) -> KSigaction {
    // glibc copies the int flags into an unsigned long: sign extension
    // included (SA_RESETHAND is the sign bit).
    let mut k = KSigaction {
        handler,
        flags: user_flags as i64 as u64,
        restorer,
        mask,
    };
    if sys::LIBC_SETS_RESTORER {
        k.flags |= sys::SA_RESTORER;
        k.restorer = libc_restorer();
    }
    crate::shadow::as_kernel_stores(k)
}

/// Records a user-level request for SIGHUP, returning the previous record.
pub fn set_hup(handler: usize, user_flags: c_int, mask: u64, restorer: usize) -> KSigaction {
    crate::arm();
    let new = from_user(handler, user_flags, mask, restorer);
    SHADOW.swap(&new, SHADOW.writer())
}

/// Records a kernel-level request for SIGHUP (raw `rt_sigaction`).
pub fn set_hup_kernel(new: &KSigaction) -> KSigaction {
    crate::arm();
    SHADOW.swap(&crate::shadow::as_kernel_stores(*new), SHADOW.writer())
}

/// What the program believes SIGHUP's disposition is.
pub fn hup() -> KSigaction {
    crate::arm();
    SHADOW.get()
}

/// Writes a kernel record into a user `struct sigaction` the way glibc
/// does: only the first word of the mask is written.
///
/// # Safety
/// `out` must be writable.
pub unsafe fn to_user(k: &KSigaction, out: *mut libc::sigaction) {
    // SAFETY: the caller's struct.
    unsafe {
        (*out).sa_sigaction = k.handler;
        ptr::write_unaligned(ptr::addr_of_mut!((*out).sa_mask) as *mut u64, k.mask);
        (*out).sa_flags = k.flags as c_int;
        set_user_restorer(out, k.restorer);
    }
}

#[cfg(all(
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
unsafe fn set_user_restorer(out: *mut libc::sigaction, r: usize) {
    // SAFETY: Option<extern fn()> has the layout of a nullable pointer.
    unsafe { (*out).sa_restorer = core::mem::transmute::<usize, Option<extern "C" fn()>>(r) }
}

#[cfg(all(
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn user_restorer(a: &libc::sigaction) -> usize {
    a.sa_restorer.map(|f| f as usize).unwrap_or(0)
}

/// `sigaction` for SIGHUP.
///
/// # Safety
/// `act` and `old` must be null or valid.
pub unsafe fn sigaction_hup(act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int {
    // SAFETY: caller's pointers; act is read before old is written, so
    // they may alias.
    unsafe {
        let prev = if act.is_null() {
            hup()
        } else {
            let a = &*act;
            set_hup(
                a.sa_sigaction,
                a.sa_flags,
                mask::word(&a.sa_mask),
                user_restorer(a),
            )
        };
        if !old.is_null() {
            to_user(&prev, old);
        }
    }
    0
}

/// glibc's `sigaction` for any other signal, when the real one could not be
/// found: same validation, same conversion, with our own restorer.
///
/// # Safety
/// `act` and `old` must be null or valid.
pub unsafe fn sigaction_fallback(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if !(1..sys::NSIG).contains(&sig) || sig == 32 || sig == 33 {
        sys::set_errno(sys::EINVAL);
        return -1;
    }
    // SAFETY: caller's pointers.
    unsafe {
        let k = if act.is_null() {
            None
        } else {
            let a = &*act;
            let mut k = KSigaction {
                handler: a.sa_sigaction,
                flags: a.sa_flags as i64 as u64,
                restorer: user_restorer(a),
                mask: mask::word(&a.sa_mask),
            };
            if sys::LIBC_SETS_RESTORER {
                k.flags |= sys::SA_RESTORER;
                k.restorer = sys::own_restorer();
            }
            Some(k)
        };
        let mut o = KSigaction::default();
        let r = sys::rt_sigaction(
            sig,
            k.as_ref().map_or(ptr::null(), |k| k as *const KSigaction),
            &mut o,
        );
        if r < 0 {
            sys::set_errno(-r as i32);
            return -1;
        }
        if !old.is_null() {
            to_user(&o, old);
        }
    }
    0
}

/// Any other signal: the real `sigaction`, or the fallback.
///
/// # Safety
/// `act` and `old` must be null or valid.
pub unsafe fn sigaction_other(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded.
    unsafe {
        match real!(REAL.sigaction as SigactionFn) {
            Some(f) => f(sig, act, old),
            None => sigaction_fallback(sig, act, old),
        }
    }
}

/// `signal`/`bsd_signal`/`ssignal` for SIGHUP: glibc's BSD semantics
/// (SA_RESTART unless `siginterrupt`, the signal itself masked).
pub fn signal_hup(handler: usize) -> usize {
    if handler == sys::SIG_ERR {
        sys::set_errno(sys::EINVAL);
        return sys::SIG_ERR;
    }
    let flags = if HUP_INTERRUPTS.load(Ordering::Relaxed) {
        0
    } else {
        sys::SA_RESTART as c_int
    };
    set_hup(handler, flags, sys::HUP_BIT, 0).handler
}

/// `sysv_signal` for SIGHUP: one-shot, not masked, interrupting.
pub fn sysv_signal_hup(handler: usize) -> usize {
    if handler == sys::SIG_ERR {
        sys::set_errno(sys::EINVAL);
        return sys::SIG_ERR;
    }
    let flags = (sys::SA_RESETHAND | sys::SA_NODEFER) as u32 as c_int;
    set_hup(handler, flags, 0, 0).handler
}

/// `sigset` for SIGHUP, including `SIG_HOLD` (which blocks, in the
/// program's view only). glibc 2.36 accepts `SIG_ERR` here like any other
/// handler (unlike `signal`), so this does too.
pub fn sigset_hup(disp: usize) -> usize {
    crate::arm();
    let was_blocked = mask::hup_blocked();
    if disp == sys::SIG_HOLD {
        mask::set_hup_blocked(true);
        if was_blocked {
            return sys::SIG_HOLD;
        }
        return hup().handler;
    }
    let prev = set_hup(disp, 0, 0, 0);
    mask::set_hup_blocked(false);
    if was_blocked {
        sys::SIG_HOLD
    } else {
        prev.handler
    }
}

/// `siginterrupt` for SIGHUP.
pub fn siginterrupt_hup(interrupt: bool) -> c_int {
    HUP_INTERRUPTS.store(interrupt, Ordering::Relaxed);
    let mut k = hup();
    if interrupt {
        k.flags &= !sys::SA_RESTART;
    } else {
        k.flags |= sys::SA_RESTART;
    }
    set_hup_kernel(&k);
    0
}

/// BSD `struct sigvec`.
#[repr(C)]
pub struct Sigvec {
    pub sv_handler: usize,
    pub sv_mask: c_int,
    pub sv_flags: c_int,
}

const SV_ONSTACK: c_int = 1;
const SV_INTERRUPT: c_int = 2;
const SV_RESETHAND: c_int = 4;

/// `sigvec` for SIGHUP, with glibc's flag conversions.
///
/// # Safety
/// `vec` and `ovec` must be null or valid.
pub unsafe fn sigvec_hup(vec: *const Sigvec, ovec: *mut Sigvec) -> c_int {
    // SAFETY: caller's pointers.
    unsafe {
        let prev = if vec.is_null() {
            hup()
        } else {
            let v = &*vec;
            let mut f: u64 = 0;
            if v.sv_flags & SV_ONSTACK != 0 {
                f |= sys::SA_ONSTACK;
            }
            if v.sv_flags & SV_INTERRUPT == 0 {
                f |= sys::SA_RESTART;
            }
            if v.sv_flags & SV_RESETHAND != 0 {
                f |= sys::SA_RESETHAND;
            }
            set_hup(v.sv_handler, f as u32 as c_int, v.sv_mask as u32 as u64, 0)
        };
        if !ovec.is_null() {
            let mut sv: c_int = 0;
            if prev.flags & sys::SA_ONSTACK != 0 {
                sv |= SV_ONSTACK;
            }
            if prev.flags & sys::SA_RESTART == 0 {
                sv |= SV_INTERRUPT;
            }
            if prev.flags & sys::SA_RESETHAND != 0 {
                sv |= SV_RESETHAND;
            }
            (*ovec).sv_handler = prev.handler;
            (*ovec).sv_mask = prev.mask as u32 as c_int;
            (*ovec).sv_flags = sv;
        }
    }
    0
}

/// Changes the calling thread's mask with SIGHUP kept out of the kernel,
/// and merges the program's view of SIGHUP into the old mask it reads back.
/// `apply` performs the real change with the stripped set and returns
/// libc's answer; `ok` says whether that answer means success.
///
/// # Safety
/// `set` and `old` must be null or valid.
pub unsafe fn change_mask<F, R>(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
    apply: F,
    ok: impl Fn(&R) -> bool,
) -> R
where
    F: FnOnce(*const libc::sigset_t) -> R,
{
    crate::arm();
    let was = mask::hup_blocked();
    // SAFETY: caller's pointers; the set is copied before the call, so the
    // old mask may alias it.
    unsafe {
        let (stripped, next) = if set.is_null() {
            (None, Some(was))
        } else {
            let has = mask::word(set) & sys::HUP_BIT != 0;
            (Some(mask::without_hup(set)), mask::after(how, has, was))
        };
        let r = apply(stripped.as_ref().map_or(ptr::null(), |s| s as *const _));
        if ok(&r) {
            if !old.is_null() {
                mask::put_hup(old, was);
            }
            if let Some(n) = next {
                mask::set_hup_blocked(n);
            }
        }
        r
    }
}

/// Whether `sig` is SIGHUP (the only signal the shim ever treats apart).
#[inline(always)]
pub fn is_hup(sig: c_int) -> bool {
    sig == SIGHUP
}
