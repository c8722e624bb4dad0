//! `hupsafe stop ID` and `hupsafe signal SIG ID`: signals for a job's
//! process group (the program and whatever it started without moving it
//! elsewhere), as keys typed at its terminal would send them. The program
//! is named by pid and start time, so a recycled pid is never signalled.

use std::time::{Duration, Instant};

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT, EXIT_NO_JOB};
use crate::registry::{find_job, Job, ProcId, Record, Status};
use crate::sys::signame;

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
                    "job {} (pid {}) is still there after SIGKILL",
                    job.id, program.pid
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

fn send(job: &Job, program: ProcId, sig: i32) -> Result<()> {
    if !program.is_alive() {
        return Ok(());
    }
    // SAFETY: kill(2) to the program's process group: the program leads
    // it, so the group's id is its pid, and it is alive with the recorded
    // start time.
    if unsafe { libc::kill(-program.pid, sig) } != 0 {
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
