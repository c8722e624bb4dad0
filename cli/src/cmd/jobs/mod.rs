//! The job verbs: `ps`, `logs`, `attach`, `stop`, `signal`, `forget`,
//! `gc`. Their clap definitions live here (flattened into `cmd::Verb`),
//! one file per verb beside them.

mod attach;
mod forget;
mod logs;
mod ps;
mod stop;

use crate::args::JobVerb;

use crate::error::Result;

/// Runs a job verb.
pub fn run(verb: JobVerb) -> Result<()> {
    match verb {
        JobVerb::Ps(a) => ps::run(&a),
        JobVerb::Logs(a) => logs::run(&a),
        JobVerb::Attach(a) => attach::run(&a),
        JobVerb::Stop(a) => stop::stop(&a),
        JobVerb::Signal(a) => stop::signal(&a),
        JobVerb::Forget(a) => forget::forget(&a),
        JobVerb::Gc(a) => forget::gc(&a),
    }
}
