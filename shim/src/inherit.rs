//! Carrying the program's view of "SIGHUP blocked" to where the kernel
//! would carry a real mask: new threads and exec'd images.
//!
//! The view lives in thread-local storage (the kernel's mask never holds
//! SIGHUP, see `mask`), and glibc gives a new thread its creator's mask
//! through an internal call no hook sees; `execve` keeps the kernel's mask,
//! which lacks SIGHUP. Both hand-overs are done here, and only when the view
//! says "blocked", so ordinary programs pay nothing.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::mask;
use crate::sys;

pub type StartFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

const FREE: u8 = 0;
const TAKEN: u8 = 1;
const SLOTS: usize = 64;

/// A start routine and its argument on their way to a new thread.
struct Handoff {
    state: AtomicU8,
    start: AtomicUsize,
    arg: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Handoff = Handoff {
    state: AtomicU8::new(FREE),
    start: AtomicUsize::new(0),
    arg: AtomicUsize::new(0),
};

/// A fixed pool (no allocation); a creation that finds it full simply goes
/// without the hand-over.
static POOL: [Handoff; SLOTS] = [EMPTY; SLOTS];

/// Parks `start(arg)` in a free slot; returns the slot's number.
pub fn park(start: StartFn, arg: *mut c_void) -> Option<usize> {
    for (i, h) in POOL.iter().enumerate() {
        if h.state
            .compare_exchange(FREE, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            h.start.store(start as usize, Ordering::Relaxed);
            h.arg.store(arg as usize, Ordering::Relaxed);
            return Some(i);
        }
    }
    None
}

/// Gives a slot back (the thread was not created).
pub fn release(slot: usize) {
    if let Some(h) = POOL.get(slot) {
        h.state.store(FREE, Ordering::Release);
    }
}

/// The new thread's first function: adopt the creator's view, then run the
/// program's start routine with its own argument.
///
/// # Safety
/// `slot` must come from `park` through `pthread_create`.
pub unsafe extern "C" fn trampoline(slot: *mut c_void) -> *mut c_void {
    let Some(h) = POOL.get(slot as usize) else {
        return core::ptr::null_mut();
    };
    let start = h.start.load(Ordering::Relaxed);
    let arg = h.arg.load(Ordering::Relaxed);
    h.state.store(FREE, Ordering::Release);
    mask::set_hup_blocked(true);
    // SAFETY: `start` was stored from a valid StartFn by `park`.
    unsafe {
        let start: StartFn = core::mem::transmute::<usize, StartFn>(start);
        start(arg as *mut c_void)
    }
}

extern "C" {
    static environ: *const *const c_char;
}

/// Whether an environment carries a hupsafe shim in LD_PRELOAD, i.e. the
/// exec'd image's shim will pick the view up from the kernel's mask.
///
/// # Safety
/// `envp` must be null or a valid NULL-terminated array of C strings.
unsafe fn carries_shim(envp: *const *const c_char) -> bool {
    if envp.is_null() {
        return false;
    }
    const KEY: &[u8] = b"LD_PRELOAD=";
    const NAME: &[u8] = b"libnohup";
    // SAFETY: walks the caller's NULL-terminated array of C strings.
    unsafe {
        let mut p = envp;
        while !(*p).is_null() {
            let s = *p as *const u8;
            let mut i = 0;
            while i < KEY.len() && *s.add(i) == KEY[i] {
                i += 1;
            }
            if i == KEY.len() {
                // Look for the library's name in the value.
                let mut j = i;
                while *s.add(j) != 0 {
                    let mut k = 0;
                    while k < NAME.len() && *s.add(j + k) == NAME[k] {
                        k += 1;
                    }
                    if k == NAME.len() {
                        return true;
                    }
                    j += 1;
                }
                return false;
            }
            p = p.add(1);
        }
    }
    false
}

/// Runs an exec function. When the program believes SIGHUP is blocked and
/// the new image will load the shim, SIGHUP is blocked in the kernel for
/// the exec itself, so the new image's shim finds it in the inherited mask
/// (and then flushes and unblocks it, keeping the view). On failure the
/// kernel's mask is put back.
///
/// # Safety
/// `envp` as for `carries_shim`; `exec` performs the real call.
pub unsafe fn around_exec(envp: *const *const c_char, exec: impl FnOnce() -> c_int) -> c_int {
    crate::arm();
    // SAFETY: forwarded.
    let carry = mask::hup_blocked() && unsafe { carries_shim(envp) };
    let bit = sys::HUP_BIT;
    if carry {
        // SAFETY: pointer to a local.
        unsafe { sys::rt_sigprocmask(sys::SIG_BLOCK, &bit, core::ptr::null_mut()) };
    }
    let r = exec();
    if carry {
        // SAFETY: __errno_location is the calling thread's errno slot.
        unsafe {
            let e = *libc::__errno_location();
            sys::rt_sigprocmask(sys::SIG_UNBLOCK, &bit, core::ptr::null_mut());
            *libc::__errno_location() = e;
        }
    }
    r
}

/// The process environment, for exec functions that use it.
pub fn process_env() -> *const *const c_char {
    // SAFETY: reading the `environ` pointer.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(environ)) }
}

// ---- the variadic execl family (x86_64) --------------------------------------
//
// `execl`, `execlp` and `execle` are variadic, which stable Rust cannot
// define, and glibc's versions call `__execve` internally, so hooking
// `execve` does not see them. Each is a small assembly trampoline: save the
// argument registers, ask `hupsafe_execl_prepare` (Rust) for the real
// function (blocking SIGHUP in the kernel for the hand-over when needed),
// restore the registers and jump to the real function with the caller's
// arguments and stack untouched. If the exec fails, SIGHUP stays blocked in
// the kernel mask: harmless, since every wait strips it and the kernel
// ignores it, and the next mask change through a hook clears it.

#[cfg(target_arch = "x86_64")]
macro_rules! execl_trampoline {
    ($name:ident, $kind:literal, $doc:literal) => {
        #[doc = $doc]
        ///
        /// # Safety
        /// As for libc's function of that name.
        #[cfg_attr(not(test), no_mangle)]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                // 7 pushes: rsp is 16-byte aligned for the call.
                "push rdi", "push rsi", "push rdx", "push rcx", "push r8", "push r9", "push rax",
                // prepare(kind, saved registers, the caller's stack arguments)
                concat!("mov edi, ", $kind),
                "mov rsi, rsp",
                "lea rdx, [rsp + 64]",
                "call {prepare}",
                "mov r11, rax",
                "pop rax", "pop r9", "pop r8", "pop rcx", "pop rdx", "pop rsi", "pop rdi",
                "test r11, r11",
                "jz 2f",
                "jmp r11",
                "2:",
                "mov rax, -1",
                "ret",
                prepare = sym hupsafe_execl_prepare,
            )
        }
    };
}

#[cfg(target_arch = "x86_64")]
execl_trampoline!(execl, "0", "`execl(3)`: variadic, see above.");
#[cfg(target_arch = "x86_64")]
execl_trampoline!(execlp, "1", "`execlp(3)`: variadic, see above.");
#[cfg(target_arch = "x86_64")]
execl_trampoline!(execle, "2", "`execle(3)`: variadic, see above.");

#[cfg(target_arch = "x86_64")]
static REAL_EXECL: [crate::real::Real; 3] = [
    crate::real::Real::new(b"execl"),
    crate::real::Real::new(b"execlp"),
    crate::real::Real::new(b"execle"),
];

/// Called by the trampolines. `regs` points at the saved registers in push
/// order reversed (rax, r9, r8, rcx, rdx, rsi, rdi); `stack` at the
/// caller's stack arguments (the 7th argument onwards). Returns the real
/// function, or 0 (errno set) when it cannot be found.
///
/// # Safety
/// Only the trampolines call this, with their own frame.
#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn hupsafe_execl_prepare(
    kind: u32,
    regs: *const usize,
    stack: *const usize,
) -> usize {
    let Some(real) = REAL_EXECL.get(kind as usize).and_then(|r| r.get()) else {
        sys::set_errno(sys::ENOSYS);
        return 0;
    };
    let envp = if kind == 2 {
        // SAFETY: the arguments are path, arg0, ..., NULL, envp, in
        // rdi, rsi, rdx, rcx, r8, r9, then on the caller's stack.
        unsafe { execle_envp(regs, stack) }
    } else {
        process_env()
    };
    crate::arm();
    // SAFETY: envp is a valid environment array or null.
    if mask::hup_blocked() && unsafe { carries_shim(envp) } {
        let bit = sys::HUP_BIT;
        // SAFETY: pointer to a local.
        unsafe { sys::rt_sigprocmask(sys::SIG_BLOCK, &bit, core::ptr::null_mut()) };
    }
    real
}

/// Finds execle's environment: the argument after the NULL that ends the
/// argument list.
#[cfg(target_arch = "x86_64")]
unsafe fn execle_envp(regs: *const usize, stack: *const usize) -> *const *const c_char {
    // Saved order on the stack: [0]=rax [1]=r9 [2]=r8 [3]=rcx [4]=rdx [5]=rsi [6]=rdi.
    // Variadic arguments after `path` (rdi): rsi, rdx, rcx, r8, r9, stack...
    // SAFETY: the caller passed a NULL-terminated list followed by envp.
    unsafe {
        let reg_args = [
            *regs.add(5),
            *regs.add(4),
            *regs.add(3),
            *regs.add(2),
            *regs.add(1),
        ];
        let arg = |i: usize| -> usize {
            if i < reg_args.len() {
                reg_args[i]
            } else {
                *stack.add(i - reg_args.len())
            }
        };
        let mut i = 0;
        while arg(i) != 0 {
            i += 1;
            if i > 1 << 20 {
                return core::ptr::null();
            }
        }
        arg(i + 1) as *const *const c_char
    }
}
