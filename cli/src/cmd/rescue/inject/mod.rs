//! The ptrace injector: seize one thread of a running process, save its
//! registers, run system calls inside it from a scratch page (ignore
//! SIGHUP, move its terminal stdout/stderr to the job log, stdin to
//! /dev/null), then restore the registers exactly and detach, undoing
//! what was done if a step fails.
//!
//! Whatever happens to the rescuer, the target is never left running on
//! replaced registers. Catchable signals (an SSH drop's SIGHUP, a SIGTERM)
//! are blocked in the rescuer from the seize to the detach. SIGKILL cannot
//! be blocked, and a tracer's death lets its tracee run on from wherever it
//! stopped (the seize does not ask for PTRACE_O_EXITKILL, which would kill
//! the target instead). So before the first register is changed, a signal
//! frame holding the saved registers, signal mask and FPU state is written
//! below the target's stack red zone, and every injected system call is
//! entered through a `mov $15, %rax; syscall` (rt_sigreturn) found in its
//! code, the call swapped for ours at its entry stop and the instruction
//! pointer put back on the gadget: released at any instant, the target
//! finishes the call in flight, then rt_sigreturn restores it as it was
//! (an interrupted sleep then returns EINTR, as after a signal handler).
//! With no such gadget (or a shadow stack, which rt_sigreturn would need a
//! token on), the injector runs from a bare `syscall` as before and says so
//! only in this comment: the catchable signals are still held off.
//!
//! `HUPSAFE_TEST_RESCUE_PAUSE=POINT` (for the tests only) stops the
//! injector at POINT (`attached`; `after-mmap`, the scratch page's address
//! in %rax; `mid-injection`, SIGHUP already ignored): it says so on stderr
//! and waits for a line (or end of file) on its stdin;
//! `HUPSAFE_TEST_RESCUE_FALLBACK=off` leaves the frame out (the control).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

mod machine;

use self::machine::{
    find_sigreturn, find_syscall, pause_point, restored, shadow_stack, sigmask, xstate, HeldSignals,
};
use super::{cannot, JobLog};
use crate::error::{os_words, Error, Result};

const PAGE: u64 = 4096;
const ACT_OFF: u64 = 0x100;
const OLDACT_OFF: u64 = 0x140;
const DEVNULL_OFF: u64 = 0x180;
const PATH_OFF: u64 = 0x200;

struct Tracee {
    pid: Pid,
    mem: File,
    saved: libc::user_regs_struct,
    syscall_at: u64,
    /// The rt_sigreturn gadget and the stack pointer of the frame that
    /// restores `saved`, once the registers point there (see the module
    /// comment); None: system calls run from `syscall_at`.
    fallback: Option<Fallback>,
    /// Signals that arrived while the process was ours, to resend.
    pending: Vec<i32>,
}

#[derive(Clone, Copy)]
struct Fallback {
    /// Address of `mov $15, %rax; syscall` (or `mov $15, %eax; syscall`).
    gadget: u64,
    /// Where %rsp points for rt_sigreturn: the frame's `ucontext`.
    frame: u64,
}

/// `what` failed with `e`, in words.
fn failed(what: &str, e: Errno) -> Error {
    os_failed(what, &io::Error::from_raw_os_error(e as i32))
}

fn os_failed(what: &str, e: &io::Error) -> Error {
    cannot(format!("{what}: {}", os_words(e)))
}

/// Waits for the next stop of `pid`, its raw wait status; Err if it died.
///
/// Not nix's `waitpid`: it decodes the stop signal into a `Signal`, which
/// names the standard signals only, so a stop for a real-time signal (or
/// glibc's 32 and 33) would come back as EINVAL with the status consumed
/// and the signal lost.
fn wait_stop(pid: Pid) -> Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a live c_int for waitpid to write.
        let r = unsafe { libc::waitpid(pid.as_raw(), &mut status, libc::__WALL) };
        if r != -1 {
            break;
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(failed("waitpid", e)),
        }
    }
    if libc::WIFSTOPPED(status) {
        Ok(status)
    } else {
        Err(cannot("the process ended while it was being rescued"))
    }
}

/// Resumes `pid` from a signal-delivery-stop, delivering signal number
/// `sig` as it would have been without us. By number, because nix's
/// `ptrace::cont` takes a `Signal`, which cannot name a real-time one.
fn deliver(pid: Pid, sig: i32) -> Result<()> {
    // SAFETY: PTRACE_CONT dereferences nothing: `addr` is ignored and
    // `data` is a signal number.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_CONT,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            sig as usize as *mut libc::c_void,
        )
    };
    Errno::result(r)
        .map(drop)
        .map_err(|e| failed("PTRACE_CONT", e))
}

const SYSCALL_TRAP: i32 = libc::SIGTRAP | 0x80;

impl Tracee {
    /// Seizes `pid` and stops its main thread.
    fn attach(pid: i32) -> Result<Tracee> {
        let pid = Pid::from_raw(pid);
        ptrace::seize(pid, ptrace::Options::PTRACE_O_TRACESYSGOOD).map_err(|e| {
            let mut why = failed("PTRACE_SEIZE failed", e);
            if e == Errno::EPERM {
                why.message.push_str(
                    " (not allowed: another user's or a setuid process, Yama, or a \
                     security module; try `sudo hupsafe rescue PID`)",
                );
            }
            why
        })?;
        let result = (|| {
            ptrace::interrupt(pid).map_err(|e| failed("PTRACE_INTERRUPT", e))?;
            loop {
                let st = wait_stop(pid)?;
                if st >> 16 == libc::PTRACE_EVENT_STOP {
                    let sig = libc::WSTOPSIG(st);
                    if sig != libc::SIGTRAP {
                        // A group-stop (SIGSTOP and friends) came first.
                        return Err(cannot(
                            "the process stopped (job control) while being rescued; \
                             continue it and try again",
                        ));
                    }
                    break;
                }
                // A signal-delivery-stop: let it be delivered now, as
                // it would have been; the interrupt stays pending.
                deliver(pid, libc::WSTOPSIG(st))?;
            }
            let mem = File::options()
                .read(true)
                .write(true)
                .open(format!("/proc/{pid}/mem"))
                .map_err(|e| os_failed(&format!("/proc/{pid}/mem"), &e))?;
            let saved = ptrace::getregs(pid).map_err(|e| failed("PTRACE_GETREGS", e))?;
            let syscall_at = find_syscall(pid.as_raw(), &mem, &saved)?;
            Ok((mem, saved, syscall_at))
        })();
        match result {
            Ok((mem, saved, syscall_at)) => Ok(Tracee {
                pid,
                mem,
                saved,
                syscall_at,
                fallback: None,
                pending: Vec::new(),
            }),
            Err(e) => {
                // Never leave it traced (DETACH works once it is in a stop).
                let _ = ptrace::detach(pid, None);
                Err(e)
            }
        }
    }

    /// Writes the restoring signal frame and points the registers at the
    /// rt_sigreturn gadget (see the module comment). Err leaves the
    /// registers as they were: the injection then runs without it.
    fn arm_fallback(&mut self) -> Result<()> {
        if shadow_stack(self.pid.as_raw()) {
            return Err(cannot("a shadow stack is on"));
        }
        let gadget = find_sigreturn(self.pid.as_raw(), &self.mem)?;
        let mask = sigmask(self.pid)?;
        let mut xstate = xstate(self.pid)?;
        let frame = self.write_frame(&restored(&self.saved, true), mask, &mut xstate)?;
        let mut r = self.saved;
        r.orig_rax = u64::MAX; // no restart logic on resume
        r.rip = gadget;
        r.rsp = frame;
        ptrace::setregs(self.pid, r).map_err(|e| failed("PTRACE_SETREGS", e))?;
        self.fallback = Some(Fallback { gadget, frame });
        Ok(())
    }

    /// Writes an rt_sigframe that restores `regs`, `mask` and the FPU
    /// state `xstate` (as PTRACE_GETREGSET gives it) below the red zone of
    /// the stack; the %rsp rt_sigreturn wants.
    fn write_frame(
        &self,
        regs: &libc::user_regs_struct,
        mask: u64,
        xstate: &mut [u8],
    ) -> Result<u64> {
        const FX_SW: usize = 464;
        const MAGIC1: u32 = 0x4650_5853;
        const MAGIC2: u32 = 0x4650_5845;
        let xlen = xstate.len();
        // The kernel's sw_reserved words say which features and how much
        // state the frame holds: XCR0 is word 0 of what ptrace gives.
        let xcr0 = u64::from_ne_bytes(xstate[FX_SW..FX_SW + 8].try_into().unwrap());
        let mut sw = Vec::with_capacity(48);
        sw.extend_from_slice(&MAGIC1.to_ne_bytes());
        sw.extend_from_slice(&((xlen + 4) as u32).to_ne_bytes()); // extended_size
        sw.extend_from_slice(&xcr0.to_ne_bytes()); // xfeatures
        sw.extend_from_slice(&(xlen as u32).to_ne_bytes()); // xstate_size
        sw.resize(48, 0);
        xstate[FX_SW..FX_SW + 48].copy_from_slice(&sw);
        let top = regs.rsp.wrapping_sub(128); // the red zone stays whole
        let fpstate = (top - xlen as u64 - 4) & !63;
        let mut fp = xstate.to_vec();
        fp.extend_from_slice(&MAGIC2.to_ne_bytes());
        // rt_sigframe: pretcode, ucontext (uc_flags, uc_link, uc_stack,
        // sigcontext, sigmask), siginfo.
        const FRAME: u64 = 8 + 304 + 128;
        let base = (fpstate - FRAME) & !15;
        let mut f: Vec<u8> = Vec::with_capacity(FRAME as usize);
        let mut q = |v: u64| f.extend_from_slice(&v.to_ne_bytes());
        q(0); // pretcode
        const UC_FP_XSTATE: u64 = 1;
        const UC_SIGCONTEXT_SS: u64 = 2;
        const UC_STRICT_RESTORE_SS: u64 = 4;
        q(UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
        q(0); // uc_link
              // uc_stack: flags 3 is neither 0, SS_ONSTACK nor SS_DISABLE, so
              // sigaltstack() refuses it and the alternate stack stays as it is.
        q(0);
        q(3);
        q(0);
        for v in [
            regs.r8,
            regs.r9,
            regs.r10,
            regs.r11,
            regs.r12,
            regs.r13,
            regs.r14,
            regs.r15,
            regs.rdi,
            regs.rsi,
            regs.rbp,
            regs.rbx,
            regs.rdx,
            regs.rax,
            regs.rcx,
            regs.rsp,
            regs.rip,
            regs.eflags,
        ] {
            q(v);
        }
        q((regs.cs & 0xffff)
            | (regs.gs & 0xffff) << 16
            | (regs.fs & 0xffff) << 32
            | (regs.ss & 0xffff) << 48);
        q(0); // err
        q(0); // trapno
        q(mask); // oldmask
        q(0); // cr2
        q(fpstate);
        for _ in 0..8 {
            q(0); // reserved1
        }
        q(mask); // uc_sigmask
        f.resize(FRAME as usize, 0); // siginfo
        self.poke(fpstate, &fp)?;
        self.poke(base, &f)?;
        Ok(base + 8)
    }

    /// Runs one system call in the tracee; its raw return value.
    fn syscall(&mut self, nr: i64, args: [u64; 6]) -> Result<i64> {
        if let Some(fb) = self.fallback {
            return self.syscall_via(fb, nr, args);
        }
        let mut r = self.saved;
        r.rax = nr as u64;
        r.orig_rax = u64::MAX; // not in a syscall: no restart logic
        set_args(&mut r, args);
        r.rip = self.syscall_at;
        ptrace::setregs(self.pid, r).map_err(|e| failed("PTRACE_SETREGS", e))?;
        // Entry stop, then exit stop.
        for _ in 0..2 {
            self.run_to_syscall_stop()?;
        }
        self.result()
    }

    /// Runs one system call through the gadget: the tracee enters
    /// rt_sigreturn, which is swapped for `nr` at the entry stop, and
    /// returns to the gadget again.
    fn syscall_via(&mut self, fb: Fallback, nr: i64, args: [u64; 6]) -> Result<i64> {
        self.run_to_syscall_stop()?;
        let mut r = ptrace::getregs(self.pid).map_err(|e| failed("PTRACE_GETREGS", e))?;
        if r.orig_rax != libc::SYS_rt_sigreturn as u64 {
            return Err(cannot(format!(
                "the process entered system call {} instead of rt_sigreturn",
                r.orig_rax as i64
            )));
        }
        r.orig_rax = nr as u64;
        set_args(&mut r, args);
        r.rip = fb.gadget;
        r.rsp = fb.frame;
        ptrace::setregs(self.pid, r).map_err(|e| failed("PTRACE_SETREGS", e))?;
        self.run_to_syscall_stop()?;
        self.result()
    }

    /// The return value at a syscall-exit stop. A call a signal interrupted
    /// with a restart code would be restarted by the kernel on resume, at
    /// the instruction before %rip: it is made to return EINTR instead.
    fn result(&mut self) -> Result<i64> {
        let mut after = ptrace::getregs(self.pid).map_err(|e| failed("PTRACE_GETREGS", e))?;
        let rax = after.rax as i64;
        if (-516..=-512).contains(&rax) {
            after.rax = -(libc::EINTR as i64) as u64;
            after.orig_rax = u64::MAX;
            ptrace::setregs(self.pid, after).map_err(|e| failed("PTRACE_SETREGS", e))?;
            return Ok(-(libc::EINTR as i64));
        }
        Ok(rax)
    }

    /// Resumes the tracee up to its next syscall-entry or -exit stop,
    /// holding the signals that arrive meanwhile.
    fn run_to_syscall_stop(&mut self) -> Result<()> {
        loop {
            ptrace::syscall(self.pid, None).map_err(|e| failed("PTRACE_SYSCALL", e))?;
            let st = wait_stop(self.pid)?;
            let s = libc::WSTOPSIG(st);
            if s == SYSCALL_TRAP {
                return Ok(());
            }
            if st >> 16 != 0 {
                // An event stop (a new interrupt or group stop):
                // resume without a signal.
                continue;
            }
            // A signal arrived: hold it, resend after detaching.
            self.pending.push(s);
        }
    }

    fn sys(&mut self, nr: i64, args: [u64; 6], what: &str) -> Result<u64> {
        let r = self.syscall(nr, args)?;
        if (-4095..0).contains(&r) {
            Err(os_failed(
                &format!("{what} failed in the process"),
                &io::Error::from_raw_os_error(-r as i32),
            ))
        } else {
            Ok(r as u64)
        }
    }

    fn poke(&self, addr: u64, bytes: &[u8]) -> Result<()> {
        self.mem
            .write_all_at(bytes, addr)
            .map_err(|e| os_failed("writing its memory", &e))
    }

    fn peek(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut b = vec![0; len];
        self.mem
            .read_exact_at(&mut b, addr)
            .map_err(|e| os_failed("reading its memory", &e))?;
        Ok(b)
    }

    /// Puts the registers back as the kernel would have left them after
    /// a stop and continue without a handler: an interrupted restartable
    /// system call is re-entered, and detaches.
    fn restore_and_detach(self) -> Result<()> {
        let r = restored(&self.saved, false);
        let set = ptrace::setregs(self.pid, r);
        let det = ptrace::detach(self.pid, None);
        for &s in &self.pending {
            // By number, as in `deliver`: it may be a real-time signal.
            // SAFETY: kill dereferences nothing.
            unsafe { libc::kill(self.pid.as_raw(), s) };
        }
        set.map_err(|e| failed("restoring its registers", e))?;
        det.map_err(|e| failed("PTRACE_DETACH", e))?;
        Ok(())
    }
}

/// What was changed so far, to undo on failure.
#[derive(Default)]
struct Changes {
    scratch: Option<u64>,
    sigaction: bool,
    /// (fd, backup fd in the tracee)
    moved: Vec<(i32, u64)>,
    temp_fds: Vec<u64>,
}

/// Protects `pid`: SIGHUP ignored; `outs` (its terminal stdout/stderr)
/// moved to the job `log`, a terminal stdin to /dev/null. What it did, in
/// words; on failure, why, after undoing what was done.
pub(super) fn protect(
    pid: i32,
    outs: &[(i32, String)],
    stdin_tty: Option<&str>,
    log: Option<&JobLog>,
) -> Result<String> {
    let _held = HeldSignals::block();
    let mut t = Tracee::attach(pid)?;
    pause_point("attached");
    // Without the fallback frame, the injection still runs; only a
    // SIGKILL of this process in the middle would hurt the target.
    // (`HUPSAFE_TEST_RESCUE_FALLBACK=off`: the tests' control.)
    if std::env::var_os("HUPSAFE_TEST_RESCUE_FALLBACK").is_none_or(|v| v != "off") {
        let _ = t.arm_fallback();
    }
    let mut ch = Changes::default();
    let result = inject(&mut t, &mut ch, outs, stdin_tty, log);
    match result {
        Ok(line) => {
            // Drop the backups and the scratch page; failures here
            // change nothing the program sees beyond a spare fd.
            for (_, b) in &ch.moved {
                let _ = t.syscall(libc::SYS_close, [*b, 0, 0, 0, 0, 0]);
            }
            if let Some(a) = ch.scratch {
                let _ = t.syscall(libc::SYS_munmap, [a, PAGE, 0, 0, 0, 0]);
            }
            t.restore_and_detach()?;
            Ok(line)
        }
        Err(why) => {
            let undo = undo(&mut t, &ch);
            let det = t.restore_and_detach();
            let mut msg = why.message;
            match (undo, det) {
                (Ok(()), Ok(())) => msg.push_str("; nothing was changed"),
                (Err(u), _) => msg.push_str(&format!("; undoing failed too: {u}")),
                (_, Err(d)) => msg.push_str(&format!("; {d}")),
            }
            Err(cannot(msg))
        }
    }
}

fn undo(t: &mut Tracee, ch: &Changes) -> Result<()> {
    let mut first_err = None;
    let mut note = |r: Result<u64>| {
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    };
    for &(fd, b) in ch.moved.iter().rev() {
        note(t.sys(libc::SYS_dup2, [b, fd as u64, 0, 0, 0, 0], "dup2"));
        note(t.sys(libc::SYS_close, [b, 0, 0, 0, 0, 0], "close"));
    }
    for &fd in &ch.temp_fds {
        note(t.sys(libc::SYS_close, [fd, 0, 0, 0, 0, 0], "close"));
    }
    if let Some(a) = ch.scratch {
        if ch.sigaction {
            note(t.sys(
                libc::SYS_rt_sigaction,
                [libc::SIGHUP as u64, a + OLDACT_OFF, 0, 8, 0, 0],
                "rt_sigaction",
            ));
        }
        note(t.sys(libc::SYS_munmap, [a, PAGE, 0, 0, 0, 0], "munmap"));
    }
    match first_err {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

fn inject(
    t: &mut Tracee,
    ch: &mut Changes,
    outs: &[(i32, String)],
    stdin_tty: Option<&str>,
    log: Option<&JobLog>,
) -> Result<String> {
    let a = t.sys(
        libc::SYS_mmap,
        [
            0,
            PAGE,
            (libc::PROT_READ | libc::PROT_WRITE) as u64,
            (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64,
            u64::MAX,
            0,
        ],
        "mmap of a scratch page",
    )?;
    ch.scratch = Some(a);
    pause_point("after-mmap");
    // struct kernel_sigaction { handler, flags, restorer, mask }
    let mut act = Vec::with_capacity(32);
    act.extend_from_slice(&(libc::SIG_IGN as u64).to_ne_bytes());
    act.extend_from_slice(&[0u8; 24]);
    t.poke(a + ACT_OFF, &act)?;
    t.poke(a + DEVNULL_OFF, b"/dev/null\0")?;
    t.sys(
        libc::SYS_rt_sigaction,
        [libc::SIGHUP as u64, a + ACT_OFF, a + OLDACT_OFF, 8, 0, 0],
        "rt_sigaction(SIGHUP, SIG_IGN)",
    )?;
    ch.sigaction = true;
    pause_point("mid-injection");
    let old = t.peek(a + OLDACT_OFF, 8)?;
    let old_handler = u64::from_ne_bytes(old[..8].try_into().unwrap());
    let mut said = match old_handler {
        0 => "SIGHUP was default (terminate), now ignored".to_string(),
        1 => "SIGHUP was already ignored".to_string(),
        _ => "SIGHUP had a handler, now ignored (so `kill -HUP` no longer reaches it: \
              a reload by SIGHUP is off)"
            .to_string(),
    };
    let open_at =
        |t: &mut Tracee, ch: &mut Changes, off: u64, flags: i32, what: &str| -> Result<u64> {
            let fd = t.sys(
                libc::SYS_openat,
                [libc::AT_FDCWD as u64, a + off, flags as u64, 0o600, 0, 0],
                what,
            )?;
            ch.temp_fds.push(fd);
            Ok(fd)
        };
    let mut moves: Vec<(i32, u64)> = Vec::new();
    if let (false, Some(JobLog { id, path, owner })) = (outs.is_empty(), log) {
        let mut p = path.as_bytes().to_vec();
        p.push(0);
        if p.len() as u64 > PAGE - PATH_OFF {
            return Err(cannot(format!("the log path '{path}' is too long")));
        }
        t.poke(a + PATH_OFF, &p)?;
        let fd = open_at(
            t,
            ch,
            PATH_OFF,
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT,
            "opening the log",
        )?;
        for (n, _) in outs {
            moves.push((*n, fd));
        }
        let names: Vec<&str> = outs
            .iter()
            .map(|(n, _)| if *n == 1 { "stdout" } else { "stderr" })
            .collect();
        let whose = match owner {
            Some((uid, _)) => format!(
                ", a job of uid {uid}, the process's owner: `hupsafe logs -f {id}` as that user"
            ),
            None => format!(" (`hupsafe logs -f {id}`)"),
        };
        said.push_str(&format!(
            "; {} ({}) now go to job {id}'s log {path}{whose}",
            names.join(" and "),
            outs[0].1
        ));
    }
    if let Some(tty) = stdin_tty {
        let fd = open_at(t, ch, DEVNULL_OFF, libc::O_RDONLY, "opening /dev/null")?;
        moves.push((0, fd));
        said.push_str(&format!(
            "; note: stdin ({tty}) is now /dev/null, its reads see end of file"
        ));
    }
    for (target, fd) in moves {
        let backup = t.sys(
            libc::SYS_fcntl,
            [target as u64, libc::F_DUPFD_CLOEXEC as u64, 10, 0, 0, 0],
            "saving a descriptor",
        )?;
        ch.moved.push((target, backup));
        t.sys(
            libc::SYS_dup2,
            [fd, target as u64, 0, 0, 0, 0],
            "dup2 onto a standard descriptor",
        )?;
    }
    for fd in std::mem::take(&mut ch.temp_fds) {
        if let Err(e) = t.sys(libc::SYS_close, [fd, 0, 0, 0, 0, 0], "close") {
            ch.temp_fds.push(fd);
            return Err(e);
        }
    }
    Ok(said)
}

/// The six argument registers of an x86_64 system call.
fn set_args(r: &mut libc::user_regs_struct, args: [u64; 6]) {
    r.rdi = args[0];
    r.rsi = args[1];
    r.rdx = args[2];
    r.r10 = args[3];
    r.r8 = args[4];
    r.r9 = args[5];
}
