//! `hupsafe`: run commands that survive a closed terminal or a dropped SSH
//! link. `main` only picks the personality (hupsafe, or GNU nohup when
//! started as `nohup`), parses, dispatches, and maps errors to exit
//! statuses; each verb lives in its own module.
//!
//! The entry point is hupsafe's own (`no_main`): it does the part of Rust's
//! start-up that hupsafe relies on itself (`sys::startup::init`).

#![cfg_attr(not(test), no_main)]

#[macro_use]
mod error;
mod args;
mod cmd;
mod config;
mod marks;
mod nohup;
mod registry;
mod relay;
mod sys;

use clap::{CommandFactory, FromArgMatches};

use args::{Cli, ShellVerb, Verb};
use error::{write_stdout, Error, EXIT_FAILURE};

/// The C entry point. Rust's own start-up also finds the main thread's
/// stack guard, which glibc does by reading and parsing /proc/self/maps:
/// about 0.1 ms of every start (README, Benchmarks); hupsafe skips it.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    sys::startup::init();
    hupsafe_main()
}

#[cfg_attr(test, allow(dead_code))]
fn hupsafe_main() -> ! {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.first().is_some_and(|a| nohup::invoked_as_nohup(a)) {
        nohup::main(args);
    }
    // The completion scripts' own verb: not clap's (its scripts would
    // offer it), and asked at every TAB where a job goes.
    let status = if args
        .get(1)
        .is_some_and(|a| a == cmd::completions::JOBS_VERB)
    {
        cmd::completions::jobs(&args[2..])
    } else {
        match external_command(&args) {
            Some(command) => run(command, Asked::default()),
            None => real_main(),
        }
    };
    let status = match status {
        Ok(()) => 0,
        Err(e) => {
            say!("{}", e.message);
            e.status
        }
    };
    std::process::exit(status);
}

/// `hupsafe CMD ARGS...` where CMD is neither an option nor a verb: what
/// clap parses as `Verb::External` with every option at its default, found
/// without building the parser (README, Benchmarks: start-up).
fn external_command(args: &[std::ffi::OsString]) -> Option<&[std::ffi::OsString]> {
    let first = args.get(1)?.to_str()?;
    let plain = !first.is_empty() && !first.starts_with('-') && !args::VERBS.contains(&first);
    plain.then(|| &args[1..])
}

/// How `hupsafe CMD` was asked to run, as the command line says it.
#[derive(Default)]
struct Asked<'a> {
    quiet: bool,
    strict: bool,
    force_relay: bool,
    no_relay: bool,
    detach: bool,
    name: Option<&'a str>,
    job: relay::JobOptions,
}

/// Runs `command` (CMD and its arguments) protected; returns only on
/// failure (or, detached, once the job is started).
fn run(command: &[std::ffi::OsString], asked: Asked) -> Result<(), Error> {
    let (cmd, args) = command.split_first().expect("clap requires a command");
    if let Some(name) = asked.name {
        registry::check_name(name)?;
    }
    let opts = cmd::run::RunOptions {
        quiet: asked.quiet,
        strict: asked.strict,
        // Detached, the relay is the point: HUPSAFE_RELAY does not apply.
        relay: if asked.detach {
            relay::Choice::Always
        } else {
            relay::choose(asked.force_relay, asked.no_relay)?
        },
        detach: asked.detach,
        name: asked.name.map(str::to_string),
        job: asked.job,
    };
    Err(cmd::run::exec(cmd, args, &opts))
}

fn real_main() -> Result<(), Error> {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => EXIT_FAILURE,
            };
            // clap's print() ignores a full stdout; --help into /dev/full
            // must fail like any other write.
            if code == 0 {
                let help = e.render();
                let text = if colour_on_stdout() {
                    help.ansi().to_string()
                } else {
                    help.to_string()
                };
                write_stdout(text.as_bytes())?;
            } else {
                let _ = e.print();
            }
            std::process::exit(code);
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| Error::failure(e.to_string()))?;
    let job = job_options(&cli)?;
    let name = cli.job_name.as_deref();
    let run = |command: &[std::ffi::OsString]| {
        let asked = Asked {
            quiet: cli.quiet,
            strict: cli.strict,
            force_relay: cli.relay,
            no_relay: cli.no_relay,
            detach: cli.detach,
            name,
            job: job.clone(),
        };
        run(command, asked)
    };
    let runs = matches!(
        cli.command,
        Some(Verb::Run(_) | Verb::External(_) | Verb::Rerun(_))
    );
    if !runs && (cli.detach || name.is_some()) {
        let flag = if cli.detach { "--detach" } else { "--name" };
        return Err(Error::new(
            error::EXIT_BAD_INPUT,
            format!(
                "{flag} goes with a command to run: hupsafe -d --name NAME CMD ARGS..., \
                 or hupsafe run --detach --name NAME -- CMD ARGS..."
            ),
        ));
    }
    match cli.command {
        None => Err(Error::failure(
            "no command given\nUsage: hupsafe [OPTIONS] CMD [ARGS]...\nTry 'hupsafe --help' for more information.",
        )),
        Some(Verb::Run(r)) => run(&r.command),
        Some(Verb::External(v)) => run(&v),
        Some(Verb::Job(j)) => cmd::jobs::run(j),
        Some(Verb::Rerun(a)) => {
            // Options given with `rerun` are added to the job's own.
            let again = cmd::jobs::rerun::prepare(&a, cli.quiet)?;
            let (cmd, args) = again.argv.split_first().expect("a saved argv is not empty");
            let relay = match (cli.no_relay, cli.relay) {
                (true, _) => relay::Choice::Never,
                (_, true) => relay::Choice::Always,
                _ => again.relay,
            };
            // In place (--no-relay) there is no job to name.
            let saved_name = again.name.filter(|_| relay != relay::Choice::Never);
            let name = name.map(str::to_string).or(saved_name);
            if let Some(name) = &name {
                registry::check_name(name)?;
            }
            let opts = cmd::run::RunOptions {
                quiet: again.quiet,
                strict: again.strict || cli.strict,
                relay,
                job: relay::JobOptions {
                    log_max: job.log_max.or(again.job.log_max),
                    notify: job.notify || again.job.notify,
                    on_exit: job.on_exit.clone().or(again.job.on_exit),
                },
                detach: cli.detach,
                name,
            };
            Err(cmd::run::exec(cmd, args, &opts))
        }
        Some(Verb::Line(l)) => cmd::line::run(l),
        Some(Verb::Shim) => {
            let p = sys::preload::install()?;
            let mut line = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
            line.push(b'\n');
            write_stdout(&line)
        }
        Some(Verb::InstallNohup(a)) => cmd::install_nohup::install(&a.dir),
        Some(Verb::Completions(a)) => cmd::completions::print(a.shell),
        Some(Verb::Man) => cmd::man::print(),
        Some(Verb::Check(a)) => cmd::check::run(&a),
        Some(Verb::Doctor(a)) => cmd::doctor::run(&a),
        Some(Verb::Shell(ShellVerb::Init(a))) => cmd::init::run(&a),
        Some(Verb::Shell(ShellVerb::Mark(a))) => cmd::marks::mark(&a),
        Some(Verb::Shell(ShellVerb::Unmark(a))) => cmd::marks::unmark(&a),
        Some(Verb::Shell(ShellVerb::Marks(a))) => cmd::marks::list(&a),
        Some(Verb::Rescue(a)) => cmd::rescue::run(&a),
        Some(Verb::Wrap(a)) => cmd::wrap::wrap(&a),
        Some(Verb::Unwrap(a)) => cmd::wrap::unwrap(&a),
        Some(Verb::Install(a)) => cmd::wrap::install_system(&a),
    }
}

/// `--log-max`, `--notify` and `--on-exit`, checked: a bad size, or an
/// on-exit command that could not run when the job ends, is refused now.
fn job_options(cli: &Cli) -> Result<relay::JobOptions, Error> {
    let bad = |why: String| Error::new(error::EXIT_BAD_INPUT, why);
    let log_max = match &cli.log_max {
        Some(s) => Some(config::parse_size(s).map_err(|why| bad(format!("--log-max: {why}")))?),
        None => None,
    };
    if let Some(cmd) = &cli.on_exit {
        relay::supervisor::ended::check_command(cmd)
            .map_err(|why| bad(format!("--on-exit: {why}")))?;
    }
    Ok(relay::JobOptions {
        log_max,
        notify: cli.notify,
        on_exit: cli.on_exit.clone(),
    })
}

/// Whether help on stdout may carry colour: stdout is a terminal that says
/// it has colours (`TERM` set, not `dumb`) and `NO_COLOR` is unset or empty
/// (no-color.org). clap decides the same way for its usage errors on stderr.
fn colour_on_stdout() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let term = std::env::var_os("TERM").filter(|t| !t.is_empty() && t != "dumb");
    !no_color && term.is_some() && std::io::stdout().is_terminal()
}
