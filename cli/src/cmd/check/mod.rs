//! `hupsafe check [PID...]`: would these processes survive a hangup, and if not, why.
//!
//! Each process and its descendants get one line: `survives`, `at risk: ...` or `dies: ...`, with
//! the reasons and the fix. The reasoning is docs/HANGUPS.md ("Who sends SIGHUP" to "Blocked SIGHUP
//! is queued", and "EIO after a hangup") applied to what `/proc` shows ([`crate::sys::proc`]): who
//! would send SIGHUP (the kernel to a session leader and to the foreground group, bash or zsh to
//! their jobs, bash's SIGTERM to stopped ones, the kernel's HUP+CONT to an orphaned stopped group),
//! what the process would do with it (ignored, caught, default, blocked and so queued, held ignored
//! by the shim), whether its output goes to a terminal that would answer EIO, whether its terminal
//! is one a hupsafe supervisor holds (the relay), and whether logind would kill its session scope
//! anyway.
//!
//! [`gather`] reads the system into a [`gather::Snapshot`] and what each
//! process shows ([`model::Seen`]); [`assess`] judges it by the rules into
//! the reasons and verdict of [`model`]; [`report`] writes the lines, as
//! text or JSON.

use std::collections::HashSet;

use crate::args::CheckArgs;
use crate::error::{write_stdout, Error, Result, EXIT_BAD_INPUT};

mod assess;
mod gather;
mod model;
mod report;

use gather::Snapshot;
use report::Row;

/// `hupsafe check [PID...]`.
pub fn run(args: &CheckArgs) -> Result<()> {
    let asked = parse_pids(&args.pids)?;
    let snap = Snapshot::take();
    let (session, roots) = if asked.is_empty() {
        let (s, r) = gather::session_roots(&snap)?;
        (Some(s), r)
    } else {
        (None, asked.clone())
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: HashSet<i32> = HashSet::new();
    for pid in roots {
        walk(&snap, pid, 0, &mut rows, &mut seen);
    }
    let status = rows
        .iter()
        .map(|r| r.verdict.exit_status())
        .max()
        .unwrap_or(0);
    let text = if args.json {
        report::json(session.as_ref(), &rows, status)?
    } else {
        report::text(session.as_ref(), &rows)
    };
    write_stdout(text.as_bytes())?;
    if status != 0 {
        std::process::exit(status);
    }
    Ok(())
}

/// Judges `pid`, then its children (and, for a relay client, the job's
/// program), each once.
fn walk(snap: &Snapshot, pid: i32, depth: usize, rows: &mut Vec<Row>, done: &mut HashSet<i32>) {
    if !done.insert(pid) {
        return;
    }
    let seen = snap.look(pid);
    let (verdict, reasons) = assess::judge(pid, &seen);
    if verdict == model::Verdict::NoSuchProcess && depth > 0 {
        // A descendant that ended while we looked: nothing to report.
        return;
    }
    rows.push(report::row(pid, depth, &seen, verdict, &reasons));
    let mut kids: Vec<i32> = snap.table.children(pid).to_vec();
    if let model::Seen::Live(l) = &seen {
        kids.extend(l.client.as_ref().and_then(|c| c.program));
    }
    for k in kids {
        walk(snap, k, depth + 1, rows, done);
    }
}

/// Parses the PIDs; anything else is bad input (exit 2).
fn parse_pids(args: &[String]) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    for a in args {
        match a.parse::<i32>() {
            Ok(p) if p > 0 => pids.push(p),
            _ => {
                let hint = if a.starts_with('%') {
                    format!(
                        " ({a} is a job of your shell; its processes: hupsafe check $(jobs -p {a}))"
                    )
                } else {
                    String::new()
                };
                return Err(Error::new(
                    EXIT_BAD_INPUT,
                    format!(
                        "check: '{a}' is not a process id (a positive number, as ps \
                         shows){hint}"
                    ),
                ));
            }
        }
    }
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pids() {
        assert_eq!(parse_pids(&["12".into(), "3".into()]).unwrap(), [12, 3]);
        for bad in ["abc", "0", "-5", "12x", "", "%1"] {
            let e = parse_pids(&[bad.to_string()]).unwrap_err();
            assert_eq!(e.status, EXIT_BAD_INPUT, "{bad}");
        }
    }
}
