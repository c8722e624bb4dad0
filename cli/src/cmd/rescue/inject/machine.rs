//! What the injector reads from and keeps about its target, below the
//! injection itself: the registers as the kernel would resume them, the
//! signal mask and FPU state a fallback frame saves, the `rt_sigreturn` and
//! `syscall` instructions found in the target's code, the rescuer's own
//! catchable signals held off during the injection, and the tests' pause
//! points.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::unistd::Pid;

use super::super::cannot;
use super::{failed, os_failed};
use crate::error::Result;
use crate::sys::proc;

/// `saved` as the kernel would have resumed it after a stop and continue
/// without a handler: an interrupted restartable system call re-entered.
/// For rt_sigreturn (`by_sigreturn`), which makes a restart block return
/// EINTR, such a call returns EINTR right away instead.
pub(super) fn restored(
    saved: &libc::user_regs_struct,
    by_sigreturn: bool,
) -> libc::user_regs_struct {
    let mut r = *saved;
    if (r.orig_rax as i64) >= 0 {
        const ERESTARTSYS: i64 = -512;
        const ERESTARTNOINTR: i64 = -513;
        const ERESTARTNOHAND: i64 = -514;
        const ERESTART_RESTARTBLOCK: i64 = -516;
        match r.rax as i64 {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
                r.rax = r.orig_rax;
                r.rip -= 2;
            }
            ERESTART_RESTARTBLOCK if by_sigreturn => r.rax = -(libc::EINTR as i64) as u64,
            ERESTART_RESTARTBLOCK => {
                r.rax = libc::SYS_restart_syscall as u64;
                r.rip -= 2;
            }
            _ => {}
        }
    }
    r.orig_rax = u64::MAX;
    r
}

/// The blocked-signal mask of the stopped thread (PTRACE_GETSIGMASK).
pub(super) fn sigmask(pid: Pid) -> Result<u64> {
    let mut mask = 0u64;
    // SAFETY: PTRACE_GETSIGMASK writes `addr` (8) bytes to `data`, a live u64.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETSIGMASK,
            pid.as_raw(),
            8usize as *mut libc::c_void,
            &mut mask as *mut u64 as *mut libc::c_void,
        )
    };
    Errno::result(r)
        .map(|_| mask)
        .map_err(|e| failed("PTRACE_GETSIGMASK", e))
}

/// The stopped thread's FPU/vector state in XSAVE layout
/// (PTRACE_GETREGSET NT_X86_XSTATE).
pub(super) fn xstate(pid: Pid) -> Result<Vec<u8>> {
    const NT_X86_XSTATE: usize = 0x202;
    let mut buf = vec![0u8; 16 << 10];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the kernel writes at most iov_len bytes to the live buffer
    // and updates iov_len.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            pid.as_raw(),
            NT_X86_XSTATE as *mut libc::c_void,
            &mut iov as *mut libc::iovec as *mut libc::c_void,
        )
    };
    Errno::result(r).map_err(|e| failed("PTRACE_GETREGSET", e))?;
    if iov.iov_len < 576 {
        return Err(cannot("no XSAVE state to restore from"));
    }
    buf.truncate(iov.iov_len);
    Ok(buf)
}

/// Whether a thread of `pid` runs with a user shadow stack (Linux 6.6+,
/// `x86_Thread_features: shstk`).
pub(super) fn shadow_stack(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("x86_Thread_features:") && l.contains("shstk"))
    })
}

/// A `mov $15, %rax; syscall` (libc's and musl's `__restore_rt`) or
/// `mov $15, %eax; syscall` (Go's) in the tracee's executable memory.
pub(super) fn find_sigreturn(pid: i32, mem: &File) -> Result<u64> {
    const LONG: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05];
    const SHORT: [u8; 7] = [0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05];
    let regions =
        proc::code_mappings(pid).map_err(|e| os_failed(&format!("/proc/{pid}/maps"), &e))?;
    let found = search_code(mem, regions, |buf| {
        let at = |pat: &[u8]| buf.windows(pat.len()).position(|w| w == pat);
        at(&LONG).or_else(|| at(&SHORT))
    });
    if let Some(at) = found {
        return Ok(at);
    }
    Err(cannot("found no rt_sigreturn sequence in its code"))
}

/// A `syscall` instruction in the tracee's executable memory.
pub(super) fn find_syscall(pid: i32, mem: &File, regs: &libc::user_regs_struct) -> Result<u64> {
    let mut b = [0u8; 2];
    if (regs.orig_rax as i64) >= 0
        && mem.read_exact_at(&mut b, regs.rip.wrapping_sub(2)).is_ok()
        && b == [0x0f, 0x05]
    {
        return Ok(regs.rip - 2);
    }
    let mut regions =
        proc::code_mappings(pid).map_err(|e| os_failed(&format!("/proc/{pid}/maps"), &e))?;
    // The vDSO first: it is small.
    regions.sort_by_key(|r| !r.vdso);
    if let Some(at) = search_code(mem, regions, |buf| {
        buf.windows(2).position(|w| w == [0x0f, 0x05])
    }) {
        return Ok(at);
    }
    Err(cannot(
        "found no `syscall` instruction in its executable memory",
    ))
}

/// The address of the first match `find` reports (an offset into a
/// region's bytes), reading each executable region in turn (at most 64 MiB
/// of it); regions that cannot be read are passed over.
fn search_code(
    mem: &File,
    regions: Vec<proc::CodeMapping>,
    find: impl Fn(&[u8]) -> Option<usize>,
) -> Option<u64> {
    regions.into_iter().find_map(
        |proc::CodeMapping {
             start: a, end: z, ..
         }| {
            let len = (z - a).min(64 << 20) as usize;
            let mut buf = vec![0u8; len];
            mem.read_exact_at(&mut buf, a).ok()?;
            find(&buf).map(|i| a + i as u64)
        },
    )
}

/// The catchable signals blocked in this process while it holds a
/// tracee, the previous mask restored when dropped: a signal that arrives
/// meanwhile (an SSH drop's SIGHUP) acts once the target is detached.
pub(super) struct HeldSignals(Option<libc::sigset_t>);

impl HeldSignals {
    pub(super) fn block() -> HeldSignals {
        // SAFETY: sigset_t is plain data that sigfillset/sigdelset fill
        // in; pthread_sigmask reads one live set and writes the other.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            // Faults are the program's own and cannot wait.
            for s in [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGILL,
                libc::SIGFPE,
                libc::SIGTRAP,
                libc::SIGABRT,
            ] {
                libc::sigdelset(&mut all, s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            let ok = libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old) == 0;
            HeldSignals(ok.then_some(old))
        }
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: restores the mask saved above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}

/// For the tests: with `HUPSAFE_TEST_RESCUE_PAUSE=POINT`, says on stderr
/// that the injector is at POINT, then waits for a line on stdin.
pub(super) fn pause_point(point: &str) {
    if std::env::var_os("HUPSAFE_TEST_RESCUE_PAUSE").is_some_and(|p| p == point) {
        use std::io::{BufRead, Write};
        let _ = writeln!(io::stderr(), "rescue paused at {point}");
        let _ = io::stdin().lock().read_line(&mut String::new());
    }
}
