//! Protected command lines: the job and terminal behind `hupsafe line
//! start|end`, which the shell integration calls around a line it protects.
//!
//! The shell runs the line itself, as always; hupsafe only gives it a
//! terminal that outlives the user's. `line start` registers a job whose
//! command is the line as typed, opens a pty, and leaves a supervisor
//! behind (own session, SIGHUP ignored) that holds the pty's master: it
//! logs what the line writes and copies it to the user's terminal while
//! that terminal is there. The shell then points its own fds 1 and 2 at
//! the pty's slave for the duration of the line, ignores SIGHUP and
//! exports the shim, so every process the line starts inherits all three.
//! `line end` (the next prompt) waits until the output written so far has
//! reached the user's terminal, so the prompt never comes before the
//! line's last output; the supervisor then lets go of the slave and the
//! job ends when nothing holds the line's terminal any more (a background
//! line keeps it until its last process is gone).
//!
//! The user's stdin stays the user's terminal: keys, Ctrl-C, Ctrl-Z,
//! `stty` and job control are exactly as without hupsafe.

mod standby;
mod supervisor;

pub use standby::start as start_standby;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use super::os::{self, PollFd, PollFlags};
use super::proto::{self, Decoder};
use super::pty;
use crate::error::{Error, Result};
use crate::registry::{find_job, Job, ProcId, Record, Registry, SocketPath};
use crate::sys::trusted::shown;

/// `status i32 (or absent)`: from `line end`: the shell has finished the
/// line (or its foreground part); answer with [`SYNCED`] once the output
/// written so far is on the user's terminal. Unknown to the program
/// supervisor, which skips it.
pub const SYNC: u8 = b'y';
/// The answer to [`SYNC`].
pub const SYNCED: u8 = b'Y';

/// How long `line end` waits for the user's terminal to take the line's
/// output (a terminal stopped with Ctrl-S, a frozen SSH link) before the
/// prompt comes anyway.
const SYNC_PATIENCE: Duration = Duration::from_secs(2);
/// In the job directory: where the shell writes its status when the line
/// is done, and where the supervisor answers `ok` once it is shown.
pub const SYNC_FIFO: &str = "sync";
pub const ACK_FIFO: &str = "ack";

/// A private directory where the shell hooks write what they must read
/// back without starting a process (bash's `history 1`, zsh's `trap`):
/// `shells/` in the job state directory.
pub fn scratch_dir() -> Option<PathBuf> {
    Some(Registry::location().ok()?.join("shells"))
}

/// Creates [`scratch_dir`] (private) if it can; the hooks do without it.
pub fn ensure_scratch_dir() {
    if Registry::create().is_err() {
        return;
    }
    if let Some(d) = scratch_dir() {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&d);
    }
}

/// What the shell hands `line start`.
pub struct Start<'a> {
    /// The line as typed.
    pub text: &'a std::ffi::OsStr,
    /// A descriptor open on the user's terminal, if any.
    pub screen: Option<i32>,
    /// The shell running the line: if it disappears without `line end`,
    /// the line is over for it.
    pub shell_pid: Option<i32>,
    /// The shell hook's standby token: when given (with the shell's pid),
    /// a standby is started for the shell's next line.
    pub token: Option<&'a str>,
}

/// Registers the line's job, its terminal and supervisor; returns what the
/// shell reads: the id, the terminal's path, the line's LD_PRELOAD and the
/// job's directory, one per line.
pub fn start(a: &Start) -> Result<String> {
    let config = crate::config::Config::load();
    let registry = Registry::create()?;
    let job = registry.new_job()?;
    match prepare(&job, a, &config) {
        Ok(out) => {
            if let Some(age) = config.keep_finished {
                registry.expire(age);
            }
            Ok(out)
        }
        Err(e) => {
            let _ = job.remove();
            Err(e)
        }
    }
}

fn prepare(job: &Job, a: &Start, config: &crate::config::Config) -> Result<String> {
    let mut record = Record::new(&job.id, &[a.text.to_os_string()]);
    record.log_max = config.log_max;
    job.write_first_record(&record)?;
    let log = job.create_log()?;
    // The shell ends the line through two FIFOs, with builtins only (no
    // process at the prompt): it writes its status to `sync`, and reads
    // `ok` from `ack` once the output is shown.
    let Doors {
        pair,
        tty,
        listener,
        fifos: [sync_fifo, ack_fifo],
    } = open_doors(job, [SYNC_FIFO, ACK_FIFO])?;
    record.tty = Some(tty.clone());
    let screen = a
        .screen
        .filter(|&fd| (0..=1024).contains(&fd))
        .and_then(reopen_terminal);
    let modes = screen.as_ref().and_then(|s| copy_terminal(s, &pair));
    let shim = crate::sys::preload::install()?;
    let (preload, _) =
        crate::sys::preload::compose(std::env::var_os("LD_PRELOAD").as_deref(), &shim);
    let shell = a.shell_pid.and_then(ProcId::of);
    let parts = supervisor::Parts {
        handover: None,
        job: job.clone(),
        record,
        pair,
        listener,
        sync_fifo,
        ack_fifo,
        log,
        reader: File::open(job.log_path()).ok(),
        screen,
        modes,
        scrollback: super::model_scrollback(config),
        shell,
        detached: false,
    };
    supervisor::spawn(parts)?;
    // No standby was ready for this line: one for the next (its failure
    // costs only speed).
    if let (Some(token), Some(pid)) = (a.token, a.shell_pid) {
        standby::spawn(pid, token, a.screen);
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n",
        job.id,
        tty,
        String::from_utf8_lossy(std::os::unix::ffi::OsStrExt::as_bytes(preload.as_os_str())),
        shown(&job.dir).display()
    ))
}

/// What a line's job needs in its directory before the line runs.
struct Doors<const N: usize> {
    pair: pty::Pair,
    /// The pty's name (`/dev/pts/N`).
    tty: String,
    /// The socket clients attach through.
    listener: OwnedFd,
    /// The FIFOs asked for, in that order, open for reading and writing.
    fifos: [OwnedFd; N],
}

/// Opens a pty and makes the socket and the FIFOs `fifos` in `job`'s
/// directory: for `line start`, and for a standby ahead of its line.
fn open_doors<const N: usize>(job: &Job, fifos: [&str; N]) -> Result<Doors<N>> {
    let pair = pty::open_pair().map_err(|e| Error::io("open a pseudo-terminal", &e))?;
    let tty = pty::name(&pair.master)
        .ok_or_else(|| Error::failure("cannot name the line's pseudo-terminal"))?;
    let sock =
        SocketPath::new(&job.sock_path()).map_err(|e| Error::io("reach the job directory", &e))?;
    let listener = os::listen(&sock.path).map_err(|e| {
        Error::io(
            format_args!("create the socket '{}'", shown(&job.sock_path()).display()),
            &e,
        )
    })?;
    drop(sock);
    let fifos = fifos
        .iter()
        .map(|name| {
            let path = job.dir.join(name);
            make_fifo(&path).map_err(|e| {
                Error::io(
                    format_args!("create '{}'", shown(&path).display()),
                    &e.into(),
                )
            })?;
            open_fifo(&path)
                .map_err(|e| Error::io(format_args!("open '{}'", shown(&path).display()), &e))
        })
        .collect::<Result<Vec<_>>>()?;
    let fifos = fifos
        .try_into()
        .unwrap_or_else(|_| unreachable!("one FIFO per name"));
    Ok(Doors {
        pair,
        tty,
        listener,
        fifos,
    })
}

/// The line's terminal starts as a copy of the user's `screen`: same modes
/// (so output is processed the same way), same size. Returns the user's
/// modes as the line found them.
fn copy_terminal(screen: &OwnedFd, pair: &pty::Pair) -> Option<pty::Termios> {
    let modes = pty::termios(screen);
    if let Some(t) = &modes {
        let _ = pty::set_termios(&pair.slave, t);
    }
    if let Some(ws) = pty::winsize(screen) {
        let _ = pty::set_winsize(&pair.master, &ws);
    }
    modes
}

/// Makes a FIFO only its owner may open.
fn make_fifo(path: &Path) -> rustix::io::Result<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
}

/// Opens a FIFO for reading and writing (never blocks, never sees end of
/// file), non-blocking.
fn open_fifo(path: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// A new open file description of the terminal on the shell's `fd`,
/// non-blocking, never becoming anyone's controlling terminal: writes to
/// it do not change the shell's own flags.
fn reopen_terminal(fd: i32) -> Option<OwnedFd> {
    let flags = OFlags::WRONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let f = rustix::fs::open(format!("/proc/self/fd/{fd}"), flags, Mode::empty()).ok()?;
    os::isatty(&f).then_some(f)
}

/// `line end`: tells the line's supervisor the shell is done with it and
/// waits (a little) until its output is on the user's terminal.
pub fn end(id: &str, status: Option<i32>) -> Result<()> {
    let (_, job) = find_job(id)?;
    // A supervisor that is gone has nothing to show: the prompt comes.
    let Ok(fd) = os::connect(&job.sock_path()) else {
        return Ok(());
    };
    let payload = status.map(|s| s.to_be_bytes().to_vec()).unwrap_or_default();
    if os::write_all(&fd, &proto::frame(SYNC, &payload)).is_err() {
        return Ok(());
    }
    let mut d = Decoder::default();
    let deadline = Instant::now() + SYNC_PATIENCE + Duration::from_secs(1);
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        if os::poll(&mut p, Some(left)).is_err() {
            break;
        }
        match d.fill_from(&fd) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Ok(Some((kind, _))) = d.peek() {
            if kind == SYNCED {
                return Ok(());
            }
            d.consume();
        }
    }
    Ok(())
}
