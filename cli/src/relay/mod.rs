//! The relay: output that outlives the terminal.
//!
//! When a protected command's stdout or stderr is a terminal, `hupsafe`
//! does not exec it in place. It registers a job, starts a supervisor
//! (double fork, own session, SIGHUP ignored) that runs the program on a
//! pty of its own and logs everything, and then becomes the first client
//! of that supervisor: the user's terminal in raw mode, relaying keys,
//! output, resizes and job control. The client may die with the terminal;
//! the supervisor and the program never depend on it.
//!
//! - [`supervisor`]: the per-job process that holds the pty;
//! - [`client`]: the user's side, for `hupsafe CMD` and `hupsafe attach`;
//! - [`proto`]: the frames they exchange over the job's socket;
//! - [`pty`]: the pty pair and terminal modes;
//! - [`os`]: the system calls, wrapped.

pub mod client;
pub mod line;
pub mod os;
pub mod proto;
pub mod pty;
pub mod supervisor;

use std::ffi::{OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::process::{Pid, WaitOptions};

use crate::error::{Error, Result};
use crate::registry::{Job, Record, Registry, SocketPath};

/// Environment variable choosing the relay: `1` (always), `0` (never),
/// `auto` (when stdout or stderr is a terminal).
pub const RELAY_VAR: &str = "HUPSAFE_RELAY";

/// Whether `run` relays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Exec in place (the nohup drop-in, `--no-relay`).
    Never,
    /// Relay when stdout or stderr is a terminal.
    Auto,
    /// Relay even without a terminal (the program still gets a pty).
    Always,
}

/// What `run` uses when neither a flag nor the environment says.
pub const DEFAULT: Choice = Choice::Auto;

/// The choice from the command line (`--relay`, `--no-relay`), else from
/// `HUPSAFE_RELAY`, else [`DEFAULT`].
pub fn choose(force: bool, forbid: bool) -> Result<Choice> {
    let choice = if forbid {
        Choice::Never
    } else if force {
        Choice::Always
    } else {
        match std::env::var(RELAY_VAR).as_deref() {
            Err(_) | Ok("") => DEFAULT,
            Ok("1" | "always" | "yes") => Choice::Always,
            Ok("0" | "never" | "no") => Choice::Never,
            Ok("auto") => Choice::Auto,
            Ok(other) => {
                return Err(Error::failure(format!(
                    "{RELAY_VAR}={other} is not understood; use 1 (always relay), \
                     0 (never) or auto (when stdout or stderr is a terminal)"
                )))
            }
        }
    };
    Ok(choice)
}

/// Which of fds 0-2 the program gets on the pty, if the command is to be
/// relayed at all: the ones that are terminals (and, when forced, stdout
/// and stderr whatever they are).
pub fn relayed_fds(choice: Choice) -> Option<[bool; 3]> {
    let tty = [0, 1, 2].map(|fd| os::isatty(os::stdio(fd)));
    match choice {
        Choice::Never => None,
        Choice::Auto => (tty[1] || tty[2]).then_some(tty),
        Choice::Always => Some([tty[0], true, true]),
    }
}

/// Which of fds 0-2 a detached job (`hupsafe -d`) gets on its pty: stdin
/// always (the starting hupsafe's stdin is not the job's to read), and
/// stdout and stderr unless the user sent them to a file (`> out.txt`,
/// which stays that file, as in the attached case). A terminal, a pipe
/// (ssh without -t, cron: its reader goes away), a socket or /dev/null go
/// on the pty, so the output is logged and shown to `attach`.
pub fn detached_fds() -> [bool; 3] {
    let to_file = |fd: i32| {
        rustix::fs::fstat(os::stdio(fd))
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
    };
    [true, !to_file(1), !to_file(2)]
}

/// What a relayed job runs: the program found on PATH, argv as the user
/// typed it, which of fds 0-2 go on the job's pty, the --strict filter,
/// and the job's name (`--name`).
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    pub program: &'a Path,
    pub argv0: &'a OsStr,
    pub args: &'a [OsString],
    pub on_pty: [bool; 3],
    pub strict: Option<&'a crate::sys::strict::Filter>,
    /// What the command line asks of the job.
    pub job: &'a JobOptions,
    pub name: Option<&'a str>,
}

/// Options of a relayed job given on the command line (the config file
/// fills in the rest when the job starts).
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// `--log-max`: the log's cap (else the config file's `log_max`).
    pub log_max: Option<u64>,
    /// `--notify` (else the config file's `notify`).
    pub notify: bool,
    /// `--on-exit CMD`.
    pub on_exit: Option<String>,
}

/// Runs the program under a new supervisor and relays until it ends; exits
/// with its status. Returns only if the job could not be started (with
/// LD_PRELOAD and SIGHUP already prepared by `run`): the error when the
/// relay was asked for (`--relay`), else `None` after a note, and `run`
/// execs in place (the inherited SIG_IGN and the shim still protect the
/// program; only the output is not kept).
pub fn run(launch: &Launch, choice: Choice, quiet: bool) -> Option<Error> {
    let options = crate::registry::RunOptions {
        strict: launch.strict.is_some(),
        quiet,
        relay_always: choice == Choice::Always,
    };
    let conn = match start(launch, options, true) {
        Ok((_, Some(c))) => c,
        Ok((_, None)) => unreachable!("an attached start has a connection"),
        // A name asks for a job: never run in place without one.
        Err(e) if choice == Choice::Always || launch.name.is_some() => return Some(e),
        Err(e) => {
            if !quiet {
                say!(
                    "note: running in place, without the relay (output not \
                     kept if the terminal goes away): {}",
                    e.message
                );
            }
            return None;
        }
    };
    let status = client::run(conn, client::Mode::Started);
    std::process::exit(status)
}

/// The first terminal among fds 0-2: where the user's settings and window
/// size come from.
pub fn user_terminal() -> Option<BorrowedFd<'static>> {
    (0..3).map(os::stdio).find(|&fd| os::isatty(fd))
}

/// Starts the program under a new supervisor with no client (`hupsafe
/// -d`): the supervisor never waits for one; `attach` connects later.
/// Returns the job and its first record once the supervisor is started.
pub fn detach(launch: &Launch, quiet: bool) -> Result<(Job, Record)> {
    let options = crate::registry::RunOptions {
        strict: launch.strict.is_some(),
        quiet,
        relay_always: true,
    };
    let (job, _) = start(launch, options, false)?;
    let record = job
        .read_record()
        .map_err(|why| Error::failure(format!("cannot read job {}'s record: {why}", job.id)))?;
    Ok((job, record))
}

/// The size a job's terminal gets when there is no terminal to copy.
const DEFAULT_SIZE: (u16, u16) = (24, 80);

fn start(
    launch: &Launch,
    run: crate::registry::RunOptions,
    attach: bool,
) -> Result<(Job, Option<client::Connection>)> {
    let config = crate::config::Config::load();
    let registry = Registry::create()?;
    let options = JobOptions {
        log_max: launch.job.log_max.or(config.log_max),
        notify: launch.job.notify || config.notify == Some(true),
        on_exit: launch.job.on_exit.clone(),
    };
    let mut command = vec![launch.argv0.to_os_string()];
    command.extend(launch.args.iter().cloned());
    let mut record = None;
    let job = registry.new_named_job(launch.name, |job| {
        let mut r = Record::new(&job.id, &command);
        r.name = launch.name.map(str::to_string);
        r.options = Some(run);
        r.log_max = options.log_max;
        r.notify = options.notify;
        r.on_exit = options.on_exit.clone();
        job.write_first_record(&r)?;
        record = Some(r);
        Ok(())
    })?;
    let record = record.expect("the first record is written");
    // For `rerun`; the job runs without it (rerun then says so).
    if let Err(e) = job.save_for_rerun(&command) {
        if !run.quiet {
            say!(
                "note: cannot save the command and environment for `hupsafe rerun`: {}",
                crate::error::os_words(&e)
            );
        }
    }
    let screen = model_scrollback(&config);
    match prepare(&job, launch, record, attach, screen) {
        Ok(c) => {
            // The program runs already; old jobs go before we relay.
            if let Some(age) = config.keep_finished {
                registry.expire(age);
            }
            Ok((job, c))
        }
        Err(e) => {
            let _ = job.remove();
            Err(e)
        }
    }
}

/// The screen model's scrollback in lines, or `None`: no model. A knob
/// for the tests' controls turns it off (attach then replays the end of
/// the log, as before the model).
pub(crate) fn model_scrollback(config: &crate::config::Config) -> Option<usize> {
    std::env::var_os("HUPSAFE_TEST_NO_SCREEN_MODEL")
        .is_none()
        .then(|| config.scrollback.unwrap_or(crate::config::SCROLLBACK))
}

fn prepare(
    job: &Job,
    launch: &Launch,
    mut record: Record,
    attach: bool,
    screen: Option<usize>,
) -> Result<Option<client::Connection>> {
    let Launch {
        program,
        argv0,
        args,
        on_pty,
        strict,
        ..
    } = *launch;
    let log = job.create_log()?;
    let pair = pty::open_pair().map_err(|e| Error::io("open a pseudo-terminal", &e))?;
    record.tty = pty::name(&pair.master);
    // The program's terminal starts as a copy of the user's: same modes
    // (echo, erase key, ...), same size. Started in the background, the
    // modes found are the shell's line editor's: cooked again.
    let mut size = None;
    if let Some(tty) = user_terminal() {
        if let Some(t) = pty::termios(tty) {
            let t = if pty::in_foreground(tty) {
                t
            } else {
                pty::cooked(t)
            };
            let _ = pty::set_termios(&pair.slave, &t);
        }
        size = pty::winsize(tty).filter(|ws| ws.ws_row > 0 && ws.ws_col > 0);
    }
    // Without a terminal to copy (ssh without -t, cron), a usual one.
    let ws = size.unwrap_or(rustix::termios::Winsize {
        ws_row: DEFAULT_SIZE.0,
        ws_col: DEFAULT_SIZE.1,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let _ = pty::set_winsize(&pair.master, &ws);
    let sock =
        SocketPath::new(&job.sock_path()).map_err(|e| Error::io("reach the job directory", &e))?;
    let listener = os::listen(&sock.path).map_err(|e| {
        Error::io(
            format!(
                "create the socket '{}'",
                crate::sys::trusted::shown(&job.sock_path()).display()
            ),
            &e,
        )
    })?;
    drop(sock);
    let (ours, theirs) = if attach {
        let (a, b) = os::socketpair().map_err(|e| Error::io("create a socket pair", &e))?;
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let mut stdio = [None, None, None];
    for fd in 0..3 {
        if !on_pty[fd] {
            stdio[fd] = Some(
                os::dup_high(os::stdio(fd as i32))
                    .map_err(|e| Error::io("keep the standard streams", &e))?,
            );
        }
    }
    let (handover, supervisor_end) = Handover::new()?;
    let start = supervisor::Start {
        handover: supervisor_end,
        job: job.clone(),
        record,
        pty: pair,
        listener,
        first: theirs,
        stdio,
        log,
        program: program.to_path_buf(),
        argv0: argv0.to_os_string(),
        args: args.to_vec(),
        strict: strict.cloned(),
        screen,
    };

    if fork_supervisor(false)? {
        drop((ours, handover));
        supervisor::run(start)
    }
    drop(start);
    handover.wait();
    Ok(ours.map(|fd| client::Connection {
        fd,
        job: job.clone(),
    }))
}

/// A start's handover, made before the fork: the starter keeps this end
/// and [`Handover::wait`]s on it; the supervisor is handed the other and
/// closes it once it has written the record in its own name. Until then
/// the record names the starter as its writer, and a reader that found the
/// starter gone would call the job lost: `hupsafe -d CMD` returned and a
/// `hupsafe wait` at once said "lost" (28-51 starts in 100, stdout on
/// /dev/null: bench/detach_ab.py).
pub(in crate::relay) struct Handover(OwnedFd);

impl Handover {
    /// The starter's end, and the supervisor's. The supervisor's holder
    /// and program close their copies of it (the holder keeps only its
    /// socket; exec closes the rest).
    pub fn new() -> Result<(Handover, OwnedFd)> {
        let (starter, supervisor) =
            os::socketpair().map_err(|e| Error::io("create a socket pair", &e))?;
        Ok((Handover(starter), supervisor))
    }

    /// Returns once every copy of the supervisor's end is closed (the
    /// caller drops its own first): the supervisor has written its record,
    /// or died (then the record is the last word: failed, or lost).
    pub fn wait(self) {
        let mut buf = [0u8; 1];
        while matches!(os::read(&self.0, &mut buf), Ok(n) if n > 0) {}
    }
}

/// Forks a supervisor: returns true in it (a new session's leader, nobody's
/// child: we never wait for it) and false here once the intermediate child
/// is reaped. The caller's supervisor side must never return.
///
/// With `child_ok`, a caller that does not lead its process group (the
/// shell's command substitution running `hupsafe line start`) forks once:
/// the child can start a session of its own, and is reparented when the
/// caller exits, a moment later.
pub(in crate::relay) fn fork_supervisor(child_ok: bool) -> Result<bool> {
    let leader = rustix::process::getpgrp() == rustix::process::getpid();
    let twice = leader || !child_ok;
    // SAFETY: hupsafe is single-threaded here, so the child may run
    // ordinary code (rustix has no fork: it leaves process creation to
    // libc). The child forks again and exits: the grandchild is not our
    // child, and, not being a process group leader, it can start a session
    // of its own, which a job's pty becomes the controlling terminal of.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::io(
            "start the supervisor",
            &std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        if twice {
            // SAFETY: in the single-threaded child, as above.
            match unsafe { libc::fork() } {
                0 => {}
                -1 => signal_hook::low_level::exit(1),
                _ => signal_hook::low_level::exit(0),
            }
        }
        let _ = rustix::process::setsid();
        return Ok(true);
    }
    if !twice {
        return Ok(false);
    }
    // Reaping the intermediate child we just forked (a failed wait leaves
    // nothing to judge by: what the supervisor does next will tell).
    let reaped = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
    if let Ok(Some((_, status))) = reaped {
        if status.exit_status() != Some(0) {
            return Err(Error::failure("cannot start the supervisor: fork failed"));
        }
    }
    Ok(false)
}
