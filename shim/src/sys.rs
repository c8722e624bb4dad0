//! The kernel side: raw system calls and the kernel's own signal structures.
//!
//! Everything here talks to the kernel directly, without libc, so that it
//! works before any real function is resolved, never touches `errno` and
//! never takes a lock.

use core::arch::asm;

/// The kernel's `struct sigaction` (what `rt_sigaction` reads and writes).
/// Same layout on x86_64 and aarch64.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

pub const SIGHUP: i32 = 1;
pub const SIGKILL: i32 = 9;
pub const SIGSTOP: i32 = 19;
/// `_NSIG`: valid signals are 1..=64.
pub const NSIG: i32 = 65;

pub const SIG_DFL: usize = 0;
pub const SIG_IGN: usize = 1;
/// `SIG_ERR` as the bit pattern libc returns.
pub const SIG_ERR: usize = usize::MAX;
/// `SIG_HOLD` (System V `sigset`).
pub const SIG_HOLD: usize = 2;

pub const SIG_BLOCK: i32 = 0;
pub const SIG_UNBLOCK: i32 = 1;
pub const SIG_SETMASK: i32 = 2;

pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;

/// Flag bits the kernel keeps since Linux 5.11 (`UAPI_SA_FLAGS`); it clears
/// the rest so that programs can probe for support (`SA_UNSUPPORTED`).
/// Measured on x86_64: `0xdc000807`.
pub const KERNEL_KEPT_FLAGS: u64 = 0xdc00_0807;

/// The kernel silently removes SIGKILL and SIGSTOP from a handler's mask.
pub const UNBLOCKABLE: u64 = sigbit(SIGKILL) | sigbit(SIGSTOP);

/// The bit of `sig` in a kernel signal mask.
pub const fn sigbit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

pub const HUP_BIT: u64 = sigbit(SIGHUP);

pub const EINVAL: i32 = 22;
pub const ENOSYS: i32 = 38;
pub const EFAULT: i32 = 14;

#[cfg(target_arch = "x86_64")]
pub mod nr {
    pub const RT_SIGACTION: i64 = 13;
    pub const RT_SIGPROCMASK: i64 = 14;
    pub const GETPID: i64 = 39;
    pub const GETPPID: i64 = 110;
    pub const GETTID: i64 = 186;
    pub const TGKILL: i64 = 234;
    pub const EXIT_GROUP: i64 = 231;
    pub const RT_SIGTIMEDWAIT: i64 = 128;
    pub const SIGNALFD: i64 = 282;
    pub const SIGNALFD4: i64 = 289;
    pub const KCMP: i64 = 312;
}

#[cfg(target_arch = "aarch64")]
pub mod nr {
    pub const RT_SIGACTION: i64 = 134;
    pub const RT_SIGPROCMASK: i64 = 135;
    pub const GETPID: i64 = 172;
    pub const GETPPID: i64 = 173;
    pub const GETTID: i64 = 178;
    pub const TGKILL: i64 = 131;
    pub const EXIT_GROUP: i64 = 94;
    pub const RT_SIGTIMEDWAIT: i64 = 137;
    /// aarch64 has no plain `signalfd`; -1 never matches a real number.
    pub const SIGNALFD: i64 = -1;
    pub const SIGNALFD4: i64 = 74;
    pub const KCMP: i64 = 272;
}

/// A raw system call with six arguments. Returns the kernel's answer:
/// `-errno` on failure.
///
/// # Safety
/// The arguments must be valid for system call `n`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn syscall6(n: i64, a: i64, b: i64, c: i64, d: i64, e: i64, f: i64) -> i64 {
    let ret: i64;
    // SAFETY: the caller vouches for the arguments; `syscall` clobbers only
    // rcx and r11, which are declared.
    unsafe {
        asm!("syscall",
            inlateout("rax") n => ret,
            in("rdi") a, in("rsi") b, in("rdx") c,
            in("r10") d, in("r8") e, in("r9") f,
            lateout("rcx") _, lateout("r11") _,
            options(nostack));
    }
    ret
}

/// A raw system call with six arguments. Returns the kernel's answer:
/// `-errno` on failure.
///
/// # Safety
/// The arguments must be valid for system call `n`.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub unsafe fn syscall6(n: i64, a: i64, b: i64, c: i64, d: i64, e: i64, f: i64) -> i64 {
    let ret: i64;
    // SAFETY: the caller vouches for the arguments; `svc 0` takes the
    // number in x8 and returns in x0.
    unsafe {
        asm!("svc 0",
            in("x8") n,
            inlateout("x0") a => ret,
            in("x1") b, in("x2") c, in("x3") d, in("x4") e, in("x5") f,
            options(nostack));
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("libnohup.so supports x86_64 and aarch64 only");

pub fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { syscall6(nr::GETPID, 0, 0, 0, 0, 0, 0) as i32 }
}

pub fn getppid() -> i32 {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { syscall6(nr::GETPPID, 0, 0, 0, 0, 0, 0) as i32 }
}

/// `kcmp(a, b, KCMP_VM)`: 0 when the two processes share one address space
/// (a vfork or CLONE_VM child and its parent), positive when they do not,
/// `-errno` when the kernel will not say.
pub fn same_vm(a: i32, b: i32) -> i64 {
    const KCMP_VM: i64 = 1;
    // SAFETY: kcmp with KCMP_VM reads no user memory.
    unsafe { syscall6(nr::KCMP, a as i64, b as i64, KCMP_VM, 0, 0, 0) }
}

/// `rt_sigaction` without libc.
///
/// # Safety
/// `act` and `old` must be null or valid.
pub unsafe fn rt_sigaction(sig: i32, act: *const KSigaction, old: *mut KSigaction) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe {
        syscall6(
            nr::RT_SIGACTION,
            sig as i64,
            act as i64,
            old as i64,
            8,
            0,
            0,
        )
    }
}

/// `rt_sigprocmask` on the kernel's 64-bit mask, without libc.
///
/// # Safety
/// `set` and `old` must be null or valid.
pub unsafe fn rt_sigprocmask(how: i32, set: *const u64, old: *mut u64) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe {
        syscall6(
            nr::RT_SIGPROCMASK,
            how as i64,
            set as i64,
            old as i64,
            8,
            0,
            0,
        )
    }
}

/// Ends the process the way `abort()` would, without libc. Used only by the
/// panic handler, which no correct code path reaches.
pub fn abort() -> ! {
    // SAFETY: tgkill and exit_group take plain integers.
    unsafe {
        let pid = getpid() as i64;
        let tid = syscall6(nr::GETTID, 0, 0, 0, 0, 0, 0);
        let act = KSigaction::default();
        rt_sigaction(6, &act, core::ptr::null_mut());
        let unblock: u64 = sigbit(6);
        rt_sigprocmask(SIG_UNBLOCK, &unblock, core::ptr::null_mut());
        syscall6(nr::TGKILL, pid, tid, 6, 0, 0, 0);
        loop {
            syscall6(nr::EXIT_GROUP, 134, 0, 0, 0, 0, 0);
        }
    }
}

/// Sets the calling thread's `errno` the way libc would.
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot; it
    // takes no lock and never fails.
    unsafe { *libc::__errno_location() = e }
}

/// The return convention of libc's `syscall()`: -1 and errno on failure.
pub fn libc_ret(ret: i64) -> i64 {
    if (-4095..0).contains(&ret) {
        set_errno(-ret as i32);
        -1
    } else {
        ret
    }
}

// The signal return trampoline used only when glibc's own cannot be
// learned (a raw-syscall fallback before resolution). It does what glibc's
// `__restore_rt` does: call `rt_sigreturn`.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text.hupsafe_restore_rt,\"ax\",@progbits",
    ".globl hupsafe_restore_rt",
    ".hidden hupsafe_restore_rt",
    ".type hupsafe_restore_rt,@function",
    "hupsafe_restore_rt:",
    "    mov $15, %rax",
    "    syscall",
    "    hlt",
    ".size hupsafe_restore_rt, .-hupsafe_restore_rt",
    ".popsection",
    options(att_syntax)
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn hupsafe_restore_rt();
}

/// Our own restorer (x86_64 needs one for every handler).
#[cfg(target_arch = "x86_64")]
pub fn own_restorer() -> usize {
    hupsafe_restore_rt as *const () as usize
}

#[cfg(not(target_arch = "x86_64"))]
pub fn own_restorer() -> usize {
    0
}

/// Whether libc's `sigaction` adds `SA_RESTORER` and its own trampoline.
pub const LIBC_SETS_RESTORER: bool = cfg!(target_arch = "x86_64");

/// A copy of the kernel-size (8-byte) mask at `p` without SIGHUP.
///
/// # Safety
/// `p` must point to 8 readable bytes.
pub unsafe fn word_without_hup(p: i64) -> u64 {
    // SAFETY: forwarded.
    unsafe { core::ptr::read_unaligned(p as *const u64) & !HUP_BIT }
}
