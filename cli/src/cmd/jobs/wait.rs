//! `hupsafe wait [--any] [ID...]`: blocks until jobs end, and exits with
//! the status a shell's `wait` would give: the job's exit code, or 128+N
//! for signal N; for several, the last one's; with `--any`, the first to
//! end. A lost job's status will never be known: 127, as bash's `wait`
//! for a pid it does not know.
//!
//! The records are polled (every [`EVERY`]) rather than watched: a record
//! is replaced by a rename, its writer may die without a word (lost is
//! judged by pid and start time), and `Job::read_record` already reads
//! again a record whose writer looks gone.

use std::time::Duration;

use super::ending::{end_of, End};
use crate::args::WaitArgs;
use crate::error::{write_stdout, Error, Result, EXIT_BAD_INPUT};
use crate::registry::{find_job, inside, Job, Registry};

/// How often the records are read.
const EVERY: Duration = Duration::from_millis(100);

pub fn run(args: &WaitArgs) -> Result<()> {
    let jobs = if args.ids.is_empty() {
        running_jobs()
    } else {
        given_jobs(&args.ids)?
    };
    if jobs.is_empty() {
        return Ok(());
    }
    let status = if args.any {
        let (job, end) = first_to_end(&jobs);
        report(&end);
        write_stdout(format!("job {}: {}\n", job.id, end.described).as_bytes())?;
        end.status
    } else {
        let mut last = 0;
        for job in &jobs {
            let end = until_end(job);
            report(&end);
            last = end.status;
        }
        last
    };
    // The status is the job's, not hupsafe's: nothing more to say.
    std::process::exit(status)
}

/// The jobs named on the command line, in order, each once; an unknown or
/// ambiguous id fails before any waiting.
fn given_jobs(ids: &[String]) -> Result<Vec<Job>> {
    let mut jobs: Vec<Job> = Vec::new();
    for id in ids {
        let (registry, job) = find_job(id)?;
        if inside(&registry, &job) {
            return Err(Error::new(
                EXIT_BAD_INPUT,
                format!(
                    "cannot wait for job {} from inside it: it would never end",
                    job.id
                ),
            ));
        }
        if !jobs.iter().any(|j| j.id == job.id) {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// Every live job of yours, in id order, except the ones this runs inside.
fn running_jobs() -> Vec<Job> {
    let Ok(Some(registry)) = Registry::open() else {
        return Vec::new();
    };
    let (jobs, _) = registry.list();
    jobs.into_iter()
        .filter(|j| end_of(j).is_none() && !inside(&registry, j))
        .collect()
}

fn until_end(job: &Job) -> End {
    loop {
        if let Some(end) = end_of(job) {
            return end;
        }
        std::thread::sleep(EVERY);
    }
}

fn first_to_end(jobs: &[Job]) -> (&Job, End) {
    loop {
        for job in jobs {
            if let Some(end) = end_of(job) {
                return (job, end);
            }
        }
        std::thread::sleep(EVERY);
    }
}

fn report(end: &End) {
    if let Some(why) = &end.why {
        say!("{why}");
    }
}
