//! `hupsafe attach ID`: this terminal becomes the job's terminal again,
//! drawn as the job's screen stands (the supervisor's model of it; for a
//! protected line, which has none, the end of its log is replayed).

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT, EXIT_NO_JOB};
use crate::registry::{find_job, Job, Registry, Status};
use crate::relay::client;
use crate::sys::words::visible;

use crate::args::AttachArgs;

pub fn run(args: &AttachArgs) -> Result<()> {
    let (registry, job) = match &args.id {
        Some(id) => find_job(id)?,
        None => latest()?,
    };
    if crate::registry::inside(&registry, &job) {
        return Err(Error::new(
            EXIT_BAD_INPUT,
            format!(
                "cannot attach to job {} from inside it: its output would come \
                 back to it forever",
                job.id
            ),
        ));
    }
    check_live(&job)?;
    let conn = client::Connection::open(&job).map_err(|e| {
        // The job may have ended between the record and the connect.
        check_live(&job).err().unwrap_or_else(|| {
            Error::failure(format!(
                "cannot reach job {}'s supervisor at '{}': {}",
                job.id,
                crate::sys::trusted::shown(&job.sock_path()).display(),
                os_words(&e)
            ))
        })
    })?;
    let status = client::run(
        conn,
        client::Mode::Attach {
            replay: args.replay,
        },
    );
    if status == 0 {
        Ok(())
    } else {
        std::process::exit(status)
    }
}

/// `attach` without an id: your most recent running job, named on stderr.
fn latest() -> Result<(Registry, Job)> {
    let none = || {
        Error::new(
            EXIT_NO_JOB,
            "no running job to attach to (see: hupsafe ps; start one with hupsafe -d CMD)",
        )
    };
    let registry = Registry::open()?.ok_or_else(none)?;
    let (job, record) = registry.latest_live().ok_or_else(none)?;
    let name = record
        .name
        .as_deref()
        .map_or(String::new(), |n| format!(" '{n}'"));
    say!(
        "{}",
        visible(&format!(
            "attaching to job {}{name} ({})",
            job.id,
            record.shown_command()
        ))
    );
    Ok((registry, job))
}

/// Refuses jobs that have nothing to attach to.
fn check_live(job: &Job) -> Result<()> {
    let r = job.read_record().map_err(|why| {
        Error::new(
            EXIT_NO_JOB,
            format!("cannot attach to job {}: {why}", job.id),
        )
    })?;
    let status = r.status();
    if status.is_live() {
        return Ok(());
    }
    if let Some(pid) = r.orphan() {
        return Err(Error::new(
            EXIT_NO_JOB,
            format!(
                "cannot attach to job {id}: its supervisor is gone (killed?), so nothing \
                 relays its terminal any more, but its program (pid {pid}) still runs \
                 (its output since then is not logged). Stop it: hupsafe stop {id}; \
                 its output until then: hupsafe logs {id}",
                id = job.id
            ),
        ));
    }
    let what = match status {
        Status::Lost => "is lost (its supervisor is gone; the program could not be kept)".into(),
        other => format!("has finished ({other})"),
    };
    Err(Error::new(
        EXIT_NO_JOB,
        format!(
            "job {id} {what}; its output: hupsafe logs {id}",
            id = job.id
        ),
    ))
}
