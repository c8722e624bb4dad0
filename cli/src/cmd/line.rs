//! `hupsafe line start|end`: the hidden verbs the shell integration calls
//! around a line it protects ([`crate::relay::line`] does the work).

use crate::args::{LineStartArgs, LineVerb};
use crate::error::{write_stdout, Result};
use crate::relay::line;

pub fn run(verb: LineVerb) -> Result<()> {
    match verb {
        LineVerb::Start(a) => start(&a),
        LineVerb::End(a) => line::end(&a.id, a.status),
        LineVerb::Standby(a) => line::start_standby(a.shell_pid, &a.token, a.screen),
    }
}

fn start(a: &LineStartArgs) -> Result<()> {
    let out = line::start(&line::Start {
        text: &a.text,
        screen: a.screen,
        shell_pid: a.shell_pid,
        token: a.token.as_deref(),
    })?;
    write_stdout(out.as_bytes())
}
