//! The job verbs: `ps`, `logs`, `attach`, `stop`, `signal`, `forget`,
//! `gc`, `wait`, and `rerun`'s first half (main runs the command, as for
//! `hupsafe CMD`); `ending` is what `wait` and `logs -f` share. Their clap
//! definitions live in args.rs (flattened into `args::Verb`), one file per
//! verb here.

mod attach;
mod ending;
mod forget;
mod logs;
mod ps;
pub mod rerun;
mod stop;
mod wait;

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
        JobVerb::Wait(a) => wait::run(&a),
    }
}
