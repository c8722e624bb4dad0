//! `hupsafe stop ID` and `hupsafe signal SIG ID`: signals for a job's
//! process group (the program and whatever it started without moving it
//! elsewhere), as keys typed at its terminal would send them. The program
//! is named by pid and start time, so a recycled pid is never signalled.
//!
//! A group is addressed only when the job owns one: when its program leads
//! it (a relayed program always does: it leads the pty's session). A
//! rescued program may be a member of someone else's group (a pipeline,
//! `sh -c 'a; b'`): then the program alone is signalled, through a pidfd
//! opened before its start time is checked, so the signal reaches that
//! very process or nothing. Pid 1 (and anything <= 1: `kill(-1)` is every
//! process the caller may signal) is never signalled.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT, EXIT_NO_JOB};
use crate::registry::{find_job, Job, ProcId, Record, Status};
use crate::sys::{proc, signame};

use crate::args::{SignalArgs, StopArgs};

/// How long `stop` waits for the final record after SIGKILL.
const AFTER_KILL: Duration = Duration::from_secs(5);

pub fn stop(args: &StopArgs) -> Result<()> {
    if !(args.grace.is_finite() && args.grace >= 0.0) {
        return Err(Error::new(
            EXIT_BAD_INPUT,
            format!("--grace {} is not a number of seconds", args.grace),
        ));
    }
    let (_, job) = find_job(&args.id)?;
    let program = live_program(&job)?;
    let target = target(&job, program)?;
    send(&job, program, libc::SIGTERM)?;
    // A stopped program must run to act on SIGTERM.
    let _ = send(&job, program, libc::SIGCONT);
    let grace = Duration::from_secs_f64(args.grace);
    let record = match wait_for_end(&job, program, grace) {
        Some(r) => r,
        None => {
            send(&job, program, libc::SIGKILL)?;
            wait_for_end(&job, program, AFTER_KILL).ok_or_else(|| {
                Error::failure(format!(
                    "job {} ({target}) is still there after SIGKILL",
                    job.id
                ))
            })?
        }
    };
    crate::error::write_stdout(format!("job {}: {}\n", job.id, describe(&record)).as_bytes())
}

pub fn signal(args: &SignalArgs) -> Result<()> {
    let sig = signame::parse(args.signal.trim_start_matches('-')).ok_or_else(|| {
        Error::new(
            EXIT_BAD_INPUT,
            format!(
                "'{}' is not a signal (try TERM, INT, KILL, USR1, or a number)",
                args.signal
            ),
        )
    })?;
    let (_, job) = find_job(&args.id)?;
    let program = live_program(&job)?;
    target(&job, program)?;
    send(&job, program, sig)
}

/// The job's program, if it is still running.
fn live_program(job: &Job) -> Result<ProcId> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = job
            .read_record()
            .map_err(|why| Error::new(EXIT_NO_JOB, format!("job {}: {why}", job.id)))?;
        let status = r.status();
        match (status, r.program) {
            (Status::Starting, _) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            (_, Some(p)) if p.is_alive() && (status.is_live() || status == Status::Lost) => {
                return Ok(p)
            }
            _ => {}
        }
        let what = match status {
            s if s.is_live() => "has no running program".to_string(),
            Status::Lost => "is lost, and its program is gone".to_string(),
            s => format!("has already finished ({s})"),
        };
        return Err(Error::new(EXIT_NO_JOB, format!("job {} {what}", job.id)));
    }
}

/// What a signal for the job reaches, in words ("process group 123" or
/// "pid 123"); refuses pid 1 and below.
fn target(job: &Job, program: ProcId) -> Result<String> {
    if program.pid <= 1 {
        return Err(Error::new(
            EXIT_NO_JOB,
            format!(
                "job {}'s program is pid {}: hupsafe never signals pid 1 or below (pid 1 is the \
             init of its pid namespace, and a signal to process group 1 or -1 reaches every \
             process there); end it from outside its namespace, by the pid it has there",
                job.id, program.pid
            ),
        ));
    }
    Ok(match leads_group(program) {
        Some(true) => format!("process group {}", program.pid),
        _ => format!("pid {}", program.pid),
    })
}

/// Whether `program` (alive, with its recorded start time) leads its
/// process group; None once it is gone.
fn leads_group(program: ProcId) -> Option<bool> {
    let st = proc::stat(program.pid).ok()?;
    (st.start == program.start && !st.is_zombie()).then_some(st.pgrp == program.pid)
}

/// Sends `sig` to the job: its program's process group if the program
/// leads one, else the program alone. Nothing if the program is gone.
fn send(job: &Job, program: ProcId, sig: i32) -> Result<()> {
    if program.pid <= 1 {
        return Ok(());
    }
    // Opened before the check: if the check finds our process, the pidfd
    // is that process (a pidfd never follows a reused pid).
    let pidfd = Pidfd::open(program.pid);
    let r = match leads_group(program) {
        None => return Ok(()),
        // SAFETY: kill(2) to the group the program leads: it is alive
        // with its recorded start time and its pid is the group's id
        // (> 1, checked above).
        Some(true) => unsafe { libc::kill(-program.pid, sig) },
        Some(false) => match &pidfd {
            Ok(fd) => fd.send(sig),
            // No pidfds (Linux < 5.3): by pid, just checked.
            // SAFETY: kill(2) to a pid > 1 dereferences nothing.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => unsafe {
                libc::kill(program.pid, sig)
            },
            Err(_) => return Ok(()),
        },
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(Error::failure(format!(
                "cannot send {} to job {}: {}",
                signame::name(sig),
                job.id,
                os_words(&e)
            )));
        }
    }
    Ok(())
}

/// A pidfd (pidfd_open(2)): names one process for good.
struct Pidfd(OwnedFd);

impl Pidfd {
    fn open(pid: i32) -> std::io::Result<Pidfd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor to us alone.
        Ok(Pidfd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// pidfd_send_signal(2); 0 or -1 with errno set, as kill(2).
    fn send(&self, sig: i32) -> i32 {
        // SAFETY: a live pidfd, a signal number, no siginfo, no flags.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            ) as i32
        }
    }
}

/// Waits until the job's record is final (or, with its supervisor lost,
/// the program is gone).
fn wait_for_end(job: &Job, program: ProcId, within: Duration) -> Option<Record> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(r) = job.read_record() {
            let status = r.status();
            if !status.is_live() && (status != Status::Lost || !program.is_alive()) {
                return Some(r);
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn describe(r: &Record) -> String {
    r.status().to_string()
}
