//! `hupsafe rescue PID... [--tree]`: protect a process that is already
//! running unprotected. With ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT on
//! one thread), system calls are injected into the running process:
//! `rt_sigaction(SIGHUP, SIG_IGN)`, and when its stdout/stderr are a
//! terminal, a per-job log (registered like a relayed job, so `hupsafe ps`
//! and `hupsafe logs -f` show it) is opened and dup2'd onto them; a
//! terminal stdin becomes /dev/null. The registers are then restored
//! exactly, a system call it was blocked in restarted as the kernel would
//! after a stop/continue, and the process detached. Anything that fails
//! half-way is undone before the report.
//!
//! This file is the verb: the pids, the job log, the report. Which
//! processes it acts on is [`target`]; the injection is [`inject`].

use crate::args::RescueArgs;
use crate::error::{Error, Result, EXIT_BAD_INPUT, EXIT_SOME_FAILED};

#[cfg(target_arch = "x86_64")]
mod inject;
#[cfg(target_arch = "x86_64")]
mod target;

/// Why one process could not be rescued; the verb gathers these into one
/// report and exits with [`EXIT_SOME_FAILED`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn cannot(why: impl Into<String>) -> Error {
    Error::new(EXIT_SOME_FAILED, why)
}

/// The log of the job a rescued tree's terminal output goes to.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct JobLog {
    id: String,
    path: String,
}

pub fn run(args: &RescueArgs) -> Result<()> {
    let mut pids = Vec::new();
    for p in &args.pids {
        match p.to_str().and_then(|s| s.parse::<i32>().ok()) {
            Some(n) if n > 0 => pids.push(n),
            _ => {
                return Err(Error::new(
                    EXIT_BAD_INPUT,
                    format!(
                        "rescue: '{}' is not a process id (a positive number)",
                        p.to_string_lossy()
                    ),
                ))
            }
        }
    }
    imp::run(&pids, args.tree)
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::*;
    pub fn run(_pids: &[i32], _tree: bool) -> Result<()> {
        Err(Error::new(
            EXIT_SOME_FAILED,
            format!(
                "rescue: only x86_64 is supported, this is {}; nothing was changed \
                 (the shell-side `hupsafe rescue %1` still disowns a job)",
                std::env::consts::ARCH
            ),
        ))
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::fs;
    use std::path::Path;

    use super::target::{comm, refusal, targets, terminal_of};
    use super::*;
    use crate::error::{os_words, write_stdout};
    use crate::registry::{ProcId, Record, Registry, State};
    use crate::sys::proc;

    pub fn run(pids: &[i32], tree: bool) -> Result<()> {
        let mut failed = 0;
        let mut report = String::new();
        let mut errors: Vec<String> = Vec::new();
        let mut done: Vec<i32> = Vec::new();
        for &pid in pids {
            if let Err(why) = refusal(pid) {
                errors.push(format!("rescue: cannot rescue {pid}: {why}"));
                failed += 1;
                continue;
            }
            let mut log: Option<JobLog> = None;
            let mut log_used = false;
            for p in targets(pid, tree) {
                if done.contains(&p) {
                    continue;
                }
                done.push(p);
                if p != pid {
                    if let Err(why) = refusal(p) {
                        errors.push(format!("rescue: cannot rescue {p}: {why}"));
                        failed += 1;
                        continue;
                    }
                }
                match rescue_one(p, pid, &mut log) {
                    Ok(line) => {
                        log_used |= line.contains("'s log ");
                        report.push_str(&line)
                    }
                    Err(why) => {
                        errors.push(format!("rescue: cannot rescue {p} ({}): {why}", comm(p)));
                        failed += 1;
                    }
                }
            }
            // A job nobody writes to is not a job: leave no trace of it.
            if let (Some(JobLog { path, .. }), false) = (&log, log_used) {
                if let Some(dir) = Path::new(path).parent() {
                    let _ = fs::remove_dir_all(dir);
                }
            }
        }
        write_stdout(report.as_bytes())?;
        if failed == 0 {
            Ok(())
        } else {
            Err(Error::many(EXIT_SOME_FAILED, &errors))
        }
    }

    /// The job log for the tree of `root`, registered on first use.
    fn job_log(root: i32, tty: &str) -> Result<JobLog> {
        let registry = Registry::create()?;
        let job = registry.new_job()?;
        let command = proc::cmdline(root).unwrap_or_default();
        let mut r = Record::new(&job.id, &command);
        if let Ok(cwd) = proc::cwd(root) {
            r.cwd = cwd.to_string_lossy().into_owned();
        }
        // The rescued program writes its own log; nobody will write a
        // final record, so `ps` says "lost" once it is gone.
        r.writer = ProcId::of(root);
        r.program = ProcId::of(root);
        r.state = State::Running;
        r.tty = Some(tty.to_string());
        drop(job.create_log()?);
        job.write_record(&r)
            .map_err(|e| cannot(format!("cannot write the job record: {}", os_words(&e))))?;
        Ok(JobLog {
            id: job.id.clone(),
            path: crate::sys::trusted::shown(&job.log_path())
                .to_string_lossy()
                .into_owned(),
        })
    }

    /// Rescues `pid` of the tree of `root`, whose terminal output goes to
    /// `log` (registered here on first need); its line of the report.
    fn rescue_one(pid: i32, root: i32, log: &mut Option<JobLog>) -> Result<String> {
        let outs: Vec<(i32, String)> = [1, 2]
            .iter()
            .filter_map(|&fd| terminal_of(pid, fd).map(|t| (fd, t)))
            .collect();
        let stdin_tty = terminal_of(pid, 0);
        if !outs.is_empty() && log.is_none() {
            *log = Some(job_log(root, &outs[0].1)?);
        }
        let mut line = super::inject::protect(pid, &outs, stdin_tty.as_deref(), log.as_ref())?;
        line.insert_str(0, &format!("hupsafe: rescued {pid} ({}): ", comm(pid)));
        line.push('\n');
        Ok(line)
    }
}
