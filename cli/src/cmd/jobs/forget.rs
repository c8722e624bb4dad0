//! `hupsafe forget ID...` and `hupsafe gc`: remove finished jobs' records
//! and logs. Live jobs are never removed.

use crate::error::{os_words, Error, Result, EXIT_NO_JOB};
use crate::registry::{find_job, Job, Registry};
use crate::sys::words::visible;

use crate::args::{ForgetArgs, GcArgs};

pub fn forget(args: &ForgetArgs) -> Result<()> {
    let mut first_error: Option<Error> = None;
    for id in &args.ids {
        let outcome = find_job(id).and_then(|(_, job)| forget_one(&job, true));
        if let Err(e) = outcome {
            say!("{}", visible(&e.message));
            first_error.get_or_insert(Error::new(e.status, String::new()));
        }
    }
    match first_error {
        // Already printed: exit with the status, say nothing more.
        Some(e) => std::process::exit(e.status),
        None => Ok(()),
    }
}

/// Removes a job unless it is live; a job whose record cannot be read is
/// removed only when asked by id (`forget`), never by `gc`.
fn forget_one(job: &Job, by_id: bool) -> Result<()> {
    match job.read_record() {
        Ok(r) if r.status().is_live() => {
            return Err(Error::new(
                EXIT_NO_JOB,
                format!(
                    "job {id} is {}; stop it first: hupsafe stop {id}",
                    r.status(),
                    id = job.id
                ),
            ))
        }
        Ok(r) if r.orphan().is_some() => {
            return Err(Error::new(
                EXIT_NO_JOB,
                format!(
                    "job {id} is {}: its supervisor is gone, but not the program; \
                     stop it first: hupsafe stop {id}",
                    r.describe(),
                    id = job.id
                ),
            ))
        }
        Ok(_) => {}
        Err(why) if !by_id => {
            return Err(Error::new(
                EXIT_NO_JOB,
                format!("skipping job {}: {why}", job.id),
            ))
        }
        Err(_) => {}
    }
    job.remove().map_err(|e| {
        Error::failure(format!(
            "cannot remove '{}': {}",
            crate::sys::trusted::shown(&job.dir).display(),
            os_words(&e)
        ))
    })
}

pub fn gc(args: &GcArgs) -> Result<()> {
    let age = match &args.older_than {
        Some(a) => Some(crate::config::parse_age(a).map_err(|why| {
            Error::new(crate::error::EXIT_BAD_INPUT, format!("--older-than: {why}"))
        })?),
        None => None,
    };
    let Some(registry) = Registry::open()? else {
        return crate::error::write_stdout(b"removed 0 jobs\n");
    };
    if let Some(age) = age {
        let mut removed = 0;
        for job in registry.ended_before(age) {
            match forget_one(&job, false) {
                Ok(()) => removed += 1,
                Err(e) => say!("{}", visible(&e.message)),
            }
        }
        return crate::error::write_stdout(format!("removed {removed} jobs\n").as_bytes());
    }
    let jobs = registry.list_reporting();
    let mut removed = 0;
    for job in jobs {
        match job.read_record() {
            Ok(r) if r.status().is_live() || r.orphan().is_some() => {}
            Ok(_) => match forget_one(&job, false) {
                Ok(()) => removed += 1,
                Err(e) => {
                    say!("{}", visible(&e.message));
                }
            },
            // What a failed start left: nothing to keep.
            Err(_) if job.is_leftover() => match job.remove() {
                Ok(()) => removed += 1,
                Err(e) => say!(
                    "{}",
                    visible(&format!(
                        "cannot remove '{}': {}",
                        job.dir.display(),
                        os_words(&e)
                    ))
                ),
            },
            Err(why) => {
                say!("{}", visible(&format!("skipping job {}: {why}", job.id)));
            }
        }
    }
    crate::error::write_stdout(format!("removed {removed} jobs\n").as_bytes())
}
