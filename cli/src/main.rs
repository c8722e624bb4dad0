//! `hupsafe`: run commands that survive a closed terminal or a dropped SSH
//! link. `main` only parses and maps errors to exit statuses; each verb
//! lives in its own module.

mod error;
mod preload;
mod run;
mod startup;

use std::ffi::OsString;
use std::io::Write;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use error::{Error, EXIT_FAILURE};

const EXAMPLES: &str = "\
Examples:
  hupsafe python train.py --epochs 90     run protected (same as `hupsafe run -- ...`)
  hupsafe run -- make -j8                 the explicit form, for commands named like a verb
  LD_PRELOAD=$(hupsafe shim) node app.js  use the shim directly

Environment:
  HUPSAFE_LIB_DIR   where the shim is written (default: $XDG_DATA_HOME/hupsafe/lib,
                    else ~/.local/share/hupsafe/lib; must be private, without spaces
                    or colons)

Exit status: the command's own; 125 if hupsafe itself fails, 126 if the command
cannot be run, 127 if it is not found.";

#[derive(Parser, Debug)]
#[command(
    name = "hupsafe",
    version,
    about = "Run a command that survives a closed terminal or a dropped SSH link, \
             even if it tries to undo the protection",
    after_help = EXAMPLES,
    allow_external_subcommands = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands (anything else is run as a program)"
)]
struct Cli {
    /// Do not print notes (errors are always printed)
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Option<Verb>,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Run CMD protected: `hupsafe run [OPTIONS] -- CMD ARGS...`
    Run(RunArgs),
    /// Install the shim if needed and print its path (for LD_PRELOAD)
    Shim,
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<OsString>,
}

fn main() {
    let status = match real_main() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.message);
            e.status
        }
    };
    std::process::exit(status);
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
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| Error::failure(e.to_string()))?;
    let opts = run::RunOptions { quiet: cli.quiet };
    match cli.command {
        None => Err(Error::failure(
            "hupsafe: no command given\nUsage: hupsafe [OPTIONS] CMD [ARGS]...\nTry 'hupsafe --help' for more information.",
        )),
        Some(Verb::Run(r)) => {
            let (cmd, args) = r.command.split_first().expect("clap requires a command");
            Err(run::exec(cmd, args, &opts))
        }
        Some(Verb::External(v)) => {
            let (cmd, args) = v.split_first().expect("external subcommand has a name");
            Err(run::exec(cmd, args, &opts))
        }
        Some(Verb::Shim) => {
            let p = preload::install().map_err(|e| Error::new(e.status, format!("hupsafe: {}", e.message)))?;
            println!("{}", p.display());
            Ok(())
        }
    }
}
