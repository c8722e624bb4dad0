//! The command line: clap definitions for every verb, with the help text,
//! examples and environment knobs. `completions` and `man` render from the
//! same definitions, so the three never disagree.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const AFTER_HELP: &str = "\
Examples:
  hupsafe python train.py --epochs 90     run protected (same as `hupsafe run -- ...`)
  hupsafe run --quiet -- make -j8         the explicit form, for commands named like a verb
  hupsafe install-nohup ~/.local/bin      make `nohup CMD` mean GNU nohup plus hupsafe
  LD_PRELOAD=$(hupsafe shim) node app.js  use the shim directly
  hupsafe ps; hupsafe attach 3            find a relayed job again after a hangup
  hupsafe completions bash > ~/.local/share/bash-completion/completions/hupsafe
  hupsafe man > ~/.local/share/man/man1/hupsafe.1

Environment:
  HUPSAFE_LIB_DIR   where the shim is written (default: $XDG_DATA_HOME/hupsafe/lib,
                    else $HOME/.local/share/hupsafe/lib, else /var/tmp/hupsafe-UID,
                    else /tmp/hupsafe-UID); must be yours, private (0700), absolute,
                    without spaces or colons (LD_PRELOAD cannot carry those)
  XDG_DATA_HOME, HOME
                    pick the default shim directory (see above)
  LD_PRELOAD        kept: the shim is added to it (after a sanitizer runtime, never
                    twice); entries that are relative or missing are kept with a note
  POSIXLY_CORRECT   as `nohup`: its own failures exit 127 instead of 125, like GNU nohup
  HUPSAFE_RELAY     auto (default): when stdout or stderr is a terminal, run the command
                    on a pty of its own held by a per-job supervisor, log its output and
                    relay it, so it outlives the terminal (see ps, logs, attach); 0: exec
                    in place (same as --no-relay); 1: relay even without a terminal
  HUPSAFE_STATE_DIR where jobs are kept (default: $XDG_STATE_HOME/hupsafe, else
                    $HOME/.local/state/hupsafe); must be yours and private (0700)

Relayed: keys, Ctrl-C, Ctrl-Z (then fg/bg) and resizes reach the program as on
its own terminal; Ctrl-] then d detaches, leaving the job running.

As nohup: when started under the name `nohup` (a symlink; see install-nohup),
hupsafe behaves exactly like GNU nohup (options, nohup.out, messages, exit
statuses) and also preloads the shim. `nohup --help` describes that mode.

Exit status: the command's own; 125 if hupsafe itself fails, 126 if the command
cannot be run, 127 if it is not found.";

#[derive(Parser, Debug)]
#[command(
    name = "hupsafe",
    version,
    about = "Run a command that survives a closed terminal or a dropped SSH link, \
             even if it tries to undo the protection",
    after_help = AFTER_HELP,
    allow_external_subcommands = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands (anything else is run as a program)"
)]
pub struct Cli {
    /// Do not print notes (errors are always printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Exec the command in place even when its output is a terminal: no
    /// job, no log, no reattaching
    #[arg(long, global = true)]
    pub no_relay: bool,

    /// Relay even when neither stdout nor stderr is a terminal
    #[arg(long, global = true, hide = true, conflicts_with = "no_relay")]
    pub relay: bool,

    #[arg(long, global = true, help = crate::sys::strict::HELP)]
    pub strict: bool,

    #[command(subcommand)]
    pub command: Option<Verb>,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Run CMD protected: `hupsafe run [OPTIONS] -- CMD ARGS...`
    Run(RunArgs),
    /// Install the shim if needed and print its path (for LD_PRELOAD)
    Shim,
    /// Make `nohup` in DIR mean hupsafe's GNU nohup drop-in (a symlink)
    #[command(name = "install-nohup")]
    InstallNohup(InstallNohupArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man,
    /// Would these processes survive a hangup, and if not, why
    #[command(after_help = crate::check::CHECK_HELP)]
    Check(crate::check::CheckArgs),
    /// Check the environment, and predict the protection CMD would get
    #[command(after_help = crate::doctor::DOCTOR_HELP)]
    Doctor(crate::doctor::DoctorArgs),
    /// Protect a program started by others: a PATH wrapper, or --embed
    #[command(after_help = crate::wrap::WRAP_HELP)]
    Wrap(crate::wrap::WrapArgs),
    /// Remove a wrapper written by `hupsafe wrap`
    Unwrap(crate::wrap::UnwrapArgs),
    /// Install the shim system-wide: `sudo hupsafe install --system`
    Install(crate::wrap::InstallArgs),
    /// Protect a process already running unprotected (ptrace): SIGHUP
    /// ignored, terminal output to a job log
    #[command(after_help = crate::rescue::RESCUE_HELP)]
    Rescue(crate::rescue::RescueArgs),
    #[command(flatten)]
    Job(crate::jobcmd::JobVerb),
    #[command(flatten)]
    Shell(crate::init::ShellVerb),
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct InstallNohupArgs {
    /// Directory for the `nohup` symlink; put it before /usr/bin on PATH
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
