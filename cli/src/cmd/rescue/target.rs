//! Which processes `hupsafe rescue` acts on, and which it must refuse: the
//! pid itself, its descendants under `--tree` (or when it leads a group or
//! session), and the refusals (gone, not yours, Yama, already traced,
//! stopped), each with what to do instead. What `/proc` says comes from
//! [`crate::sys::proc`].

use super::cannot;
use crate::error::Result;
use crate::sys::proc::{self, Fd};

/// The capability that lets a process trace anyone's (`CAP_SYS_PTRACE`).
const CAP_SYS_PTRACE: u32 = 19;

/// The processes `pid` stands for: itself, and its descendants when
/// asked or when it leads a process group or session.
pub(super) fn targets(pid: i32, tree: bool) -> Vec<i32> {
    let mut out = vec![pid];
    let leader = proc::stat(pid).is_ok_and(|s| s.pgrp == pid || s.session == pid);
    if !(tree || leader) {
        return out;
    }
    let table = proc::Table::read();
    let mut i = 0;
    while i < out.len() {
        for &child in table.children(out[i]) {
            let live = table.get(child).is_some_and(|s| !s.is_zombie());
            if live && !out.contains(&child) {
                out.push(child);
            }
        }
        i += 1;
    }
    out
}

/// The kernel's name for `pid`, "?" once it is gone.
pub(super) fn comm(pid: i32) -> String {
    proc::stat(pid).map_or_else(|_| "?".into(), |s| s.comm)
}

fn my_pid() -> i32 {
    std::process::id() as i32
}

fn has_cap_sys_ptrace() -> bool {
    proc::status(my_pid()).is_ok_and(|s| s.has_capability(CAP_SYS_PTRACE))
}

fn is_descendant_of_me(mut pid: i32) -> bool {
    let me = my_pid();
    for _ in 0..4096 {
        match proc::stat(pid) {
            Ok(s) if s.ppid == me => return true,
            Ok(s) if s.ppid > 1 => pid = s.ppid,
            _ => return false,
        }
    }
    false
}

/// Ok if this hupsafe may trace `pid`; else why not, with what to do.
pub(super) fn refusal(pid: i32) -> Result<()> {
    let Ok(s) = proc::stat(pid) else {
        return Err(cannot(format!("no such process {pid}")));
    };
    let name = &s.comm;
    if s.is_zombie() {
        return Err(cannot(format!(
            "{pid} ({name}) has already exited (a zombie)"
        )));
    }
    if pid == my_pid() {
        return Err(cannot("refusing to rescue hupsafe itself"));
    }
    let privileged = has_cap_sys_ptrace();
    let me = nix::unistd::getuid().as_raw();
    // Unreadable (it is exiting): the seize will say what is wrong.
    let status = proc::status(pid).ok();
    if let Some(st) = &status {
        let [real, effective, saved, fs] = st.uids();
        let my_gid = nix::unistd::getgid().as_raw();
        if !privileged && real != me {
            return Err(cannot(format!(
                "{pid} ({name}) belongs to uid {real}, not to you (uid {me}): only its owner \
                 or root can change it; run `sudo hupsafe rescue {pid}`"
            )));
        }
        if !privileged && st.uids().iter().any(|&u| u != me) {
            // Started by you, but running with another user's rights: a
            // set-user-id program (or one that changed its ids), which
            // the kernel lets only root trace.
            return Err(cannot(format!(
                "{pid} ({name}) was started by you but runs with other user ids (effective \
                 {effective}, saved {saved}, filesystem {fs}; yours is {me}): it is a \
                 set-user-id program or changed its ids, and only root may trace such a \
                 process; run `sudo hupsafe rescue {pid}`"
            )));
        }
        if let Some([rg, eg, sg]) =
            gids(pid).filter(|g| !privileged && g.iter().any(|&x| x != my_gid))
        {
            return Err(cannot(format!(
                "{pid} ({name}) runs with other group ids (real {rg}, effective {eg}, saved \
                 {sg}; yours is {my_gid}): it is a set-group-id program or changed its ids, \
                 and only root may trace such a process; run `sudo hupsafe rescue {pid}`"
            )));
        }
    }
    let tracer = status.map_or(0, |st| st.tracer_pid);
    if tracer != 0 {
        return Err(cannot(format!(
            "{pid} ({name}) is already being traced by pid {tracer} ({}), a debugger or \
             strace: a process has one tracer at most; detach it (or quit it) and run \
             `hupsafe rescue {pid}` again",
            comm(tracer)
        )));
    }
    if matches!(s.state, 'T' | 't') {
        return Err(cannot(format!(
            "{pid} ({name}) is stopped (Ctrl-Z or SIGSTOP): continue it first (`bg` in its \
             shell, or `kill -CONT {pid}`), then run `hupsafe rescue {pid}` again"
        )));
    }
    match proc::ptrace_scope() {
        Some(s) if s >= 3 => {
            return Err(cannot(format!(
                "Yama kernel.yama.ptrace_scope is {s}: ptrace is disabled for everyone until \
                 reboot; the shell-side `hupsafe rescue %1` can still disown a job"
            )))
        }
        Some(s) if s >= 1 && !privileged && !is_descendant_of_me(pid) => {
            return Err(cannot(format!(
                "Yama kernel.yama.ptrace_scope is {s}: only root may trace a process that is \
                 not its own child; run `sudo hupsafe rescue {pid}`, or allow it with \
                 `sudo sysctl kernel.yama.ptrace_scope=0`, or use the shell-side \
                 `hupsafe rescue %1` in the shell that started it (it disowns the job)"
            )))
        }
        _ => {}
    }
    Ok(())
}

/// Real, effective and saved group ids of `pid` (`/proc/PID/status`).
fn gids(pid: i32) -> Option<[u32; 3]> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("Gid:"))?;
    let mut ids = line.split_whitespace().map(|v| v.parse().ok());
    Some([ids.next()??, ids.next()??, ids.next()??])
}

/// The path fd `fd` of `pid` was opened by, if it is a terminal: known by
/// its device number (a pty slave, a console, a serial line), not its name.
pub(super) fn terminal_of(pid: i32, fd: i32) -> Option<String> {
    match proc::fd(pid, fd) {
        Ok(Fd::Terminal(_, path)) => Some(path.to_string_lossy().into_owned()),
        _ => None,
    }
}
