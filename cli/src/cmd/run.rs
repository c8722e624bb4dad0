//! `hupsafe CMD ARGS...`: find the program, preload the shim, ignore
//! SIGHUP, and exec. No hupsafe process stays around: the command's pid,
//! exit status, signals and standard streams are its own.

use std::ffi::{OsStr, OsString};

use crate::error::{Error, EXIT_CANNOT_RUN, EXIT_NOT_FOUND};
use crate::sys::elf::{self, real_ids_concerns, shim_is_noisy, Concern, Target};
use crate::sys::exec::{exec_program, find_program, protect_self, Lookup};
use crate::sys::{preload, startup};

/// Options that shape one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub quiet: bool,
    /// Whether to relay (the nohup drop-in never does).
    pub relay: crate::relay::Choice,
    /// Apply the seccomp filter before exec (implies no relay).
    pub strict: bool,
    /// `--log-max`, `--notify`, `--on-exit`: for the relayed job.
    pub job: crate::relay::JobOptions,
    /// Start a job and return at once (`-d`): print its id, exit 0.
    pub detach: bool,
    /// The job's name (`--name`, already checked); a name asks for a job
    /// even without a terminal.
    pub name: Option<String>,
}

/// Prepares the environment and process state, then replaces hupsafe with
/// the command. Returns only on failure.
pub fn exec(cmd: &OsStr, args: &[OsString], opts: &RunOptions) -> Error {
    let program = match find_program(cmd) {
        Lookup::Program(p) => p,
        Lookup::Missing => return not_found(cmd),
        Lookup::NotRunnable(p, why) => {
            return Error::new(
                EXIT_CANNOT_RUN,
                format!("cannot run '{}': {why}", p.display()),
            )
        }
    };
    if !opts.quiet {
        if let Some(note) = pipeline_note(&cmd.to_string_lossy()) {
            say!("{note}");
        }
    }
    let target = elf::inspect(&program).ok();
    let filter = if opts.strict {
        if target.as_ref().is_some_and(shim_is_noisy) {
            return Error::failure(format!(
                "--strict cannot run '{}': it is a 32-bit program, and the filter \
                 (64-bit system calls) would make the kernel kill it; run it without --strict",
                program.display()
            ));
        }
        match crate::sys::strict::prepare() {
            Ok(f) => Some(f),
            Err(e) => return e,
        }
    } else {
        None
    };
    // Under --strict the warning below says what protects the program.
    if !opts.quiet && !opts.strict {
        if let Some(note) = target.as_ref().and_then(note_for) {
            say!("{note}");
        }
    }
    // Every dynamic loader gets the shim, musl's included (it depends on
    // libc.so.6 only, which musl's loader takes as itself); the ones that
    // cannot use it (static, 32-bit, secure mode) ignore it, as their
    // children may not.
    let existing = std::env::var_os("LD_PRELOAD");
    // An explicit HUPSAFE_LIB_DIR that cannot be used is an error; without
    // one, no usable place (HOME unusable, /var/tmp taken) still runs the
    // command, with SIGHUP ignored but without the shim, after a note.
    let explicit = std::env::var_os(crate::sys::dirs::LIB.var).is_some_and(|d| !d.is_empty());
    match preload::install() {
        Ok(shim) => {
            let (value, remarks) = preload::compose(existing.as_deref(), &shim);
            if !opts.quiet {
                for r in remarks {
                    say!("note: {r}");
                }
            }
            std::env::set_var("LD_PRELOAD", &value);
        }
        Err(e) if explicit => return e,
        Err(e) => {
            if !opts.quiet {
                say!(
                    "note: running without the shim (SIGHUP stays ignored, but the program \
                     can undo that): {}",
                    e.message
                );
            }
            match preload::without_shim(existing.as_deref()) {
                Some(v) => std::env::set_var("LD_PRELOAD", v),
                None => std::env::remove_var("LD_PRELOAD"),
            }
        }
    }
    protect_self();
    startup::restore_sigpipe();
    if filter.is_some() && !opts.quiet {
        say!("{}", crate::sys::strict::WARNING);
        let secure = target.as_ref().map(real_ids_concerns).and_then(|c| {
            c.into_iter().find_map(|c| match c {
                Concern::SecureExec(why) => Some(why),
                _ => None,
            })
        });
        if let Some(why) = secure {
            say!(
                "warning: --strict: '{}' runs {why}: under no_new_privs the \
                 kernel runs it without elevating (with your own ids), so it may fail",
                program.display()
            );
        }
    }
    let name = opts.name.as_deref();
    if opts.detach {
        let launch = crate::relay::Launch {
            program: &program,
            argv0: cmd,
            args,
            on_pty: crate::relay::detached_fds(),
            strict: filter.as_ref(),
            job: &opts.job,
            name,
        };
        return match crate::relay::detach(&launch, opts.quiet) {
            Ok((job, record)) => started(&job.id, &record, opts.quiet),
            Err(e) => e,
        };
    }
    let on_pty = crate::relay::relayed_fds(opts.relay).or_else(|| {
        // A name asks for a job, as --relay does.
        name.and_then(|_| crate::relay::relayed_fds(crate::relay::Choice::Always))
    });
    if let Some(on_pty) = on_pty {
        let launch = crate::relay::Launch {
            program: &program,
            argv0: cmd,
            args,
            on_pty,
            strict: filter.as_ref(),
            job: &opts.job,
            name,
        };
        if let Some(e) = crate::relay::run(&launch, opts.relay, opts.quiet) {
            return e;
        }
    }
    if let Some(f) = &filter {
        if let Err(e) = crate::sys::strict::apply(f) {
            return e;
        }
    }
    exec_program(&program, cmd, args)
}

/// A detached job is started: its id (and name) on stdout, for scripts,
/// and, on a terminal, how to reach it; then exit 0.
fn started(id: &str, record: &crate::registry::Record, quiet: bool) -> Error {
    let line = match &record.name {
        Some(name) => format!("{id} {name}\n"),
        None => format!("{id}\n"),
    };
    if let Err(e) = crate::error::write_stdout(line.as_bytes()) {
        return e;
    }
    if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let called = record.name.as_deref().unwrap_or(id);
        say!(
            "{}",
            crate::sys::words::visible(&format!(
                "note: job {id} started detached: hupsafe logs -f {called}; hupsafe attach {called}"
            ))
        );
    }
    std::process::exit(0)
}

/// The one note `run` prints when the shim will not reach the program:
/// what still protects it, and what would do more.
pub fn note_for(t: &Target) -> Option<String> {
    let concerns = real_ids_concerns(t);
    if concerns.is_empty() {
        return None;
    }
    let executed = t.executed()?;
    let subject = if executed.path == t.path {
        format!("'{}'", t.path.display())
    } else {
        format!(
            "'{}' is run by '{}', which",
            t.path.display(),
            executed.path.display()
        )
    };
    let reasons: Vec<String> = concerns.iter().map(|c| c.to_string()).collect();
    let mut more = String::new();
    if concerns.iter().any(|c| matches!(c, Concern::Static)) {
        more.push_str(
            "; `hupsafe run --strict -- CMD` (seccomp: the kernel turns the change into a \
             no-op; see --help for its costs) would enforce it",
        );
    }
    if concerns.iter().any(|c| matches!(c, Concern::WrongClass(_))) {
        more.push_str("; its 64-bit children still get the shim");
    }
    Some(format!(
        "note: {subject} {}: only the inherited SIG_IGN protects it, and the \
         program can take SIGHUP back by setting its own handler{more}",
        reasons.join(", and ")
    ))
}

fn not_found(cmd: &OsStr) -> Error {
    let name = cmd.to_string_lossy();
    // Shell words are not programs: running them under hupsafe cannot
    // work, and the user deserves to be told why.
    if crate::sys::words::is_shell_word(&name) {
        let kind = if crate::sys::words::KEYWORDS.contains(&name.as_ref()) {
            "keyword"
        } else {
            "builtin"
        };
        return Error::new(
            EXIT_NOT_FOUND,
            format!(
                "'{name}' is a shell {kind}, not a program: hupsafe can only run \
                 programs. Run a shell instead, e.g.: hupsafe bash -c '{name} ...'"
            ),
        );
    }
    Error::new(
        EXIT_NOT_FOUND,
        format!("'{name}': command not found (not a program on PATH; aliases and shell functions cannot be run)"),
    )
}

/// `hupsafe CMD | tee log` typed without the shell integration: hupsafe
/// protects CMD, but `tee` is an ordinary member of the same terminal job
/// and dies of the hangup, and CMD then writes into a broken pipe. hupsafe
/// cannot reach the rest of the line from inside it; it says so once, and
/// names what can. The note, for a stdout that is a pipe read by another
/// process of the same terminal job (same process group, same controlling
/// terminal) that does not ignore SIGHUP; `None` otherwise.
///
/// hupsafe may run before the shell has started the next stage: while no
/// other process of the job holds the pipe, it looks again for up to
/// [`WAIT_FOR_READER`]. Not in a job of its own (in `$(...)`, where the
/// shell itself reads), it says nothing.
fn pipeline_note(cmd: &str) -> Option<String> {
    use crate::sys::proc;
    // Through /proc, the link names the pipe (`pipe:[INODE]`).
    let link = std::fs::read_link("/proc/self/fd/1").ok()?;
    let link = link.to_str()?;
    if !link.starts_with("pipe:[") {
        return None;
    }
    let me = proc::stat(std::process::id() as i32).ok()?;
    if me.tty_nr == 0 || me.pgrp == me.session {
        return None;
    }
    let deadline = std::time::Instant::now() + WAIT_FOR_READER;
    loop {
        let reader = proc::holding_pipe(link).into_iter().find_map(|pid| {
            let st = proc::stat(pid).ok()?;
            (st.pgrp == me.pgrp && st.tty_nr == me.tty_nr).then_some(st)
        });
        match reader {
            Some(st) if proc::status(st.pid).is_ok_and(|s| s.ignores(libc::SIGHUP)) => return None,
            Some(st) => {
                return Some(format!(
                    "note: this protects {cmd} only, not the rest of its pipeline: '{}' (pid {}) \
                     reads its output and will die with the terminal, and {cmd} then writes \
                     into a broken pipe. To protect the whole line, start it with `hs` or mark \
                     {cmd} (`hupsafe mark {cmd}`), with the shell integration loaded \
                     (eval \"$(hupsafe init bash)\", or zsh)",
                    st.comm, st.pid
                ))
            }
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            None => return None,
        }
    }
}

/// How long `run` waits for the shell to start the stage that reads it.
const WAIT_FOR_READER: std::time::Duration = std::time::Duration::from_millis(100);
