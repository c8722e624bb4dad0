//! What the kernel says about a process, read from `/proc`: the witness
//! that no hook can lie to.

use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The bit of signal `sig` in a `/proc/<pid>/status` mask.
pub const fn sigbit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// The signal-related lines of `/proc/<pid>/status` (or of one thread's
/// `/proc/<pid>/task/<tid>/status`), plus the process state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcStatus {
    /// One letter: R, S, D, T, Z, X, ...
    pub state: char,
    /// Pending for this thread only.
    pub sig_pnd: u64,
    /// Pending for the whole process.
    pub shd_pnd: u64,
    pub sig_blk: u64,
    pub sig_ign: u64,
    pub sig_cgt: u64,
}

impl ProcStatus {
    /// Reads `/proc/<pid>/status`; `None` once the process is gone.
    pub fn of(pid: i32) -> Option<ProcStatus> {
        Self::parse(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
    }

    /// Reads the status of one thread of `pid`.
    pub fn of_thread(pid: i32, tid: i32) -> Option<ProcStatus> {
        Self::parse(&fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?)
    }

    fn parse(text: &str) -> Option<ProcStatus> {
        let mut s = ProcStatus::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let mask = || u64::from_str_radix(value, 16).unwrap_or(0);
            match key {
                "State" => s.state = value.chars().next().unwrap_or('?'),
                "SigPnd" => s.sig_pnd = mask(),
                "ShdPnd" => s.shd_pnd = mask(),
                "SigBlk" => s.sig_blk = mask(),
                "SigIgn" => s.sig_ign = mask(),
                "SigCgt" => s.sig_cgt = mask(),
                _ => {}
            }
        }
        Some(s)
    }

    pub fn ignores(&self, sig: i32) -> bool {
        self.sig_ign & sigbit(sig) != 0
    }

    pub fn blocks(&self, sig: i32) -> bool {
        self.sig_blk & sigbit(sig) != 0
    }

    pub fn catches(&self, sig: i32) -> bool {
        self.sig_cgt & sigbit(sig) != 0
    }

    /// Pending for the thread this status belongs to, or for the process.
    pub fn pending(&self, sig: i32) -> bool {
        (self.sig_pnd | self.shd_pnd) & sigbit(sig) != 0
    }

    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Whether `pid` exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    ProcStatus::of(pid).is_some_and(|s| !s.is_zombie())
}

/// The thread ids of `pid`.
pub fn threads(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether a signal sent to `pid` has been dealt with by the kernel: it is
/// gone (discarded because ignored, or delivered), the process is dead,
/// or it is still queued only because every thread blocks it.
pub fn signal_settled(pid: i32, sig: i32) -> bool {
    let Some(proc_status) = ProcStatus::of(pid) else {
        return true;
    };
    if proc_status.is_zombie() {
        return true;
    }
    let statuses: Vec<ProcStatus> = threads(pid)
        .into_iter()
        .filter_map(|tid| ProcStatus::of_thread(pid, tid))
        .collect();
    let all_block = statuses.iter().all(|t| t.blocks(sig));
    let shared_waiting = proc_status.shd_pnd & sigbit(sig) != 0 && !all_block;
    let thread_waiting = statuses
        .iter()
        .any(|t| t.sig_pnd & sigbit(sig) != 0 && !t.blocks(sig));
    !shared_waiting && !thread_waiting
}

/// The number of the system call `pid`'s main thread is blocked in, if it
/// is blocked in one (`/proc/<pid>/syscall`).
pub fn blocked_syscall(pid: i32) -> Option<i64> {
    let status = ProcStatus::of(pid)?;
    if status.state != 'S' {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Whether an object whose path ends in `/name` is mapped into `pid`.
pub fn has_mapped(pid: i32, name: &str) -> bool {
    let suffix = format!("/{name}");
    fs::read_to_string(format!("/proc/{pid}/maps"))
        .is_ok_and(|maps| maps.lines().any(|l| l.trim_end().ends_with(&suffix)))
}

/// The argument vector of `pid`.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The terminals (`/dev/pts/N`) process `pid` holds open.
pub fn terminals_held_by(pid: i32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| p.starts_with("/dev/pts/"))
                .collect()
        })
        .unwrap_or_default()
}

/// Live (non-zombie) processes with an argument containing `tag`.
pub fn find_by_tag(tag: &str) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| {
            cmdline(*pid).is_some_and(|args| args.iter().any(|a| a.contains(tag))) && is_alive(*pid)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// A string no other process on the machine carries in its arguments:
/// `hupsafe-<label>-<our pid>-<counter>-<nanoseconds>`.
pub fn unique_tag(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("hupsafe-{label}-{}-{n}-{nanos}", std::process::id())
}
