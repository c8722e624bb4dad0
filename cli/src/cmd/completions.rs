//! `hupsafe completions bash|zsh|fish`: completion scripts rendered from
//! the clap definitions.

use clap::CommandFactory;

use crate::args::{Cli, Shell};
use crate::error::{write_stdout, Result};

pub fn print(shell: Shell) -> Result<()> {
    let mut buf = Vec::new();
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "hupsafe", &mut buf);
    write_stdout(&buf)
}
