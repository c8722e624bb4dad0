//! Which processes `hupsafe rescue` acts on, and which it must refuse: the
//! pid itself, its descendants under `--tree` (or when it leads a group or
//! session), and the refusals (gone, not yours, Yama, already traced,
//! stopped), each with what to do instead.

use std::fs;

/// The processes `pid` stands for: itself, and its descendants when
/// asked or when it leads a process group or session.
pub(super) fn targets(pid: i32, tree: bool) -> Vec<i32> {
    let mut out = vec![pid];
    let leader = stat_fields(pid).is_some_and(|f| f.pgrp == pid || f.session == pid);
    if !(tree || leader) {
        return out;
    }
    let mut all = Vec::new();
    if let Ok(d) = fs::read_dir("/proc") {
        for e in d.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if let Some(f) = stat_fields(p) {
                    if f.state != 'Z' && f.state != 'X' {
                        all.push((p, f.ppid));
                    }
                }
            }
        }
    }
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for &(p, pp) in &all {
            if pp == parent && !out.contains(&p) {
                out.push(p);
            }
        }
        i += 1;
    }
    out
}

struct StatFields {
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
}

fn stat_fields(pid: i32) -> Option<StatFields> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    Some(StatFields {
        state,
        ppid,
        pgrp,
        session,
    })
}

pub(super) fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A `/proc/PID/status` field's first word(s).
fn status_field(pid: i32, name: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn has_cap_sys_ptrace() -> bool {
    status_field(std::process::id() as i32, "CapEff")
        .and_then(|h| u64::from_str_radix(&h, 16).ok())
        .is_some_and(|c| c & (1u64 << 19) != 0)
}

fn ptrace_scope() -> Option<u32> {
    fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_descendant_of_me(mut pid: i32) -> bool {
    let me = std::process::id() as i32;
    for _ in 0..4096 {
        match stat_fields(pid) {
            Some(f) if f.ppid == me => return true,
            Some(f) if f.ppid > 1 => pid = f.ppid,
            _ => return false,
        }
    }
    false
}

/// Why this hupsafe may not trace `pid`, with what to do; None if it may.
pub(super) fn refusal(pid: i32) -> Option<String> {
    let Some(f) = stat_fields(pid) else {
        return Some(format!("no such process {pid}"));
    };
    let name = comm(pid);
    if f.state == 'Z' || f.state == 'X' {
        return Some(format!("{pid} ({name}) has already exited (a zombie)"));
    }
    if pid == std::process::id() as i32 {
        return Some("refusing to rescue hupsafe itself".into());
    }
    let privileged = has_cap_sys_ptrace();
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    let uids: Vec<u32> = status_field(pid, "Uid")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|u| u.parse().ok())
        .collect();
    if !privileged && uids.iter().any(|&u| u != me) {
        let owner = uids.first().copied().unwrap_or(0);
        return Some(format!(
            "{pid} ({name}) belongs to uid {owner}, not to you (uid {me}): only its owner or root \
             can change it; run `sudo hupsafe rescue {pid}`"
        ));
    }
    let tracer: i32 = status_field(pid, "TracerPid")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if tracer != 0 {
        return Some(format!(
            "{pid} ({name}) is already being traced by pid {tracer} ({}), a debugger or \
             strace: a process has one tracer at most; detach it (or quit it) and run \
             `hupsafe rescue {pid}` again",
            comm(tracer)
        ));
    }
    if f.state == 'T' || f.state == 't' {
        return Some(format!(
            "{pid} ({name}) is stopped (Ctrl-Z or SIGSTOP): continue it first (`bg` in its \
             shell, or `kill -CONT {pid}`), then run `hupsafe rescue {pid}` again"
        ));
    }
    match ptrace_scope() {
        Some(s) if s >= 3 => {
            return Some(format!(
                "Yama kernel.yama.ptrace_scope is {s}: ptrace is disabled for everyone until \
                 reboot; the shell-side `hupsafe rescue %1` can still disown a job"
            ))
        }
        Some(s) if s >= 1 && !privileged && !is_descendant_of_me(pid) => {
            return Some(format!(
                "Yama kernel.yama.ptrace_scope is {s}: only root may trace a process that is \
                 not its own child; run `sudo hupsafe rescue {pid}`, or allow it with \
                 `sudo sysctl kernel.yama.ptrace_scope=0`, or use the shell-side \
                 `hupsafe rescue %1` in the shell that started it (it disowns the job)"
            ))
        }
        _ => {}
    }
    None
}

/// Where fd `fd` of `pid` points, if it is a terminal.
pub(super) fn terminal_of(pid: i32, fd: i32) -> Option<String> {
    let link = fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let s = link.to_string_lossy().into_owned();
    (s.starts_with("/dev/pts/") || s.starts_with("/dev/tty") || s == "/dev/console").then_some(s)
}
