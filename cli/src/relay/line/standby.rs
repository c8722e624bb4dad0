//! A standby: a protected line's job made ready before the line is typed,
//! so that Enter on a marked line costs the shell a FIFO write and a read
//! (builtins), not a start of the hupsafe binary and the job's set-up.
//!
//! One per shell. It holds what `line start` would make at Enter: a pty,
//! the log, the socket, the `sync`/`ack` FIFOs, the shim's LD_PRELOAD, a
//! reopened descriptor of the user's terminal, all in `jobs/.standby-PID`
//! (a directory no listing shows: not a job the user started), and it
//! announces itself in `shells/SHELLPID.standby`, which the hook reads
//! with builtins. At Enter the hook writes `PWD NUL LINE NUL` to the
//! standby's `take` FIFO and reads the job id from `taken`; the standby
//! claims the id (the directory is renamed onto it), writes the record
//! (the line as typed), answers, and becomes the line's supervisor
//! exactly as `line start` leaves one. Before that, it forks its
//! successor, which prepares the next standby off the shell's path.
//!
//! A standby ends, leaving no file behind, when its shell is gone (a
//! pidfd on the shell, the shell's start time checked: not end of file on
//! a FIFO, which descriptors the shell leaks to its children would hold
//! open), or when its announcement names another standby (a newer one for
//! the same shell). Whatever goes wrong, the hook falls back to `line
//! start`: a standby only makes a line faster, never different.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use super::super::os::{self, PollFd, PollFlags};
use super::super::pty;
use super::supervisor::{self, Parts};
use super::{
    copy_terminal, make_fifo, open_doors, open_fifo, reopen_terminal, Doors, ACK_FIFO, SYNC_FIFO,
};
use crate::error::{Error, Result};
use crate::registry::{clip, Job, ProcId, Record, Registry};
use crate::sys::trusted::shown;

/// The announcement's first field: its format.
const FORMAT: &str = "hupsafe-standby-1";
/// In the standby's directory: the FIFO the shell writes `PWD NUL LINE
/// NUL` to, and the one it reads the job's id (or `-`) from.
pub const TAKE_FIFO: &str = "take";
pub const TAKEN_FIFO: &str = "taken";
/// How often a standby with nothing to do looks at its announcement (and
/// at its shell, where there is no pidfd): a replaced standby has nothing
/// to hurry for.
const TICK: Duration = Duration::from_secs(1);
/// The most a shell may write before the line is complete: a longer line
/// is the shell's own to start (`line start`).
const MAX_TAKE: usize = 1 << 20;
/// The environment a standby was made for: the shell's hook compares it
/// with its own at Enter, and starts the line the slow way if it changed
/// (a line must land in the registry, and get the LD_PRELOAD, that `line
/// start` would give it now).
pub const ENV_KEY: [&str; 8] = [
    "HUPSAFE_STATE_DIR",
    "XDG_STATE_HOME",
    "HOME",
    "HUPSAFE_CONFIG_DIR",
    "XDG_CONFIG_HOME",
    "HUPSAFE_LIB_DIR",
    "LD_PRELOAD",
    "HUPSAFE_JOB",
];

/// The file an announcement is written into before it trades names with
/// the announcement (`trade_file`).
fn spare_of(announcement: &str) -> String {
    format!(".{announcement}.spare")
}

/// The announcement's name for shell `pid` in `shells/`.
fn announcement(pid: i32) -> String {
    format!("{pid}.standby")
}

/// What every standby of one shell shares, handed from each to its
/// successor.
struct Lineage {
    registry: Registry,
    /// `shells/`, held open.
    shells: PathBuf,
    shell: ProcId,
    /// Readable once the shell has exited.
    pidfd: Option<OwnedFd>,
    token: String,
    screen: Option<OwnedFd>,
    preload: OsString,
    log_max: Option<u64>,
    keep_finished: Option<Duration>,
    env_key: String,
    /// The user's terminal's path (the hook checks that its stdout is
    /// still that terminal), empty without one.
    screen_path: String,
    /// `shells/SHELLPID.ready`, a FIFO: a byte in it each time a standby
    /// is announced, for a hook that found none (the successor of the
    /// last one still preparing) to wait on.
    ready: Option<OwnedFd>,
}

/// One standby's resources, in its directory.
struct Ready {
    job: Job,
    pair: pty::Pair,
    tty: String,
    listener: OwnedFd,
    sync_fifo: OwnedFd,
    ack_fifo: OwnedFd,
    take: OwnedFd,
    taken: OwnedFd,
    log: File,
    /// The record as far as it is known ahead (this process as its
    /// writer); the line fills in the rest.
    record: Record,
}

enum Outcome {
    /// The shell is gone: its scratch files go too.
    ShellGone,
    /// Another standby replaced this one.
    Replaced,
    /// The shell's line: its working directory and text.
    Take(Vec<u8>, Vec<u8>),
}

/// `line standby` (and `line start --token`): starts a standby for shell
/// `shell_pid`, whose hook knows it by `token`, with the user's terminal
/// on the caller's descriptor `screen`. Returns once the standby is on its
/// way (it prepares in the background).
pub fn start(shell_pid: i32, token: &str, screen: Option<i32>) -> Result<()> {
    if token.is_empty()
        || token.len() > 64
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(Error::new(
            crate::error::EXIT_BAD_INPUT,
            "the token must be 1 to 64 letters, digits, '.', '-' or '_'",
        ));
    }
    let shell = ProcId::of(shell_pid)
        .filter(ProcId::is_alive)
        .ok_or_else(|| {
            Error::new(
                crate::error::EXIT_BAD_INPUT,
                format!("no shell with pid {shell_pid} is running"),
            )
        })?;
    let screen = screen
        .filter(|&fd| (0..=1024).contains(&fd))
        .and_then(reopen_terminal);
    let screen_path = screen
        .as_ref()
        .and_then(|s| {
            use std::os::fd::AsRawFd;
            std::fs::read_link(format!("/proc/self/fd/{}", s.as_raw_fd())).ok()
        })
        .filter(|p| p.starts_with("/dev/"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The pidfd is the shell's only if the pid was not recycled before it
    // was opened.
    let pidfd = rustix::process::Pid::from_raw(shell_pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
        .filter(|_| shell.is_alive());
    if !super::super::fork_supervisor(true)? {
        return Ok(());
    }
    // Off the caller's stdout and stdin first (`$(hupsafe line start)`
    // waits for them to close), then the set-up, in the background.
    super::super::supervisor::detach_keeping(&[]);
    let made = (|| -> Result<Lineage> {
        let config = crate::config::Config::load();
        let (registry, shells) = Registry::create_with_shells()?;
        let shim = crate::sys::preload::install()?;
        let (preload, _) =
            crate::sys::preload::compose(std::env::var_os("LD_PRELOAD").as_deref(), &shim);
        registry.sweep_standbys();
        let ready = ready_fifo(&shells.join(format!("{shell_pid}.ready")));
        Ok(Lineage {
            registry,
            shells,
            shell,
            pidfd,
            token: token.to_string(),
            screen,
            preload,
            log_max: config.log_max,
            keep_finished: config.keep_finished,
            env_key: env_key(),
            screen_path,
            ready,
        })
    })();
    match made {
        Ok(lineage) => lineage.run(),
        Err(_) => signal_hook::low_level::exit(1),
    }
}

/// Starts `hupsafe line standby` for shell `shell_pid` from `line start`
/// (no standby was ready): a new process of its own, so that it does not
/// carry this one's arguments (the line's text) for the shell's life; it
/// inherits the user's terminal on `screen`. Not waited for, and its
/// failure costs only speed.
pub fn spawn(shell_pid: i32, token: &str, screen: Option<i32>) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["line", "standby", "--shell-pid", &shell_pid.to_string()])
        .args(["--token", token])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(fd) = screen.filter(|&fd| (3..=1024).contains(&fd)) {
        cmd.args(["--screen", &fd.to_string()]);
    }
    let _ = cmd.spawn();
}

/// The environment variables of [`ENV_KEY`], as the hook joins them: each
/// value (empty when unset), separated by `|`.
fn env_key() -> String {
    ENV_KEY
        .iter()
        .map(|v| {
            std::env::var_os(v)
                .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("|")
}

impl Lineage {
    /// Prepares, announces and waits, standby after standby (each line
    /// taken leaves this loop in its supervisor; the successor goes on).
    fn run(mut self) -> ! {
        loop {
            let ready = match self.prepare() {
                Ok(r) => r,
                Err(_) => signal_hook::low_level::exit(1),
            };
            if self.announce(&ready).is_err() {
                self.clean_up(ready);
                signal_hook::low_level::exit(1);
            }
            if let Some(f) = &self.ready {
                // One byte, whatever was there before.
                let mut buf = [0u8; 256];
                while matches!(os::read(f, &mut buf), Ok(n) if n > 0) {}
                let _ = os::write(f, b"\n");
            }
            match self.wait(&ready) {
                Outcome::ShellGone => {
                    self.clean_up(ready);
                    // What the shell's hooks wrote and cannot remove
                    // without starting a process (shell/bash.sh, zsh.zsh).
                    let pid = self.shell.pid;
                    for name in [
                        format!("{pid}"),
                        format!("{pid}.stamp"),
                        format!("{pid}.ready"),
                    ] {
                        let _ = std::fs::remove_file(self.shells.join(name));
                    }
                    // The announcement may still name a standby taken
                    // since (its successor never announced itself): it is
                    // this shell's if it has its token (a new shell that got
                    // the pid has another).
                    let said = announcement(pid);
                    if self.announcement_says(1, self.token.as_bytes()) {
                        let _ = std::fs::remove_file(self.shells.join(&said));
                    }
                    let _ = std::fs::remove_file(self.shells.join(spare_of(&said)));
                    signal_hook::low_level::exit(0);
                }
                Outcome::Replaced => {
                    self.clean_up(ready);
                    signal_hook::low_level::exit(0);
                }
                Outcome::Take(pwd, text) => {
                    // Returns in the successor only.
                    self = self.take(ready, &pwd, &text);
                }
            }
        }
    }

    fn prepare(&self) -> Result<Ready> {
        let job = self.registry.new_standby()?;
        match self.fill(&job) {
            Ok(r) => Ok(r),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&job.dir);
                Err(e)
            }
        }
    }

    fn fill(&self, job: &Job) -> Result<Ready> {
        let log = job.create_log()?;
        let Doors {
            pair,
            tty,
            listener,
            fifos: [sync_fifo, ack_fifo, take, taken],
        } = open_doors(job, [SYNC_FIFO, ACK_FIFO, TAKE_FIFO, TAKEN_FIFO])?;
        // A first record and its spare, so that the line's record is
        // written into room already taken (no block allocated at Enter).
        let record = Record::new("", &[]);
        job.write_first_record(&record)?;
        Ok(Ready {
            job: job.clone(),
            pair,
            tty,
            listener,
            sync_fifo,
            ack_fifo,
            take,
            taken,
            log,
            record,
        })
    }

    /// Writes the announcement (a new file renamed over the old one, so
    /// the hook reads a whole one): NUL-ended fields, the format, the
    /// token, this pid, the environment key, the standby's directory, its
    /// pty, the line's LD_PRELOAD, the jobs directory and the user's
    /// terminal.
    fn announce(&self, r: &Ready) -> std::io::Result<()> {
        let mut text = Vec::new();
        let jobs = self.registry.jobs_shown();
        for field in [
            FORMAT.as_bytes(),
            self.token.as_bytes(),
            std::process::id().to_string().as_bytes(),
            self.env_key.as_bytes(),
            shown(&r.job.dir).as_os_str().as_bytes(),
            r.tty.as_bytes(),
            self.preload.as_bytes(),
            jobs.as_os_str().as_bytes(),
            self.screen_path.as_bytes(),
        ] {
            text.extend_from_slice(field);
            text.push(0);
        }
        let name = announcement(self.shell.pid);
        crate::sys::private_dir::trade_file(
            &self.shells.join(spare_of(&name)),
            &self.shells.join(&name),
            &text,
            crate::sys::private_dir::Room::Exact(0o600),
        )
    }

    /// Whether the shell's announcement has `want` as its field `n` (1:
    /// the shell's token, 2: the standby's pid; see `announce`).
    fn announcement_says(&self, n: usize, want: &[u8]) -> bool {
        let path = self.shells.join(announcement(self.shell.pid));
        read_small(&path).is_ok_and(|text| text.split(|&b| b == 0).nth(n) == Some(want))
    }

    /// Whether the announcement still names this standby.
    fn announced(&self) -> bool {
        self.announcement_says(2, std::process::id().to_string().as_bytes())
    }

    fn unannounce(&self) {
        if self.announced() {
            let _ = std::fs::remove_file(self.shells.join(announcement(self.shell.pid)));
        }
    }

    /// Waits for the shell's line, the shell's end, or a newer standby.
    fn wait(&self, r: &Ready) -> Outcome {
        let mut got = Vec::new();
        let mut next_look = Instant::now() + TICK;
        loop {
            let mut fds = vec![PollFd::new(&r.take, PollFlags::IN)];
            if let Some(p) = &self.pidfd {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            let left = next_look.saturating_duration_since(Instant::now());
            let _ = os::poll(&mut fds, Some(left));
            let shell_ended = fds.get(1).is_some_and(|p| !p.revents().is_empty());
            if let Some(line) = read_take(&r.take, &mut got) {
                return line;
            }
            if shell_ended || (self.pidfd.is_none() && !self.shell.is_alive()) {
                return Outcome::ShellGone;
            }
            if Instant::now() >= next_look {
                next_look = Instant::now() + TICK;
                if !self.shell.is_alive() {
                    return Outcome::ShellGone;
                }
                if !self.announced() {
                    // Replaced: no shell finds `take` from now on; one that
                    // wrote before gets its line taken all the same.
                    let _ = std::fs::remove_file(r.job.dir.join(TAKE_FIFO));
                    return read_take(&r.take, &mut got).unwrap_or(Outcome::Replaced);
                }
            }
        }
    }

    /// Makes the line's job of standby `r` and answers the shell; forks
    /// the successor, which returns here; this process becomes the line's
    /// supervisor.
    fn take(mut self, r: Ready, pwd: &[u8], text: &[u8]) -> Lineage {
        // The shell that writes to `take` read this announcement, and will
        // not take the standby it names again (the hooks remember its
        // pid): it stays until the successor's is traded in, no file made
        // or deleted for it.
        // The config file as it is now, as `line start` would read it.
        let config = crate::config::Config::load();
        self.log_max = config.log_max;
        self.keep_finished = config.keep_finished;
        let scrollback = super::super::model_scrollback(&config);
        let mut record = r.record.clone();
        record.command =
            crate::registry::display_command(vec![String::from_utf8_lossy(text).into_owned()]);
        record.cwd = clip(&String::from_utf8_lossy(pwd), 2048);
        record.started_ms = crate::registry::now_ms();
        record.log_max = self.log_max;
        record.tty = Some(r.tty.clone());
        let stamp = |j: &Job| {
            let mut r = record.clone();
            r.id = j.id.clone();
            j.write_record(&r)
        };
        let job = match self.registry.adopt(&r.job, stamp) {
            Ok(j) => j,
            Err(_) => self.refuse(r),
        };
        record.id = job.id.clone();
        // The line's terminal starts as a copy of the user's, as now.
        let modes = self.screen.as_ref().and_then(|s| copy_terminal(s, &r.pair));
        let _ = os::write(&r.taken, format!("{}\n", job.id).as_bytes());
        // `take` and `taken` stay in the job's directory until it goes (a
        // file deleted makes the next ones created dearer on some
        // filesystems: `trade_file`); nobody writes to them again.
        let Ready {
            pair,
            tty: _,
            listener,
            sync_fifo,
            ack_fifo,
            take,
            taken,
            log,
            job: _,
            record: _,
        } = r;
        drop((take, taken));
        let parts = Parts {
            handover: None,
            reader: File::open(job.log_path()).ok(),
            job,
            record,
            pair,
            listener,
            sync_fifo,
            ack_fifo,
            log,
            screen: self.screen.as_ref().and_then(|s| s.try_clone().ok()),
            modes,
            scrollback,
            shell: Some(self.shell),
            detached: true,
        };
        // The successor: nothing of this line's job, the same shell. One
        // fork (the supervisor must answer the shell soon); the kernel
        // reaps it, since SIGCHLD is ignored (the supervisor has no other
        // children).
        let _ = os::set_disposition(libc::SIGCHLD, os::Disposition::Ignore);
        // SAFETY: this process is single-threaded (no thread is ever
        // started in a standby), so the child may run ordinary code.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let _ = rustix::process::setsid();
            drop(parts);
            if let Some(age) = self.keep_finished {
                self.registry.expire(age);
            }
            return self;
        }
        drop(self);
        supervisor::run(parts)
    }

    /// The line cannot be made a job here: the shell starts it itself.
    fn refuse(&self, r: Ready) -> ! {
        let _ = os::write(&r.taken, b"-\n");
        self.clean_up(r);
        signal_hook::low_level::exit(1)
    }

    fn clean_up(&self, r: Ready) {
        self.unannounce();
        let dir = r.job.dir.clone();
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The lineage's `ready` FIFO at `path`, made if missing (one that is not
/// a FIFO of the user's own is replaced), open for reading and writing.
fn ready_fifo(path: &Path) -> Option<OwnedFd> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_fifo() && m.uid() == crate::sys::private_dir::uid() => {}
        Ok(_) => {
            std::fs::remove_file(path).ok()?;
            make_fifo(path).ok()?;
        }
        Err(_) => make_fifo(path).ok()?,
    }
    open_fifo(path).ok()
}

/// Reads what the shell wrote to `take`; the line once it is whole.
fn read_take(fd: &OwnedFd, got: &mut Vec<u8>) -> Option<Outcome> {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = os::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() > MAX_TAKE {
            got.clear();
        }
    }
    let mut parts = got.splitn(3, |&b| b == 0);
    let pwd = parts.next()?;
    let text = parts.next()?;
    // A third part exists only after the second NUL.
    parts.next()?;
    Some(Outcome::Take(pwd.to_vec(), text.to_vec()))
}

/// A small file of the user's, not followed if it is a link.
fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let mut f = File::from(fd);
    let mut text = Vec::new();
    f.by_ref().take(64 * 1024).read_to_end(&mut text)?;
    Ok(text)
}
