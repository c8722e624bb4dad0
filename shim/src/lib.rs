//! libnohup.so: SIGHUP stays ignored whatever the program does, and the
//! program is told the truth in a way that keeps it working.
//!
//! Layers, one direction of calls (docs/ARCHITECTURE.md, "The shim"):
//! - [`api`]: the exported C ABI, one small function per libc name;
//! - [`rules`]: is this about SIGHUP? then the shadow, never the kernel;
//! - [`shadow`], [`mask`]: what the program believes;
//! - [`real`], [`resolve`], [`sys`]: the real libc functions (found without
//!   locks) and raw system calls.
//!
//! Nothing here allocates, locks, panics or touches std at run time.

#![cfg_attr(not(test), no_std)]

pub mod api;
pub mod inherit;
pub mod mask;
pub mod real;
pub mod resolve;
pub mod rules;
pub mod shadow;
pub mod sys;

use core::sync::atomic::{AtomicBool, Ordering};

/// The process-wide view of SIGHUP's disposition.
pub static SHADOW: shadow::Shadow = shadow::Shadow::new();

static ARMED: AtomicBool = AtomicBool::new(false);

/// Makes sure the kernel ignores SIGHUP and does not hold it blocked. Runs
/// in the constructor, and in the first hook if that comes earlier (a
/// DT_NEEDED library's constructor runs before ours). Idempotent.
pub fn arm() {
    if ARMED.load(Ordering::Acquire) {
        return;
    }
    rules::arm_kernel();
    SHADOW.claim(sys::getpid());
    ARMED.store(true, Ordering::Release);
}

#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn hupsafe_shim_init() {
    arm();
    real::REAL.resolve_all();
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // No code path is meant to get here (no indexing, no unwrap); if one
    // does, end like abort() rather than unwind into C frames.
    sys::abort()
}
