//! `hupsafe rerun ID`: a new job with the command, working directory,
//! environment and options (run options, name, --notify, --on-exit,
//! --log-max) of an earlier one, which is kept. This half
//! finds what to run and puts this process where the job started (its
//! directory, its environment); `main` then runs the command exactly as
//! `hupsafe CMD` does (attached when stdout or stderr is a terminal).

use std::ffi::OsString;

use crate::args::RerunArgs;
use crate::error::{os_words, Error, Result, EXIT_NO_JOB};
use crate::registry::{find_job, Job, Record, RunOptions};
use crate::relay::{Choice, JobOptions};
use crate::sys::trusted::shown;
use crate::sys::words::visible;

/// What to run again, and how.
pub struct Again {
    /// The command and its arguments.
    pub argv: Vec<OsString>,
    pub quiet: bool,
    pub strict: bool,
    pub relay: Choice,
    /// The job's --log-max, --notify and --on-exit (what the command line
    /// of `rerun` gives is added by `main`).
    pub job: JobOptions,
    /// The job's name, when no live job holds it now.
    pub name: Option<String>,
}

/// Variables that describe where rerun is typed, not the job: kept from
/// this process rather than the saved environment.
const FROM_HERE: &[&str] = &["TERM", "HUPSAFE_JOB"];

/// Reads job `args.id`, moves into its directory and environment, and says
/// what to run; `quiet` (given with `rerun`) silences the notes as the
/// job's own --quiet does.
pub fn prepare(args: &RerunArgs, quiet: bool) -> Result<Again> {
    let (registry, job) = find_job(&args.id)?;
    let record = job
        .read_record()
        .map_err(|why| Error::new(EXIT_NO_JOB, format!("job {}: {why}", job.id)))?;
    let options = record.options.unwrap_or_default();
    let argv = argv_of(&job, &record)?;
    let words: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let shown_command = visible(&crate::sys::words::shell_line(&words));
    std::env::set_current_dir(&record.cwd).map_err(|e| {
        Error::new(
            EXIT_NO_JOB,
            format!(
                "cannot rerun job {} in '{}', where it started: {}. Fix: run it by hand \
                 from another directory: hupsafe {shown_command}",
                job.id,
                visible(&record.cwd),
                os_words(&e)
            ),
        )
    })?;
    let env = job.saved_env().map_err(|e| {
        Error::failure(format!(
            "cannot read job {}'s saved environment '{}': {}",
            job.id,
            shown(&job.env_path()).display(),
            os_words(&e)
        ))
    })?;
    let quiet = options.quiet || quiet;
    match env {
        Some(env) => replace_environment(env),
        None => {
            std::env::set_var("PWD", &record.cwd);
            if !quiet {
                say!(
                    "note: job {} has no saved environment (started by an older hupsafe, or \
                     rescued): rerunning it with the current environment",
                    job.id
                );
            }
        }
    }
    if record.options.is_none() && !quiet {
        say!(
            "note: job {} has no saved options: rerunning it without --strict or --quiet, \
             relayed when a terminal is there",
            job.id
        );
    }
    let name = record
        .name
        .clone()
        .filter(|name| match registry.name_holder(name) {
            None => true,
            Some(holder) => {
                if !quiet {
                    say!(
                        "{}",
                        visible(&format!(
                            "note: the name '{name}' is held by job {holder}, which is still \
                         running: the new job has none (give one with --name)"
                        ))
                    );
                }
                false
            }
        });
    // Checked again where it will run: the saved PATH may not find it.
    let on_exit = record.on_exit.clone().filter(|cmd| {
        match crate::relay::supervisor::ended::check_command(cmd) {
            Ok(()) => true,
            Err(why) => {
                if !quiet {
                    say!(
                        "{}",
                        visible(&format!(
                            "note: job {}'s --on-exit command is left out: {why}",
                            job.id
                        ))
                    );
                }
                false
            }
        }
    });
    if !quiet {
        say!(
            "rerunning job {} in {}: {shown_command}",
            job.id,
            visible(&record.cwd)
        );
    }
    Ok(Again {
        argv,
        quiet,
        strict: options.strict,
        relay: relay_of(options),
        job: JobOptions {
            log_max: record.log_max,
            notify: record.notify,
            on_exit,
        },
        name,
    })
}

fn relay_of(o: RunOptions) -> Choice {
    if o.relay_always {
        Choice::Always
    } else {
        Choice::Auto
    }
}

/// The saved argv; for a job without one, the record's command when it is
/// whole (not cut to the record's bound, valid UTF-8, not a line).
fn argv_of(job: &Job, record: &Record) -> Result<Vec<OsString>> {
    let saved = job.saved_argv().map_err(|e| {
        Error::failure(format!(
            "cannot read job {}'s saved command '{}': {}",
            job.id,
            shown(&job.argv_path()).display(),
            os_words(&e)
        ))
    })?;
    if let Some(argv) = saved {
        return Ok(argv);
    }
    let words = &record.command;
    let line = record.is_line() && !std::path::Path::new(&words[0]).exists();
    if line {
        return Err(Error::new(
            EXIT_NO_JOB,
            format!(
                "job {} is a command line protected by the shell integration, not a \
                 command hupsafe started: run it again from your shell's history",
                job.id
            ),
        ));
    }
    let cut = words.is_empty()
        || words.iter().any(|w| {
            w.contains('\u{FFFD}') || (w.starts_with("…(") && w.ends_with(" more words)"))
        });
    if cut {
        return Err(Error::new(
            EXIT_NO_JOB,
            format!(
                "job {} saved no command, and its record holds only a shortened or \
                 lossy copy (see `hupsafe ps`): run it again by hand",
                job.id
            ),
        ));
    }
    Ok(words.iter().map(OsString::from).collect())
}

/// Makes the saved environment this process's, except [`FROM_HERE`].
fn replace_environment(saved: Vec<(OsString, OsString)>) {
    let here: Vec<(&str, Option<OsString>)> = FROM_HERE
        .iter()
        .map(|&k| (k, std::env::var_os(k)))
        .collect();
    let current: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in current {
        std::env::remove_var(k);
    }
    for (k, v) in saved {
        // Names set_var would refuse (the file is ours, but a name with
        // `=` or NUL cannot come from it): skipped, never a panic.
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str());
        if bytes.is_empty() || bytes.contains(&b'=') || bytes.contains(&0) {
            continue;
        }
        std::env::set_var(k, v);
    }
    for (k, v) in here {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
}
