//! `hupsafe man`: the manual page (roff), rendered from the clap
//! definitions, on stdout.

use clap::CommandFactory;

use crate::args::Cli;
use crate::error::{os_words, write_stdout, Error, Result};

pub fn print() -> Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::failure(format!("cannot render the manual: {}", os_words(&e))))?;
    write_stdout(&buf)
}
