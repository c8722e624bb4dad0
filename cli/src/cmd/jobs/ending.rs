//! How a job ended, as `wait` and `logs -f` report it: the status a shell
//! would give (the exit code, 128+N for signal N), or 127 with the reason
//! when it will never be known (bash's `wait` for a pid it does not know).

use crate::error::{EXIT_CANNOT_RUN, EXIT_NOT_FOUND};
use crate::registry::{Job, Status};

/// A job that is no longer live: its status, and what to say about it.
pub struct End {
    pub status: i32,
    /// Why the status is not the program's own (lost, failed, gone).
    pub why: Option<String>,
    /// What `ps` says of it (`exited 3`, `killed by SIGTERM`, `lost`).
    pub described: String,
}

/// How `job` ended, or `None` while it is live (starting, running,
/// stopped).
pub fn end_of(job: &Job) -> Option<End> {
    let r = match job.read_record() {
        Ok(r) => r,
        Err(why) => {
            return Some(End {
                status: EXIT_NOT_FOUND,
                why: Some(format!(
                    "job {}: {why} (forgotten meanwhile?): its status is unknown",
                    job.id
                )),
                described: "gone".into(),
            })
        }
    };
    let status = r.status();
    if status.is_live() {
        return None;
    }
    let described = r.describe();
    let end = match status {
        Status::Lost => End {
            status: EXIT_NOT_FOUND,
            why: Some(match r.orphan() {
                Some(pid) => format!(
                    "job {} is lost: its supervisor is gone, so its status will never be \
                     known (its program, pid {pid}, still runs; `hupsafe stop {}` ends it)",
                    job.id, job.id
                ),
                None => format!(
                    "job {} is lost: its supervisor is gone, so its status will never be known",
                    job.id
                ),
            }),
            described,
        },
        Status::Failed => End {
            status: EXIT_CANNOT_RUN,
            why: Some(format!(
                "job {} failed to start: {}",
                job.id,
                crate::sys::words::visible(r.error.as_deref().unwrap_or("no reason recorded"))
            )),
            described,
        },
        _ => End {
            status: r.shell_status().unwrap_or(EXIT_NOT_FOUND),
            why: None,
            described,
        },
    };
    Some(end)
}
