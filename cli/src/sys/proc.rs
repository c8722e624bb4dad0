//! What `/proc` says about a running process, as far as a hangup is
//! concerned: its signal masks, session, process group, controlling
//! terminal and its foreground group, state, where fds 0-2 point, whether
//! the shim is mapped, its environment and cgroup, and who holds the
//! master side of a pseudo-terminal.
//!
//! The `/proc` half of the inspection that `check`, `doctor` and
//! `rescue` share (the ELF half is [`crate::sys::elf`]). It only reads.
//! Every reader returns the `io::Error` of the file it could not read, so
//! a caller can tell "gone" (NotFound) from "not yours" (PermissionDenied).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

/// The bit of signal `sig` in a `/proc/PID/status` mask.
pub const fn sigbit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// `/proc/PID/stat`: who the process is related to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// The kernel's name for it (at most 15 bytes).
    pub comm: String,
    /// R, S, D, T (stopped), t (traced), Z (zombie), X, I...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// The controlling terminal (0: none), as the kernel encodes it.
    pub tty_nr: u32,
    /// The foreground process group of the controlling terminal (-1: none).
    pub tpgid: i32,
    /// Start time in clock ticks since boot: with the pid, names the
    /// process even after the pid is reused.
    pub start: u64,
}

impl Stat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }

    pub fn is_stopped(&self) -> bool {
        self.state == 'T'
    }

    pub fn leads_session(&self) -> bool {
        self.pid == self.session
    }

    /// The controlling terminal, if it has one.
    pub fn tty(&self) -> Option<Tty> {
        (self.tty_nr != 0).then(|| Tty::from_tty_nr(self.tty_nr))
    }

    /// Whether it is in the foreground process group of its terminal.
    pub fn in_foreground(&self) -> bool {
        self.tty_nr != 0 && self.tpgid > 0 && self.tpgid == self.pgrp
    }
}

/// Reads `/proc/PID/stat`.
pub fn stat(pid: i32) -> io::Result<Stat> {
    let text = read_text(&format!("/proc/{pid}/stat"))?;
    parse_stat(pid, &text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: unexpected format"),
        )
    })
}

fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    // The name (field 2) may hold spaces and parentheses: the fields that
    // follow start after the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let f: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    Some(Stat {
        pid,
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        tty_nr: f.get(4)?.parse::<i64>().ok()? as u32,
        tpgid: f.get(5)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// The signal-related part of `/proc/PID/status` (or of one thread's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub state: char,
    /// Real and effective user ids.
    pub uid: (u32, u32),
    /// Saved and filesystem user ids.
    pub suid: u32,
    pub fsuid: u32,
    /// Real group id.
    pub gid: u32,
    /// Pending for this thread.
    pub sig_pnd: u64,
    /// Pending for the whole process.
    pub shd_pnd: u64,
    /// Blocked by this thread (the main thread's for the process file).
    pub sig_blk: u64,
    /// Ignored (process-wide).
    pub sig_ign: u64,
    /// Caught by a handler (process-wide).
    pub sig_cgt: u64,
    /// The process tracing it (a debugger, strace), 0 if none.
    pub tracer_pid: i32,
    /// Its effective capabilities, a bit per `CAP_*` number.
    pub cap_eff: u64,
}

impl Status {
    pub fn ignores(&self, sig: i32) -> bool {
        self.sig_ign & sigbit(sig) != 0
    }
    pub fn catches(&self, sig: i32) -> bool {
        self.sig_cgt & sigbit(sig) != 0
    }
    pub fn blocks(&self, sig: i32) -> bool {
        self.sig_blk & sigbit(sig) != 0
    }
    pub fn pending(&self, sig: i32) -> bool {
        (self.sig_pnd | self.shd_pnd) & sigbit(sig) != 0
    }
    /// Real, effective, saved and filesystem user ids: ptrace lets a
    /// tracer without CAP_SYS_PTRACE in only if all four are its own.
    pub fn uids(&self) -> [u32; 4] {
        [self.uid.0, self.uid.1, self.suid, self.fsuid]
    }
    /// Whether capability number `cap` (`CAP_SYS_PTRACE` is 19) is in
    /// its effective set.
    pub fn has_capability(&self, cap: u32) -> bool {
        cap < 64 && self.cap_eff & (1u64 << cap) != 0
    }
}

/// Reads `/proc/PID/status` (readable by everyone, unlike fds and maps).
pub fn status(pid: i32) -> io::Result<Status> {
    Ok(parse_status(&read_text(&format!("/proc/{pid}/status"))?))
}

fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let mask = || u64::from_str_radix(value, 16).unwrap_or(0);
        match key {
            "State" => s.state = value.chars().next().unwrap_or('?'),
            "Uid" => {
                let mut ids = value.split_whitespace().filter_map(|v| v.parse().ok());
                let real = ids.next().unwrap_or(u32::MAX);
                s.uid = (real, ids.next().unwrap_or(real));
                s.suid = ids.next().unwrap_or(s.uid.1);
                s.fsuid = ids.next().unwrap_or(s.suid);
            }
            "Gid" => {
                s.gid = value
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u32::MAX)
            }
            "SigPnd" => s.sig_pnd = mask(),
            "ShdPnd" => s.shd_pnd = mask(),
            "SigBlk" => s.sig_blk = mask(),
            "SigIgn" => s.sig_ign = mask(),
            "SigCgt" => s.sig_cgt = mask(),
            "TracerPid" => s.tracer_pid = value.parse().unwrap_or(0),
            "CapEff" => s.cap_eff = mask(),
            _ => {}
        }
    }
    s
}

/// The threads of `pid` that block `sig` (the mask is per thread; the
/// process file shows the main thread's only).
pub fn threads_blocking(pid: i32, sig: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|tid| {
            read_text(&format!("/proc/{pid}/task/{tid}/status"))
                .is_ok_and(|t| parse_status(&t).blocks(sig))
        })
        .collect();
    tids.sort_unstable();
    tids
}

/// The threads of `pid` waiting for `sig` in sigwait, sigwaitinfo or
/// sigtimedwait (`rt_sigtimedwait`). While a thread waits, the kernel takes
/// the awaited signals out of its blocked mask (SigBlk no longer shows
/// them) but still queues them, ignored or not: the set is read from the
/// call's first argument in the process's memory, which needs the same
/// access as ptrace (the user's own processes, or root).
pub fn threads_waiting(pid: i32, sig: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|tid| sigwait_set(pid, *tid).is_some_and(|set| set & sigbit(sig) != 0))
        .collect();
    tids.sort_unstable();
    tids
}

fn sigwait_set(pid: i32, tid: i32) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    // "NR arg1 arg2 ... sp pc" while blocked in a call, "running" otherwise.
    let text = read_text(&format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
    let mut f = text.split_whitespace();
    if f.next()?.parse::<i64>().ok()? != libc::SYS_rt_sigtimedwait {
        return None;
    }
    let addr = u64::from_str_radix(f.next()?.trim_start_matches("0x"), 16).ok()?;
    let mem = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut set = [0u8; 8];
    mem.read_exact_at(&mut set, addr).ok()?;
    Some(u64::from_ne_bytes(set))
}

/// A terminal device, by major and minor number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tty {
    pub major: u32,
    pub minor: u32,
}

impl Tty {
    /// From `tty_nr` in `/proc/PID/stat` (the kernel's old_encode_dev
    /// extended: minor bits 0-7 and 20-31, major bits 8-19).
    pub fn from_tty_nr(n: u32) -> Tty {
        Tty {
            major: (n >> 8) & 0xfff,
            minor: (n & 0xff) | ((n >> 12) & 0xfff00),
        }
    }

    /// From a device number (`st_rdev`).
    pub fn from_rdev(rdev: u64) -> Tty {
        Tty {
            major: libc::major(rdev as libc::dev_t),
            minor: libc::minor(rdev as libc::dev_t),
        }
    }

    /// The index N of `/dev/pts/N`, for a Unix98 pty slave (majors
    /// 136-143).
    pub fn pts_index(&self) -> Option<u32> {
        (136..=143)
            .contains(&self.major)
            .then(|| (self.major - 136) * 256 + self.minor)
    }

    /// Whether the device is a terminal (as opposed to /dev/null, a disk).
    pub fn is_terminal(&self) -> bool {
        self.pts_index().is_some()
            || self.major == 4  // virtual consoles, ttyS
            || (self.major == 5 && self.minor <= 1) // /dev/tty, /dev/console
            || self.major == 3 // legacy BSD pty slaves
            || self.major == 188 // ttyUSB
            || self.major == 204 // other serial ports
            || self.major == 166 // ttyACM
    }

    /// `/dev/tty` itself: "my controlling terminal, whatever it is".
    pub fn is_dev_tty(&self) -> bool {
        self.major == 5 && self.minor == 0
    }

    /// Its usual name.
    pub fn name(&self) -> String {
        match (self.pts_index(), self.major, self.minor) {
            (Some(n), _, _) => format!("/dev/pts/{n}"),
            (None, 4, m) if m < 64 => format!("/dev/tty{m}"),
            (None, 4, m) => format!("/dev/ttyS{}", m - 64),
            (None, 5, 0) => "/dev/tty".into(),
            (None, 5, 1) => "/dev/console".into(),
            (None, maj, min) => format!("terminal {maj}:{min}"),
        }
    }
}

/// Where one of a process's file descriptors points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fd {
    /// Not open.
    Closed,
    /// A terminal device.
    Terminal(Tty, PathBuf),
    /// Anything else: a file, a pipe, a socket, /dev/null.
    Other(PathBuf),
}

/// Where fd `fd` of `pid` points (PermissionDenied for another user's).
pub fn fd(pid: i32, fd: i32) -> io::Result<Fd> {
    let link = format!("/proc/{pid}/fd/{fd}");
    let target = match fs::read_link(&link) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The fd is closed, unless the whole process is gone.
            return if fs::metadata(format!("/proc/{pid}/fd")).is_ok() {
                Ok(Fd::Closed)
            } else {
                Err(e)
            };
        }
        Err(e) => return Err(e),
    };
    // The device behind the fd itself (following the magic link), which
    // is right even when the path was renamed or is in another namespace.
    match fs::metadata(&link) {
        Ok(m) if m.file_type().is_char_device() => {
            let tty = Tty::from_rdev(m.rdev());
            if tty.is_terminal() {
                return Ok(Fd::Terminal(tty, target));
            }
            Ok(Fd::Other(target))
        }
        _ => Ok(Fd::Other(target)),
    }
}

/// Whether a mapping's file name is a hupsafe shim: an installed one
/// (`libnohup-<hash>.so`) or a build's (`libnohup.so`).
pub fn is_shim_file(name: &[u8]) -> bool {
    crate::sys::preload::is_hupsafe_shim(name) || name == b"libnohup.so"
}

/// The shim mapped into `pid`, if it is.
pub fn mapped_shim(pid: i32) -> io::Result<Option<PathBuf>> {
    let maps = fs::read(format!("/proc/{pid}/maps"))?;
    for line in maps.split(|&b| b == b'\n') {
        // address perms offset dev inode [path]; the path may hold spaces.
        let mut rest = line;
        for _ in 0..5 {
            let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
            rest = &rest[start..];
            let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            rest = &rest[end..];
        }
        let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
        let path = &rest[start..];
        let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
        if !path.starts_with(b"/") {
            continue;
        }
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        if is_shim_file(name) {
            return Ok(Some(PathBuf::from(OsString::from_vec(path.to_vec()))));
        }
    }
    Ok(None)
}

/// One variable of the environment `pid` started with.
pub fn environ_var(pid: i32, name: &str) -> io::Result<Option<OsString>> {
    let env = fs::read(format!("/proc/{pid}/environ"))?;
    let prefix = format!("{name}=");
    Ok(env
        .split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| OsString::from_vec(v.to_vec())))
}

/// The argument vector of `pid` (empty for a kernel thread or a zombie).
pub fn cmdline(pid: i32) -> io::Result<Vec<OsString>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline"))?;
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    Ok(raw
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect())
}

/// The working directory of `pid` (PermissionDenied for another user's).
pub fn cwd(pid: i32) -> io::Result<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd"))
}

/// An executable mapping of a process: its address range, and whether it
/// is the vDSO (the kernel's own code page, in every process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeMapping {
    pub start: u64,
    pub end: u64,
    pub vdso: bool,
}

/// The executable mappings of `pid`, in address order (PermissionDenied
/// for another user's).
pub fn code_mappings(pid: i32) -> io::Result<Vec<CodeMapping>> {
    Ok(parse_code_mappings(&read_text(&format!(
        "/proc/{pid}/maps"
    ))?))
}

fn parse_code_mappings(maps: &str) -> Vec<CodeMapping> {
    let mut out = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode [path]
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        if !perms.contains('x') {
            continue;
        }
        let Some((a, z)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(z, 16)) else {
            continue;
        };
        out.push(CodeMapping {
            start,
            end,
            vdso: line.ends_with("[vdso]"),
        });
    }
    out
}

/// The mappings of this process that are copies of a file and nothing
/// else (private, not writable, file-backed, not one page copied on write:
/// `Anonymous: 0 kB` in smaps), as address ranges. Dropping their pages
/// loses nothing: the next access reads them again from the page cache.
/// Relocated read-only data (RELRO) holds copied pages and is never among
/// them.
pub fn own_file_copies() -> io::Result<Vec<(usize, usize)>> {
    Ok(parse_file_copies(&read_text("/proc/self/smaps")?))
}

fn parse_file_copies(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping being read, if it may be one.
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some(kib) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if kib.trim() == "0 kB" {
                    out.push(range);
                }
            }
            continue;
        }
        if first.ends_with(':') {
            continue;
        }
        // A mapping's first line: address perms offset dev inode [path]
        current = None;
        let (Some(perms), Some(_), Some(_), Some(inode)) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let Some((a, z)) = first.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(z, 16))
        else {
            continue;
        };
        let perms = perms.as_bytes();
        let copy = perms.len() == 4 && perms[1] == b'-' && perms[3] == b'p' && inode != "0";
        if copy {
            current = Some((start, end));
        }
    }
    out
}

/// Yama's `kernel.yama.ptrace_scope`: 0 (classic ptrace rules), 1 (only
/// a process's ancestors, or CAP_SYS_PTRACE), 2 (CAP_SYS_PTRACE only), 3
/// (nobody, until reboot); None without Yama.
pub fn ptrace_scope() -> Option<u32> {
    read_text("/proc/sys/kernel/yama/ptrace_scope")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The program file `pid` runs (PermissionDenied for another user's).
pub fn exe(pid: i32) -> io::Result<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe"))
}

/// The identity (device, inode) of the program file `pid` runs.
pub fn exe_identity(pid: i32) -> io::Result<(u64, u64)> {
    let m = fs::metadata(format!("/proc/{pid}/exe"))?;
    Ok((m.dev(), m.ino()))
}

/// The cgroup `pid` is in: the unified (v2) path, else systemd's named
/// v1 hierarchy.
pub fn cgroup(pid: i32) -> io::Result<String> {
    let text = read_text(&format!("/proc/{pid}/cgroup"))?;
    let mut named = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("0::") {
            return Ok(p.to_string());
        }
        if let Some((_, p)) = line.split_once(":name=systemd:") {
            named = Some(p.to_string());
        }
    }
    Ok(named.unwrap_or_default())
}

/// Every process's stat, read once: who is whose child, who is in which
/// session. Processes that vanish while it is read are simply absent.
pub struct Table {
    pub procs: HashMap<i32, Stat>,
    children: HashMap<i32, Vec<i32>>,
}

impl Table {
    pub fn read() -> Table {
        let mut procs = HashMap::new();
        if let Ok(dir) = fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                    continue;
                };
                if let Ok(s) = stat(pid) {
                    procs.insert(pid, s);
                }
            }
        }
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        for s in procs.values() {
            children.entry(s.ppid).or_default().push(s.pid);
        }
        for c in children.values_mut() {
            c.sort_unstable();
        }
        Table { procs, children }
    }

    pub fn get(&self, pid: i32) -> Option<&Stat> {
        self.procs.get(&pid)
    }

    pub fn children(&self, pid: i32) -> &[i32] {
        self.children.get(&pid).map_or(&[], |v| v.as_slice())
    }

    /// `pid`'s parent, grandparent, ... up to (not including) pid 0.
    pub fn ancestors(&self, pid: i32) -> Vec<i32> {
        let mut v = Vec::new();
        let mut p = self.get(pid).map(|s| s.ppid);
        while let Some(pp) = p.filter(|&pp| pp > 0 && !v.contains(&pp)) {
            v.push(pp);
            p = self.get(pp).map(|s| s.ppid);
        }
        v
    }
}

/// The pids in /proc, in no particular order.
fn pids() -> impl Iterator<Item = i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// Whether `pid` has an fd whose link reads `target` (`/dev/pts/3`,
/// `pipe:[1234]`), among `fds` (all of them if `None`).
fn has_fd_to(pid: i32, target: &[u8], fds: Option<&[i32]>) -> bool {
    let points =
        |p: std::path::PathBuf| fs::read_link(p).is_ok_and(|l| l.as_os_str().as_bytes() == target);
    match fds {
        Some(fds) => fds
            .iter()
            .any(|fd| points(format!("/proc/{pid}/fd/{fd}").into())),
        None => fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|f| points(f.path())),
    }
}

/// The processes (whose fds this user may read) that have `tty` (a path
/// such as `/dev/pts/3`) open as fd 0, 1 or 2.
pub fn holding_as_stdio(tty: &str) -> Vec<i32> {
    pids()
        .filter(|&pid| has_fd_to(pid, tty.as_bytes(), Some(&[0, 1, 2])))
        .collect()
}

/// The processes (whose fds this user may read) other than this one that
/// have the pipe `link` (`pipe:[INODE]`, as /proc shows it) open.
pub fn holding_pipe(link: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    pids()
        .filter(|&pid| pid != me && has_fd_to(pid, link.as_bytes(), None))
        .collect()
}

/// The processes holding the master side of `/dev/pts/N` open: the
/// terminal emulator, sshd, tmux, or a hupsafe supervisor. Only
/// processes whose fds this user may read are seen.
pub fn pty_master_holders(index: u32) -> Vec<i32> {
    let mut found = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for f in fds.flatten() {
            let is_ptmx = fs::read_link(f.path()).is_ok_and(|t| {
                let b = t.as_os_str().as_bytes();
                b == b"/dev/ptmx" || b == b"/dev/pts/ptmx"
            });
            if !is_ptmx {
                continue;
            }
            let info = format!("/proc/{pid}/fdinfo/{}", f.file_name().to_string_lossy());
            let holds = read_text(&info).is_ok_and(|t| {
                t.lines().any(|l| {
                    l.strip_prefix("tty-index:")
                        .is_some_and(|v| v.trim().parse::<u32>().ok() == Some(index))
                })
            });
            if holds {
                found.push(pid);
                break;
            }
        }
    }
    found.sort_unstable();
    found
}

/// The name of user `uid`, if the user database has one.
pub fn user_name(uid: u32) -> Option<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    Some(user.name)
}

fn read_text(path: &str) -> io::Result<String> {
    let bytes = fs::read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_names() {
        let s = parse_stat(
            42,
            "42 (a) b (c)) T 1 40 30 34816 40 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0",
        )
        .unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.state, 'T');
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 40, 30));
        assert_eq!(s.tty().unwrap().name(), "/dev/pts/0");
        assert!(s.in_foreground());
        assert_eq!(s.start, 12345);
    }

    #[test]
    fn tty_numbers() {
        // /dev/pts/300: major 137, minor 44.
        let nr = (137 << 8) | 44;
        assert_eq!(Tty::from_tty_nr(nr).pts_index(), Some(300));
        assert_eq!(Tty::from_tty_nr(0x0401).name(), "/dev/tty1");
        assert_eq!(Tty::from_rdev(libc::makedev(136, 5)).name(), "/dev/pts/5");
        assert!(!Tty::from_rdev(libc::makedev(1, 3)).is_terminal()); // /dev/null
    }

    #[test]
    fn status_masks() {
        let s = parse_status(
            "State:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nSigPnd:\t0000000000000000\n\
             ShdPnd:\t0000000000000001\nSigBlk:\t0000000000000001\nSigIgn:\t0000000000001001\n\
             SigCgt:\t0000000000004000\n",
        );
        assert_eq!(s.uid, (1000, 1001));
        assert_eq!(s.uids(), [1000, 1001, 1000, 1000]);
        assert_eq!((s.tracer_pid, s.cap_eff), (0, 0));
        assert!(s.ignores(libc::SIGHUP) && s.blocks(libc::SIGHUP) && s.pending(libc::SIGHUP));
        assert!(s.ignores(libc::SIGPIPE));
        assert!(s.catches(libc::SIGTERM) && !s.catches(libc::SIGHUP));
        let s = parse_status("Uid:\t0\t0\t0\t1000\nTracerPid:\t4321\nCapEff:\t000001ffffffffff\n");
        assert_eq!(s.uids(), [0, 0, 0, 1000]);
        assert_eq!(s.tracer_pid, 4321);
        assert!(s.has_capability(19) && s.has_capability(40) && !s.has_capability(41));
    }

    #[test]
    fn code_mappings_of_a_maps_file() {
        let m = parse_code_mappings(
            "55d0a000-55d0b000 r--p 00000000 08:01 131 /usr/bin/sl eep\n\
             55d0b000-55d0f000 r-xp 00001000 08:01 131 /usr/bin/sl eep\n\
             7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n",
        );
        assert_eq!(
            m,
            vec![
                CodeMapping {
                    start: 0x55d0b000,
                    end: 0x55d0f000,
                    vdso: false
                },
                CodeMapping {
                    start: 0x7ffd1000,
                    end: 0x7ffd3000,
                    vdso: true
                },
            ]
        );
    }

    #[test]
    fn file_copies_of_an_smaps_file() {
        let entry = |head: &str, anon: u32| {
            format!("{head}\nSize:                 12 kB\nRss:                   8 kB\nAnonymous:         {anon} kB\nVmFlags: rd mr mw me\n")
        };
        let smaps = [
            entry(
                "55d0a000-55d0b000 r--p 00000000 08:01 131      /usr/bin/x",
                0,
            ),
            entry(
                "55d0b000-55d0f000 r-xp 00001000 08:01 131      /usr/bin/x",
                0,
            ),
            // RELRO: relocated, so copied on write; dropping it would undo that.
            entry(
                "55d0f000-55d10000 r--p 00005000 08:01 131      /usr/bin/x",
                4,
            ),
            entry(
                "55d10000-55d11000 rw-p 00006000 08:01 131      /usr/bin/x",
                0,
            ),
            entry(
                "55d11000-55d12000 r--s 00000000 08:01 132      /dev/shm/y",
                0,
            ),
            entry("55d20000-55d40000 rw-p 00000000 00:00 0        [heap]", 8),
            entry("7f000000-7f001000 r--p 00000000 00:00 0 ", 0),
            entry("7ffd1000-7ffd3000 r-xp 00000000 00:00 0        [vdso]", 0),
        ]
        .concat();
        assert_eq!(
            parse_file_copies(&smaps),
            vec![(0x55d0a000, 0x55d0b000), (0x55d0b000, 0x55d0f000)]
        );
        let own = own_file_copies().expect("this process's smaps");
        assert!(!own.is_empty(), "the test binary's own code is one");
    }

    #[test]
    fn this_process() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert_eq!(s.pid, me);
        assert!(Table::read().get(me).is_some());
        assert!(matches!(fd(me, 999_999), Ok(Fd::Closed)));
        assert_eq!(mapped_shim(me).unwrap(), None);
        assert!(exe(me).is_ok());
        assert_eq!(cwd(me).unwrap(), std::env::current_dir().unwrap());
        assert!(!code_mappings(me).unwrap().is_empty());
        assert!(matches!(stat(i32::MAX), Err(e) if e.kind() == io::ErrorKind::NotFound));
    }
}
