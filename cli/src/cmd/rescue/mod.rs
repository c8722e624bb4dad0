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
    /// The uid and gid it belongs to when not this hupsafe's (root
    /// rescuing another user's process).
    owner: Option<(u32, u32)>,
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
            if let (Some(JobLog { path, owner, .. }), false) = (&log, log_used) {
                if let Some(dir) = Path::new(path).parent() {
                    match owner {
                        None => drop(fs::remove_dir_all(dir)),
                        Some((uid, gid)) => drop(as_user(*uid, *gid, || {
                            fs::remove_dir_all(dir)
                                .map(|_| String::new())
                                .map_err(|e| Error::io("remove the unused job", &e))
                        })),
                    }
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

    /// The job log for the tree of `root`, registered on first use: in
    /// the state directory of the user the process runs as. Root rescuing
    /// another user's process registers the job as that user (see
    /// [`job_log_as`]): the process opens its log itself, and could not
    /// open one in root's private directory.
    fn job_log(root: i32, tty: &str) -> Result<JobLog> {
        match other_owner(root) {
            Some((uid, gid)) => job_log_as(root, tty, uid, gid),
            None => job_log_here(root, tty),
        }
    }

    /// The target's real uid and gid when this rescuer is root and the
    /// target runs as another user (all its uids that user's).
    fn other_owner(root: i32) -> Option<(u32, u32)> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let st = proc::status(root).ok()?;
        let uid = st.uid.0;
        (uid != 0 && st.uids().iter().all(|&u| u == uid)).then_some((uid, st.gid))
    }

    /// [`job_log_here`] as `uid`/`gid` (see [`as_user`]), with the state
    /// directory the target's environment names (its `HUPSAFE_STATE_DIR`,
    /// `XDG_STATE_HOME`, `HOME`, else the home directory in the user
    /// database): the job belongs to that user, as if they had rescued it
    /// themselves.
    fn job_log_as(root: i32, tty: &str, uid: u32, gid: u32) -> Result<JobLog> {
        let env: Vec<(&str, Option<std::ffi::OsString>)> =
            ["HUPSAFE_STATE_DIR", "XDG_STATE_HOME", "HOME"]
                .into_iter()
                .map(|k| (k, proc::environ_var(root, k).ok().flatten()))
                .collect();
        let home = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.dir.into_os_string());
        let text = as_user(uid, gid, || {
            std::env::remove_var("HUPSAFE_JOB");
            for (k, v) in &env {
                match v.as_ref().or(home.as_ref().filter(|_| *k == "HOME")) {
                    Some(v) => std::env::set_var(k, v),
                    None => std::env::remove_var(k),
                }
            }
            let j = job_log_here(root, tty)?;
            Ok(format!("{}\0{}", j.id, j.path))
        })?;
        let (id, path) = text
            .split_once('\0')
            .ok_or_else(|| cannot(format!("registering the job as uid {uid}: {text}")))?;
        Ok(JobLog {
            id: id.to_string(),
            path: path.to_string(),
            owner: Some((uid, gid)),
        })
    }

    /// Runs `f` in a child process that has become `uid`/`gid` (groups
    /// reduced to `gid`): what root does in another user's directories,
    /// it does with that user's rights, following none of their paths
    /// (or symlinks) as root. Its text, or its error's.
    fn as_user(uid: u32, gid: u32, f: impl FnOnce() -> Result<String>) -> Result<String> {
        use std::io::{Read, Write};
        let (mut rd, mut wr) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| Error::io("create a socket pair", &e))?;
        // SAFETY: this process has one thread; the child drops its
        // privileges, runs `f` and exits.
        match unsafe { nix::unistd::fork() } {
            Err(e) => Err(cannot(format!("cannot fork: {}", os_words(&e.into())))),
            Ok(nix::unistd::ForkResult::Child) => {
                drop(rd);
                let (u, g) = (
                    nix::unistd::Uid::from_raw(uid),
                    nix::unistd::Gid::from_raw(gid),
                );
                let dropped = nix::unistd::setgroups(&[g])
                    .and_then(|_| nix::unistd::setresgid(g, g, g))
                    .and_then(|_| nix::unistd::setresuid(u, u, u))
                    .map_err(|e| {
                        cannot(format!("cannot become uid {uid}: {}", os_words(&e.into())))
                    });
                let (code, text) = match dropped.and_then(|_| f()) {
                    Ok(t) => (0, t),
                    Err(e) => (1, e.message),
                };
                let _ = wr.write_all(text.as_bytes());
                // SAFETY: ends the child without the parent's exit
                // handlers or buffered output.
                unsafe { libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(wr);
                let mut text = Vec::new();
                let _ = rd.read_to_end(&mut text);
                let status = nix::sys::wait::waitpid(child, None);
                let text = String::from_utf8_lossy(&text).into_owned();
                match status {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(text),
                    _ if !text.is_empty() => Err(cannot(format!("as uid {uid}: {text}"))),
                    status => Err(cannot(format!(
                        "as uid {uid}: the helper ended: {status:?}"
                    ))),
                }
            }
        }
    }

    /// The job log for the tree of `root`, registered in this hupsafe's
    /// own state directory.
    fn job_log_here(root: i32, tty: &str) -> Result<JobLog> {
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
            owner: None,
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
