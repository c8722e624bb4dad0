//! The job verbs: `ps`, `logs`, `attach`, `stop`, `signal`, `forget`,
//! `gc`. Their clap definitions live here (flattened into `cmd::Verb`),
//! one file per verb beside them.

mod attach;
mod forget;
mod logs;
mod ps;
mod stop;

use clap::{Args, Subcommand};

use crate::error::Result;

const EXIT_STATUS: &str = "\
Exit status: 0 on success; 1 if no job has that id, or the job is in the wrong
state for this (already finished, still running); 2 for an ambiguous id prefix
or a bad argument (signal name); 125 if hupsafe itself fails.

Jobs are kept in $XDG_STATE_HOME/hupsafe (default ~/.local/state/hupsafe; the
HUPSAFE_STATE_DIR variable overrides it). An id may be shortened to any prefix
that names one job.";

const ATTACH_HELP: &str = "\
Detach: Ctrl-] then d (the job keeps running); Ctrl-] twice sends one Ctrl-].
Ctrl-C, Ctrl-Z and every other key go to the program, as if its terminal were
yours; after Ctrl-Z, fg or bg continue it. Attaching to a stopped job continues
it.

Exit status: the program's (128+N if signal N killed it) if it ends while
attached; 0 after detaching; 1 if no job has that id or it has finished
(see its output with `hupsafe logs ID`); 2 for an ambiguous id prefix; 125 if
hupsafe itself fails.";

#[derive(Subcommand, Debug)]
pub enum JobVerb {
    /// List your relayed jobs: running, stopped, finished and lost
    #[command(after_help = EXIT_STATUS)]
    Ps(PsArgs),
    /// Print a job's output, raw as the program wrote it
    #[command(after_help = EXIT_STATUS)]
    Logs(LogsArgs),
    /// Reattach this terminal to a running job
    #[command(after_help = ATTACH_HELP)]
    Attach(AttachArgs),
    /// Stop a job: SIGTERM to its process group, SIGKILL after a grace period
    #[command(after_help = EXIT_STATUS)]
    Stop(StopArgs),
    /// Send a signal to a job's process group
    #[command(after_help = EXIT_STATUS)]
    Signal(SignalArgs),
    /// Remove finished jobs: their records and logs
    #[command(after_help = EXIT_STATUS)]
    Forget(ForgetArgs),
    /// Forget every finished or lost job
    #[command(after_help = EXIT_STATUS)]
    Gc,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// One JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing what the job writes until it ends
    #[arg(short, long)]
    pub follow: bool,
    /// Start with the last N lines only
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<u64>,
    /// The job (an id or a unique prefix; see `hupsafe ps`)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Replay up to this many bytes of recent output first
    #[arg(long, value_name = "BYTES", default_value_t = 16384)]
    pub replay: u32,
    /// The job (an id or a unique prefix; see `hupsafe ps`)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds between SIGTERM and SIGKILL
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub grace: f64,
    /// The job (an id or a unique prefix; see `hupsafe ps`)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct SignalArgs {
    /// A signal name or number: TERM, SIGTERM, term, 15, RTMIN+1
    #[arg(value_name = "SIG", allow_hyphen_values = true)]
    pub signal: String,
    /// The job (an id or a unique prefix; see `hupsafe ps`)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// The jobs (ids or unique prefixes)
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
}

/// Runs a job verb.
pub fn run(verb: JobVerb) -> Result<()> {
    match verb {
        JobVerb::Ps(a) => ps::run(&a),
        JobVerb::Logs(a) => logs::run(&a),
        JobVerb::Attach(a) => attach::run(&a),
        JobVerb::Stop(a) => stop::stop(&a),
        JobVerb::Signal(a) => stop::signal(&a),
        JobVerb::Forget(a) => forget::forget(&a),
        JobVerb::Gc => forget::gc(),
    }
}
