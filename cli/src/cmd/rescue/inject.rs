//! The ptrace injector: seize one thread of a running process, save its
//! registers, run system calls inside it from a scratch page (ignore
//! SIGHUP, move its terminal stdout/stderr to the job log, stdin to
//! /dev/null), then restore the registers exactly and detach, undoing
//! what was done if a step fails.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

use super::{cannot, JobLog};
use crate::error::{os_words, Error, Result};
use crate::sys::proc;

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
    /// Signals that arrived while the process was ours, to resend.
    pending: Vec<i32>,
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
                pending: Vec::new(),
            }),
            Err(e) => {
                // Never leave it traced (DETACH works once it is in a stop).
                let _ = ptrace::detach(pid, None);
                Err(e)
            }
        }
    }

    /// Runs one system call in the tracee; its raw return value.
    fn syscall(&mut self, nr: i64, args: [u64; 6]) -> Result<i64> {
        let mut r = self.saved;
        r.rax = nr as u64;
        r.orig_rax = u64::MAX; // not in a syscall: no restart logic
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        r.rip = self.syscall_at;
        ptrace::setregs(self.pid, r).map_err(|e| failed("PTRACE_SETREGS", e))?;
        // Entry stop, then exit stop.
        for _ in 0..2 {
            loop {
                ptrace::syscall(self.pid, None).map_err(|e| failed("PTRACE_SYSCALL", e))?;
                let st = wait_stop(self.pid)?;
                let s = libc::WSTOPSIG(st);
                if s == SYSCALL_TRAP {
                    break;
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
        let after = ptrace::getregs(self.pid).map_err(|e| failed("PTRACE_GETREGS", e))?;
        Ok(after.rax as i64)
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
        let mut r = self.saved;
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
                ERESTART_RESTARTBLOCK => {
                    r.rax = libc::SYS_restart_syscall as u64;
                    r.rip -= 2;
                }
                _ => {}
            }
        }
        r.orig_rax = u64::MAX;
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

/// A `syscall` instruction in the tracee's executable memory.
fn find_syscall(pid: i32, mem: &File, regs: &libc::user_regs_struct) -> Result<u64> {
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
    for proc::CodeMapping {
        start: a, end: z, ..
    } in regions
    {
        let len = (z - a).min(64 << 20) as usize;
        let mut buf = vec![0u8; len];
        if mem.read_exact_at(&mut buf, a).is_err() {
            continue;
        }
        if let Some(i) = buf.windows(2).position(|w| w == [0x0f, 0x05]) {
            return Ok(a + i as u64);
        }
    }
    Err(cannot(
        "found no `syscall` instruction in its executable memory",
    ))
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
    let mut t = Tracee::attach(pid)?;
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
    let old = t.peek(a + OLDACT_OFF, 8)?;
    let old_handler = u64::from_ne_bytes(old[..8].try_into().unwrap());
    let mut said = match old_handler {
        0 => "SIGHUP was default (terminate), now ignored".to_string(),
        1 => "SIGHUP was already ignored".to_string(),
        _ => "SIGHUP had a handler, now ignored".to_string(),
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
    if let (false, Some(JobLog { id, path })) = (outs.is_empty(), log) {
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
        said.push_str(&format!(
            "; {} ({}) now go to job {id}'s log {path} (`hupsafe logs -f {id}`)",
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
