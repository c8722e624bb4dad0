//! The exported C ABI: one small function per libc name, nothing but
//! argument plumbing. Each decides "SIGHUP or not" and hands over to
//! [`crate::rules`] or to the real function.
//!
//! Under `cfg(test)` the functions keep Rust names so that the unit-test
//! binary does not interpose its own libc.

#![allow(clippy::missing_safety_doc)]

use core::ffi::{c_char, c_int, c_long, c_void};
use core::ptr;

use crate::inherit;
use crate::mask;
use crate::real::real;
use crate::rules::{self, is_hup, Sigvec};
use crate::sys::{self, KSigaction};

type SignalFn = unsafe extern "C" fn(c_int, usize) -> usize;
type IntFn = unsafe extern "C" fn(c_int) -> c_int;
type Int2Fn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type SigvecFn = unsafe extern "C" fn(c_int, *const Sigvec, *mut Sigvec) -> c_int;
type MaskFn = unsafe extern "C" fn(c_int, *const libc::sigset_t, *mut libc::sigset_t) -> c_int;
type SigwaitFn = unsafe extern "C" fn(*const libc::sigset_t, *mut c_int) -> c_int;
type SigwaitinfoFn = unsafe extern "C" fn(*const libc::sigset_t, *mut libc::siginfo_t) -> c_int;
type SigtimedwaitFn = unsafe extern "C" fn(
    *const libc::sigset_t,
    *mut libc::siginfo_t,
    *const libc::timespec,
) -> c_int;
type SignalfdFn = unsafe extern "C" fn(c_int, *const libc::sigset_t, c_int) -> c_int;
type SpawnFn = unsafe extern "C" fn(
    *mut libc::pid_t,
    *const c_char,
    *const c_void,
    *const libc::posix_spawnattr_t,
    *const *mut c_char,
    *const *mut c_char,
) -> c_int;

// ---- dispositions ---------------------------------------------------------

/// `sigaction(2)`. SIGHUP: recorded in the shadow, kernel untouched.
///
/// # Safety
/// As for libc's `sigaction`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded from our caller.
    unsafe {
        if is_hup(sig) {
            rules::sigaction_hup(act, old)
        } else {
            rules::sigaction_other(sig, act, old)
        }
    }
}

/// `__sigaction`, glibc's other name for `sigaction`.
///
/// # Safety
/// As for libc's `sigaction`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { sigaction(sig, act, old) }
}

/// `signal(3)` (glibc: BSD semantics).
///
/// # Safety
/// As for libc's `signal`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn signal(sig: c_int, handler: usize) -> usize {
    if is_hup(sig) {
        return rules::signal_hup(handler);
    }
    // SAFETY: the real function, or our emulation of it.
    unsafe {
        match real!(REAL.signal as SignalFn) {
            Some(f) => f(sig, handler),
            None => bsd_signal_fallback(sig, handler),
        }
    }
}

/// `bsd_signal`: the same function as `signal` in glibc.
///
/// # Safety
/// As for libc's `signal`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn bsd_signal(sig: c_int, handler: usize) -> usize {
    // SAFETY: forwarded.
    unsafe { signal(sig, handler) }
}

/// `ssignal`: the same function as `signal` in glibc.
///
/// # Safety
/// As for libc's `signal`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn ssignal(sig: c_int, handler: usize) -> usize {
    // SAFETY: forwarded.
    unsafe { signal(sig, handler) }
}

unsafe fn bsd_signal_fallback(sig: c_int, handler: usize) -> usize {
    if handler == sys::SIG_ERR || !(1..sys::NSIG).contains(&sig) {
        sys::set_errno(sys::EINVAL);
        return sys::SIG_ERR;
    }
    // SAFETY: zeroed sigaction structs are valid.
    unsafe {
        let mut act: libc::sigaction = core::mem::zeroed();
        let mut old: libc::sigaction = core::mem::zeroed();
        act.sa_sigaction = handler;
        libc::sigaddset(&mut act.sa_mask, sig);
        act.sa_flags = libc::SA_RESTART;
        if rules::sigaction_other(sig, &act, &mut old) < 0 {
            return sys::SIG_ERR;
        }
        old.sa_sigaction
    }
}

/// `sysv_signal(3)`: one-shot semantics.
///
/// # Safety
/// As for libc's `sysv_signal`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sysv_signal(sig: c_int, handler: usize) -> usize {
    if is_hup(sig) {
        return rules::sysv_signal_hup(handler);
    }
    // SAFETY: the real function, or an emulation through sigaction.
    unsafe {
        match real!(REAL.sysv_signal as SignalFn) {
            Some(f) => f(sig, handler),
            None => {
                if handler == sys::SIG_ERR || !(1..sys::NSIG).contains(&sig) {
                    sys::set_errno(sys::EINVAL);
                    return sys::SIG_ERR;
                }
                let mut act: libc::sigaction = core::mem::zeroed();
                let mut old: libc::sigaction = core::mem::zeroed();
                act.sa_sigaction = handler;
                act.sa_flags = libc::SA_RESETHAND | libc::SA_NODEFER;
                if rules::sigaction_other(sig, &act, &mut old) < 0 {
                    return sys::SIG_ERR;
                }
                old.sa_sigaction
            }
        }
    }
}

/// `__sysv_signal`: what `signal()` links to under `-std=c11`.
///
/// # Safety
/// As for libc's `sysv_signal`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __sysv_signal(sig: c_int, handler: usize) -> usize {
    // SAFETY: forwarded.
    unsafe { sysv_signal(sig, handler) }
}

/// `sigset(3)`, including `SIG_HOLD`.
///
/// # Safety
/// As for libc's `sigset`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigset(sig: c_int, disp: usize) -> usize {
    if is_hup(sig) {
        return rules::sigset_hup(disp);
    }
    // SAFETY: the real function.
    unsafe {
        match real!(REAL.sigset as SignalFn) {
            Some(f) => f(sig, disp),
            None => signal(sig, disp),
        }
    }
}

/// `sigvec(3)`, a compat-only symbol in glibc (`sigvec@GLIBC_2.2.5`).
///
/// # Safety
/// As for libc's `sigvec`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigvec(sig: c_int, vec: *const Sigvec, ovec: *mut Sigvec) -> c_int {
    // SAFETY: forwarded.
    unsafe {
        if is_hup(sig) {
            return rules::sigvec_hup(vec, ovec);
        }
        match real!(REAL.sigvec as SigvecFn) {
            Some(f) => f(sig, vec, ovec),
            None => {
                sys::set_errno(sys::ENOSYS);
                -1
            }
        }
    }
}

/// `siginterrupt(3)`.
///
/// # Safety
/// As for libc's `siginterrupt`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn siginterrupt(sig: c_int, flag: c_int) -> c_int {
    if is_hup(sig) {
        return rules::siginterrupt_hup(flag != 0);
    }
    // SAFETY: the real function.
    unsafe {
        match real!(REAL.siginterrupt as Int2Fn) {
            Some(f) => f(sig, flag),
            None => {
                sys::set_errno(sys::ENOSYS);
                -1
            }
        }
    }
}

/// `sigignore(3)`.
///
/// # Safety
/// As for libc's `sigignore`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigignore(sig: c_int) -> c_int {
    if is_hup(sig) {
        rules::set_hup(sys::SIG_IGN, 0, 0, 0);
        return 0;
    }
    // SAFETY: the real function.
    unsafe {
        match real!(REAL.sigignore as IntFn) {
            Some(f) => f(sig),
            None => {
                if signal(sig, sys::SIG_IGN) == sys::SIG_ERR {
                    -1
                } else {
                    0
                }
            }
        }
    }
}

// ---- masks ------------------------------------------------------------------

/// `sigprocmask(2)`: SIGHUP never reaches the kernel's mask.
///
/// # Safety
/// As for libc's `sigprocmask`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded; the real function receives our stripped copy.
    unsafe {
        rules::change_mask(
            how,
            set,
            old,
            |s| match real!(REAL.sigprocmask as MaskFn) {
                Some(f) => f(how, s, old),
                None => raw_sigprocmask(how, s, old),
            },
            |r: &c_int| *r == 0,
        )
    }
}

/// `pthread_sigmask(3)`: like `sigprocmask`, returns an error number.
///
/// # Safety
/// As for libc's `pthread_sigmask`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: forwarded.
    unsafe {
        rules::change_mask(
            how,
            set,
            old,
            |s| match real!(REAL.pthread_sigmask as MaskFn) {
                Some(f) => f(how, s, old),
                None => {
                    if raw_sigprocmask(how, s, old) == 0 {
                        0
                    } else {
                        *libc::__errno_location()
                    }
                }
            },
            |r: &c_int| *r == 0,
        )
    }
}

unsafe fn raw_sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: the kernel reads/writes the first 8 bytes of each set.
    let r = unsafe { sys::rt_sigprocmask(how, set as *const u64, old as *mut u64) };
    sys::libc_ret(r) as c_int
}

/// `sigblock(3)` (BSD): SIGHUP is bit 0 of the int mask.
///
/// # Safety
/// Always safe to call.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigblock(m: c_int) -> c_int {
    crate::arm();
    let was = mask::hup_blocked();
    // SAFETY: the real function takes a plain int.
    let old = unsafe {
        match real!(REAL.sigblock as IntFn) {
            Some(f) => f(m & !1),
            None => bsd_mask(sys::SIG_BLOCK, m & !1),
        }
    };
    if old == -1 {
        return old;
    }
    if m & 1 != 0 {
        mask::set_hup_blocked(true);
    }
    old | was as c_int
}

/// `sigsetmask(3)` (BSD).
///
/// # Safety
/// Always safe to call.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigsetmask(m: c_int) -> c_int {
    crate::arm();
    let was = mask::hup_blocked();
    // SAFETY: the real function takes a plain int.
    let old = unsafe {
        match real!(REAL.sigsetmask as IntFn) {
            Some(f) => f(m & !1),
            None => bsd_mask(sys::SIG_SETMASK, m & !1),
        }
    };
    if old == -1 {
        return old;
    }
    mask::set_hup_blocked(m & 1 != 0);
    old | was as c_int
}

/// `siggetmask(3)` (BSD).
///
/// # Safety
/// Always safe to call.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn siggetmask() -> c_int {
    crate::arm();
    type GetFn = unsafe extern "C" fn() -> c_int;
    // SAFETY: the real function takes no argument.
    let cur = unsafe {
        match real!(REAL.siggetmask as GetFn) {
            Some(f) => f(),
            None => bsd_mask(sys::SIG_BLOCK, 0),
        }
    };
    cur | mask::hup_blocked() as c_int
}

fn bsd_mask(how: c_int, m: c_int) -> c_int {
    let set: u64 = m as u32 as u64;
    let mut old: u64 = 0;
    // SAFETY: pointers to locals.
    let r = unsafe { sys::rt_sigprocmask(how, &set, &mut old) };
    if r < 0 {
        sys::set_errno(-r as i32);
        return -1;
    }
    old as u32 as c_int
}

/// `sighold(3)`.
///
/// # Safety
/// Always safe to call.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sighold(sig: c_int) -> c_int {
    if is_hup(sig) {
        crate::arm();
        mask::set_hup_blocked(true);
        return 0;
    }
    // SAFETY: the real function takes a plain int.
    unsafe {
        match real!(REAL.sighold as IntFn) {
            Some(f) => f(sig),
            None => one_signal_mask(sys::SIG_BLOCK, sig),
        }
    }
}

/// `sigrelse(3)`.
///
/// # Safety
/// Always safe to call.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigrelse(sig: c_int) -> c_int {
    if is_hup(sig) {
        crate::arm();
        mask::set_hup_blocked(false);
        return 0;
    }
    // SAFETY: the real function takes a plain int.
    unsafe {
        match real!(REAL.sigrelse as IntFn) {
            Some(f) => f(sig),
            None => one_signal_mask(sys::SIG_UNBLOCK, sig),
        }
    }
}

fn one_signal_mask(how: c_int, sig: c_int) -> c_int {
    if !(1..sys::NSIG).contains(&sig) {
        sys::set_errno(sys::EINVAL);
        return -1;
    }
    let set = sys::sigbit(sig);
    // SAFETY: pointer to a local.
    let r = unsafe { sys::rt_sigprocmask(how, &set, ptr::null_mut()) };
    sys::libc_ret(r) as c_int
}

// ---- waiting for signals -------------------------------------------------------

/// `sigwait(3)`: never returns SIGHUP.
///
/// # Safety
/// As for libc's `sigwait`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigwait(set: *const libc::sigset_t, sig: *mut c_int) -> c_int {
    // SAFETY: the real function receives our stripped copy.
    unsafe {
        if set.is_null() {
            return sys::EFAULT;
        }
        let s = mask::without_hup(set);
        match real!(REAL.sigwait as SigwaitFn) {
            Some(f) => f(&s, sig),
            None => {
                let r = sys::syscall6(
                    sys::nr::RT_SIGTIMEDWAIT,
                    &s as *const _ as i64,
                    0,
                    0,
                    8,
                    0,
                    0,
                );
                if r < 0 {
                    -r as c_int
                } else {
                    if !sig.is_null() {
                        *sig = r as c_int;
                    }
                    0
                }
            }
        }
    }
}

/// `sigwaitinfo(2)`: never returns SIGHUP.
///
/// # Safety
/// As for libc's `sigwaitinfo`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigwaitinfo(
    set: *const libc::sigset_t,
    info: *mut libc::siginfo_t,
) -> c_int {
    // SAFETY: the real function receives our stripped copy.
    unsafe {
        if set.is_null() {
            sys::set_errno(sys::EFAULT);
            return -1;
        }
        let s = mask::without_hup(set);
        match real!(REAL.sigwaitinfo as SigwaitinfoFn) {
            Some(f) => f(&s, info),
            None => timedwait_raw(&s, info, ptr::null()),
        }
    }
}

/// `sigtimedwait(2)`: never returns SIGHUP.
///
/// # Safety
/// As for libc's `sigtimedwait`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sigtimedwait(
    set: *const libc::sigset_t,
    info: *mut libc::siginfo_t,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: the real function receives our stripped copy.
    unsafe {
        if set.is_null() {
            sys::set_errno(sys::EFAULT);
            return -1;
        }
        let s = mask::without_hup(set);
        match real!(REAL.sigtimedwait as SigtimedwaitFn) {
            Some(f) => f(&s, info, timeout),
            None => timedwait_raw(&s, info, timeout),
        }
    }
}

unsafe fn timedwait_raw(
    s: *const libc::sigset_t,
    info: *mut libc::siginfo_t,
    timeout: *const libc::timespec,
) -> c_int {
    // SAFETY: caller's pointers; the kernel checks them.
    let r = unsafe {
        sys::syscall6(
            sys::nr::RT_SIGTIMEDWAIT,
            s as i64,
            info as i64,
            timeout as i64,
            8,
            0,
            0,
        )
    };
    sys::libc_ret(r) as c_int
}

/// `signalfd(2)`: the descriptor never reports SIGHUP.
///
/// # Safety
/// As for libc's `signalfd`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn signalfd(fd: c_int, set: *const libc::sigset_t, flags: c_int) -> c_int {
    // SAFETY: the real function receives our stripped copy.
    unsafe {
        if set.is_null() {
            sys::set_errno(sys::EFAULT);
            return -1;
        }
        let s = mask::without_hup(set);
        match real!(REAL.signalfd as SignalfdFn) {
            Some(f) => f(fd, &s, flags),
            None => {
                let r = sys::syscall6(
                    sys::nr::SIGNALFD4,
                    fd as i64,
                    &s as *const _ as i64,
                    8,
                    flags as i64,
                    0,
                    0,
                );
                sys::libc_ret(r) as c_int
            }
        }
    }
}

// ---- children ------------------------------------------------------------------

/// A copy of the caller's spawn attributes in which SIGHUP is neither reset
/// to SIG_DFL (`POSIX_SPAWN_SETSIGDEF`) nor blocked (`POSIX_SPAWN_SETSIGMASK`)
/// in the child, so the child starts with SIGHUP ignored even when its
/// environment has no LD_PRELOAD.
unsafe fn protect_attr(attr: *const libc::posix_spawnattr_t) -> Option<libc::posix_spawnattr_t> {
    if attr.is_null() {
        return None;
    }
    // SAFETY: posix_spawnattr_t is plain data in glibc; the accessors only
    // read and write our copy.
    unsafe {
        let mut copy: libc::posix_spawnattr_t = ptr::read(attr);
        let mut flags: libc::c_short = 0;
        if libc::posix_spawnattr_getflags(&copy, &mut flags) != 0 {
            return Some(copy);
        }
        if flags as c_int & libc::POSIX_SPAWN_SETSIGDEF != 0 {
            let mut s: libc::sigset_t = core::mem::zeroed();
            if libc::posix_spawnattr_getsigdefault(&copy, &mut s) == 0 {
                let s = mask::without_hup(&s);
                libc::posix_spawnattr_setsigdefault(&mut copy, &s);
            }
        }
        if flags as c_int & libc::POSIX_SPAWN_SETSIGMASK != 0 {
            let mut s: libc::sigset_t = core::mem::zeroed();
            if libc::posix_spawnattr_getsigmask(&copy, &mut s) == 0 {
                let s = mask::without_hup(&s);
                libc::posix_spawnattr_setsigmask(&mut copy, &s);
            }
        }
        Some(copy)
    }
}

unsafe fn spawn_with(
    real: Option<SpawnFn>,
    pid: *mut libc::pid_t,
    path: *const c_char,
    actions: *const c_void,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    crate::arm();
    let Some(f) = real else {
        return sys::ENOSYS;
    };
    // SAFETY: the real function, with a protected copy of the attributes.
    unsafe {
        match protect_attr(attr) {
            Some(copy) => f(pid, path, actions, &copy, argv, envp),
            None => f(pid, path, actions, attr, argv, envp),
        }
    }
}

/// `posix_spawn(3)`: the child keeps SIGHUP ignored.
///
/// # Safety
/// As for libc's `posix_spawn`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut libc::pid_t,
    path: *const c_char,
    actions: *const c_void,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: forwarded.
    unsafe {
        spawn_with(
            real!(REAL.posix_spawn as SpawnFn),
            pid,
            path,
            actions,
            attr,
            argv,
            envp,
        )
    }
}

/// `posix_spawnp(3)`: the child keeps SIGHUP ignored.
///
/// # Safety
/// As for libc's `posix_spawnp`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut libc::pid_t,
    file: *const c_char,
    actions: *const c_void,
    attr: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: forwarded.
    unsafe {
        spawn_with(
            real!(REAL.posix_spawnp as SpawnFn),
            pid,
            file,
            actions,
            attr,
            argv,
            envp,
        )
    }
}

// ---- syscall(2) -------------------------------------------------------------------

/// The variadic `syscall()`. Stable Rust cannot define a C-variadic
/// function; on x86_64 and aarch64 a function of seven longs receives the
/// same registers (and the seventh is read from where the ABI puts it,
/// exactly as glibc's own `syscall` reads it).
///
/// `rt_sigaction` and `rt_sigprocmask` on SIGHUP go to the shadow; sets
/// waited on (`rt_sigtimedwait`, `signalfd`) lose SIGHUP; everything else
/// is passed to the kernel unchanged, with libc's -1/errno convention.
///
/// # Safety
/// As for libc's `syscall`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn syscall(
    n: c_long,
    a: c_long,
    b: c_long,
    c: c_long,
    d: c_long,
    e: c_long,
    f: c_long,
) -> c_long {
    let n: i64 = n;
    // SAFETY: each branch hands the caller's arguments to the kernel or
    // reads them exactly where the kernel would.
    unsafe {
        if n == sys::nr::RT_SIGACTION && a as c_int == sys::SIGHUP {
            return raw_sigaction_hup(b, c, d);
        }
        if n == sys::nr::RT_SIGPROCMASK && b != 0 && d == 8 {
            return raw_sigprocmask_hup(a as c_int, b, c);
        }
        if n == sys::nr::RT_SIGPROCMASK && b == 0 && c != 0 && d == 8 {
            let r = sys::syscall6(n, a, b, c, d, e, f);
            if r == 0 {
                mask::put_hup(c as *mut libc::sigset_t, mask::hup_blocked());
            }
            return sys::libc_ret(r) as c_long;
        }
        if n == sys::nr::RT_SIGTIMEDWAIT && a != 0 && d == 8 {
            let s = sys::word_without_hup(a);
            return sys::libc_ret(sys::syscall6(n, &s as *const u64 as i64, b, c, d, e, f));
        }
        if (n == sys::nr::SIGNALFD4 || n == sys::nr::SIGNALFD) && b != 0 && c == 8 {
            let s = sys::word_without_hup(b);
            return sys::libc_ret(sys::syscall6(n, a, &s as *const u64 as i64, c, d, e, f));
        }
        sys::libc_ret(sys::syscall6(n, a, b, c, d, e, f))
    }
}

unsafe fn raw_sigaction_hup(act: c_long, old: c_long, size: c_long) -> c_long {
    if size != 8 {
        sys::set_errno(sys::EINVAL);
        return -1;
    }
    // SAFETY: kernel-layout structs supplied by the caller.
    unsafe {
        let prev = if act != 0 {
            rules::set_hup_kernel(&*(act as *const KSigaction))
        } else {
            rules::hup()
        };
        if old != 0 {
            *(old as *mut KSigaction) = prev;
        }
    }
    0
}

unsafe fn raw_sigprocmask_hup(how: c_int, set: c_long, old: c_long) -> c_long {
    // SAFETY: kernel-layout 8-byte masks supplied by the caller; the set
    // is widened into a local sigset_t so nothing past its 8 bytes is read.
    unsafe {
        let mut wide: libc::sigset_t = core::mem::zeroed();
        ptr::write_unaligned(
            &mut wide as *mut libc::sigset_t as *mut u64,
            ptr::read_unaligned(set as *const u64),
        );
        rules::change_mask(
            how,
            &wide,
            old as *mut libc::sigset_t,
            |s| sys::libc_ret(sys::rt_sigprocmask(how, s as *const u64, old as *mut u64)),
            |r: &i64| *r == 0,
        ) as c_long
    }
}

// ---- threads and exec: where the kernel would carry a mask --------------------

type PthreadCreateFn = unsafe extern "C" fn(
    *mut libc::pthread_t,
    *const libc::pthread_attr_t,
    inherit::StartFn,
    *mut c_void,
) -> c_int;

/// `pthread_create(3)`: a new thread starts with its creator's view of
/// SIGHUP blocked, as it would with a real mask.
///
/// # Safety
/// As for libc's `pthread_create`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start: inherit::StartFn,
    arg: *mut c_void,
) -> c_int {
    let Some(real) = real!(REAL.pthread_create as PthreadCreateFn) else {
        return libc::EAGAIN;
    };
    // SAFETY: the real function, with our trampoline when the view must be
    // handed over.
    unsafe {
        if !mask::hup_blocked() {
            return real(thread, attr, start, arg);
        }
        match inherit::park(start, arg) {
            Some(slot) => {
                let r = real(thread, attr, inherit::trampoline, slot as *mut c_void);
                if r != 0 {
                    inherit::release(slot);
                }
                r
            }
            None => real(thread, attr, start, arg),
        }
    }
}

type Envp = *const *const c_char;
type Argv = *const *const c_char;

unsafe fn exec_missing() -> c_int {
    sys::set_errno(sys::ENOSYS);
    -1
}

/// `execve(2)`.
///
/// # Safety
/// As for libc's `execve`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execve(path: *const c_char, argv: Argv, envp: Envp) -> c_int {
    type F = unsafe extern "C" fn(*const c_char, Argv, Envp) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(envp, || match real!(REAL.execve as F) {
            Some(f) => f(path, argv, envp),
            None => exec_missing(),
        })
    }
}

/// `execv(3)`.
///
/// # Safety
/// As for libc's `execv`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execv(path: *const c_char, argv: Argv) -> c_int {
    type F = unsafe extern "C" fn(*const c_char, Argv) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(inherit::process_env(), || match real!(REAL.execv as F) {
            Some(f) => f(path, argv),
            None => exec_missing(),
        })
    }
}

/// `execvp(3)`.
///
/// # Safety
/// As for libc's `execvp`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: Argv) -> c_int {
    type F = unsafe extern "C" fn(*const c_char, Argv) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(inherit::process_env(), || match real!(REAL.execvp as F) {
            Some(f) => f(file, argv),
            None => exec_missing(),
        })
    }
}

/// `execvpe(3)`.
///
/// # Safety
/// As for libc's `execvpe`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execvpe(file: *const c_char, argv: Argv, envp: Envp) -> c_int {
    type F = unsafe extern "C" fn(*const c_char, Argv, Envp) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(envp, || match real!(REAL.execvpe as F) {
            Some(f) => f(file, argv, envp),
            None => exec_missing(),
        })
    }
}

/// `fexecve(3)`.
///
/// # Safety
/// As for libc's `fexecve`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fexecve(fd: c_int, argv: Argv, envp: Envp) -> c_int {
    type F = unsafe extern "C" fn(c_int, Argv, Envp) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(envp, || match real!(REAL.fexecve as F) {
            Some(f) => f(fd, argv, envp),
            None => exec_missing(),
        })
    }
}

/// `execveat(2)`.
///
/// # Safety
/// As for libc's `execveat`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: Argv,
    envp: Envp,
    flags: c_int,
) -> c_int {
    type F = unsafe extern "C" fn(c_int, *const c_char, Argv, Envp, c_int) -> c_int;
    // SAFETY: forwarded to the real function.
    unsafe {
        inherit::around_exec(envp, || match real!(REAL.execveat as F) {
            Some(f) => f(dirfd, path, argv, envp, flags),
            None => exec_missing(),
        })
    }
}
