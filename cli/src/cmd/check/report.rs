//! The report of `check`: one line per process, as text or as JSON.
//!
//! A line has the verdict, the reasons that decide it and the fixes in
//! words; `--json` adds the facts each verdict rests on.

use serde::Serialize;

use super::model::{
    Disposition, Fix, Live, Named, Owner, Reason, Seen, Session, Severity, Verdict,
};
use crate::error::{Error, Result};
use crate::sys::proc::{Fd, Stat};

/// One line of the report.
#[derive(Serialize, Debug)]
pub struct Row {
    pid: i32,
    /// Nesting under the process it descends from (0: asked for).
    depth: usize,
    comm: String,
    command: Vec<String>,
    pub verdict: Verdict,
    reasons: Vec<ReasonOut>,
    fixes: Vec<String>,
    facts: Option<FactsOut>,
}

/// A reason as shown: how bad, in words (its fixes are gathered into the
/// line's).
#[derive(Serialize, Debug)]
struct ReasonOut {
    severity: Severity,
    text: String,
}

/// The facts a verdict rests on, for `--json`.
#[derive(Serialize, Debug)]
struct FactsOut {
    state: String,
    ppid: i32,
    uid: u32,
    session: i32,
    pgrp: i32,
    session_leader: bool,
    leader: Option<Named>,
    tty: Option<String>,
    foreground: bool,
    sighup: Disposition,
    sigterm: Disposition,
    shim: Option<bool>,
    stdout: Option<String>,
    stderr: Option<String>,
    relay: Option<RelayOut>,
    cgroup: Option<String>,
}

/// The relay job a process belongs to (its terminal's, or the one it is
/// a client of).
#[derive(Serialize, Debug, Clone)]
struct RelayOut {
    job: Option<String>,
    supervisor: i32,
    program: Option<i32>,
}

/// The whole `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    session: Option<&'a Session>,
    processes: &'a [Row],
    status: i32,
}

/// The line for `pid` (at `depth` under the process asked about), judged
/// `verdict` for `reasons`.
pub fn row(pid: i32, depth: usize, seen: &Seen, verdict: Verdict, reasons: &[Reason]) -> Row {
    let (comm, command) = match seen {
        Seen::Gone | Seen::Hidden(_) => (String::new(), Vec::new()),
        Seen::Exited { stat, command, .. } | Seen::Unreadable { stat, command, .. } => {
            (stat.comm.clone(), command.clone())
        }
        Seen::Live(l) => (l.facts.stat.comm.clone(), l.command.clone()),
    };
    let (fixes, facts) = match seen {
        Seen::Live(l) => (fixes(reasons, &l.facts.stat, &l.command), Some(facts(l))),
        _ => (Vec::new(), None),
    };
    Row {
        pid,
        depth,
        comm,
        command,
        verdict,
        reasons: show(verdict, reasons),
        fixes,
        facts,
    }
}

/// The facts a live process's verdict rests on, for `--json`.
fn facts(l: &Live) -> FactsOut {
    let (f, s) = (&l.facts, &l.around);
    let st = &f.stat;
    let relay = match (&l.client, &s.tty_owner) {
        (Some(c), _) => Some(RelayOut {
            job: Some(c.job.clone()),
            supervisor: c.supervisor,
            program: c.program,
        }),
        (None, Owner::Relay { supervisor, job }) => Some(RelayOut {
            job: job.clone(),
            supervisor: *supervisor,
            program: None,
        }),
        _ => None,
    };
    let describe = |fd: &Option<Fd>| {
        fd.as_ref().map(|f| match f {
            Fd::Closed => "closed".to_string(),
            Fd::Terminal(_, p) | Fd::Other(p) => p.to_string_lossy().into_owned(),
        })
    };
    FactsOut {
        state: st.state.to_string(),
        ppid: st.ppid,
        uid: f.uid,
        session: st.session,
        pgrp: st.pgrp,
        session_leader: st.leads_session(),
        leader: s.leader.as_ref().map(|l| Named {
            pid: l.pid,
            comm: l.comm.clone(),
        }),
        tty: st.tty().map(|t| t.name()),
        foreground: st.in_foreground(),
        sighup: f.hup,
        sigterm: f.term,
        shim: f.shim,
        stdout: describe(&f.out[0]),
        stderr: describe(&f.out[1]),
        relay,
        cgroup: f.cgroup.clone(),
    }
}

/// The reasons worth showing for a verdict: the ones that decide it
/// first, then the lesser risks; for `survives`, why.
fn show(verdict: Verdict, reasons: &[Reason]) -> Vec<ReasonOut> {
    let pick = |sev: Severity| {
        reasons
            .iter()
            .filter(move |r| r.severity == sev)
            .map(|r| ReasonOut {
                severity: r.severity,
                text: r.text.clone(),
            })
    };
    match verdict {
        Verdict::Survives => pick(Severity::Ok).collect(),
        _ => pick(Severity::Fatal).chain(pick(Severity::Risk)).collect(),
    }
}

/// The fixes for `reasons`, in words, for the process `st` running
/// `command`.
fn fixes(reasons: &[Reason], st: &Stat, command: &[String]) -> Vec<String> {
    let mut cmd = command.join(" ");
    if cmd.is_empty() {
        cmd = st.comm.clone();
    }
    if cmd.chars().count() > 40 {
        cmd = format!("{}...", cmd.chars().take(37).collect::<String>());
    }
    let pid = st.pid;
    let protect = format!("hupsafe rescue {pid}");
    let mut out: Vec<String> = Vec::new();
    for fix in reasons.iter().flat_map(|r| r.fixes.iter()) {
        let text = match fix {
            Fix::Protect => protect.clone(),
            Fix::Strict => format!(
                "it is statically linked, so the shim cannot reach it: restart it as \
                 `HUPSAFE_RELAY=1 hupsafe {cmd}` (its own terminal) or as \
                 `hupsafe run --strict -- {cmd}`"
            ),
            Fix::Mark(name) => {
                format!("`hupsafe mark {name}`, so that typed at the prompt it runs protected")
            }
            Fix::Resume => {
                "continue it with bg (bash sends no SIGTERM to running jobs) or take it \
                 off bash's list with disown"
                    .to_string()
            }
            Fix::Redirect => "redirect its output (> file), or run it under hupsafe, which \
                              relays a terminal's output"
                .to_string(),
            Fix::LeaveScope => "start it outside the session scope: `systemd-run --user \
                                --scope CMD`, plus `loginctl enable-linger`"
                .to_string(),
            Fix::Linger(user) => format!("loginctl enable-linger {user}"),
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// The report as JSON: the session (without PIDs), every line with its
/// facts, and the exit status.
pub fn json(session: Option<&Session>, rows: &[Row], status: i32) -> Result<String> {
    let report = Report {
        session,
        processes: rows,
        status,
    };
    let mut s = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// The report as text: one line per process, indented under the one it
/// descends from.
pub fn text(session: Option<&Session>, rows: &[Row]) -> String {
    let mut s = String::new();
    if let Some(sess) = session {
        let leader = sess
            .leader
            .as_ref()
            .map(|l| format!(", led by {} (pid {})", l.comm, l.pid))
            .unwrap_or_default();
        s.push_str(&format!("jobs of the session on {}{leader}:\n", sess.tty));
        if let Some(h) = &sess.held_by {
            s.push_str(&format!(
                "note: this terminal is a {} window (pid {}): the verdicts are for closing that \
                 window; a dropped connection does not hang it up\n",
                h.comm, h.pid
            ));
        }
        if rows.is_empty() {
            s.push_str("  none (nothing runs in this session but the shell)\n");
        }
    }
    for r in rows {
        let indent = "  ".repeat(r.depth + usize::from(session.is_some()));
        let name = if r.comm.is_empty() {
            String::new()
        } else {
            format!(" {}", r.comm)
        };
        let mut line = format!("{indent}{}{name}: {}", r.pid, r.verdict.word());
        let mut last: Option<Severity> = None;
        for (i, reason) in r.reasons.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            line.push_str(sep);
            // Lesser risks after a fatal reason are labelled as such.
            if r.verdict == Verdict::Dies
                && reason.severity == Severity::Risk
                && last != Some(Severity::Risk)
            {
                line.push_str("at risk: ");
            }
            line.push_str(&reason.text);
            last = Some(reason.severity);
        }
        if !r.fixes.is_empty() {
            line.push_str(&format!(". Fix: {}", r.fixes.join("; or ")));
        }
        line.push('\n');
        s.push_str(&line);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pid: i32, depth: usize, verdict: Verdict, reasons: &[(Severity, &str)]) -> Row {
        Row {
            pid,
            depth,
            comm: "prog".into(),
            command: Vec::new(),
            verdict,
            reasons: reasons
                .iter()
                .map(|(severity, text)| ReasonOut {
                    severity: *severity,
                    text: text.to_string(),
                })
                .collect(),
            fixes: Vec::new(),
            facts: None,
        }
    }

    #[test]
    fn lesser_risks_after_a_fatal_reason_are_labelled_and_fixes_joined() {
        use Severity::*;
        let mut dies = line(
            200,
            0,
            Verdict::Dies,
            &[(Fatal, "a"), (Risk, "b"), (Risk, "c")],
        );
        dies.fixes = vec!["x".into(), "y".into()];
        let child = line(201, 1, Verdict::AtRisk, &[(Risk, "d")]);
        assert_eq!(
            text(None, &[dies, child]),
            "200 prog: dies: a; at risk: b; c. Fix: x; or y\n  201 prog: at risk: d\n"
        );
    }

    #[test]
    fn a_session_header_indents_its_jobs_and_says_when_there_are_none() {
        let session = Session {
            session: 100,
            tty: "/dev/pts/3".into(),
            leader: Some(Named {
                pid: 100,
                comm: "bash".into(),
            }),
            held_by: None,
        };
        let head = "jobs of the session on /dev/pts/3, led by bash (pid 100):\n";
        assert_eq!(
            text(Some(&session), &[]),
            format!("{head}  none (nothing runs in this session but the shell)\n")
        );
        let job = line(200, 0, Verdict::Survives, &[(Severity::Ok, "ok")]);
        assert_eq!(
            text(Some(&session), &[job]),
            format!("{head}  200 prog: survives: ok\n")
        );
    }

    #[test]
    fn the_deciding_reasons_come_first() {
        use Severity::*;
        let reasons = [
            Reason {
                severity: Ok,
                text: "why not".into(),
                fixes: Vec::new(),
            },
            Reason {
                severity: Risk,
                text: "risk".into(),
                fixes: Vec::new(),
            },
            Reason {
                severity: Fatal,
                text: "fatal".into(),
                fixes: Vec::new(),
            },
        ];
        let shown = |v| -> Vec<String> { show(v, &reasons).into_iter().map(|r| r.text).collect() };
        assert_eq!(shown(Verdict::Dies), ["fatal", "risk"]);
        assert_eq!(shown(Verdict::Survives), ["why not"]);
    }

    #[test]
    fn fixes_are_said_once_with_a_short_command() {
        let st = Stat {
            pid: 42,
            comm: "st".into(),
            state: 'S',
            ppid: 1,
            pgrp: 42,
            session: 1,
            tty_nr: 0,
            tpgid: -1,
            start: 1,
        };
        let reason = |fixes: Vec<Fix>| Reason {
            severity: Severity::Fatal,
            text: String::new(),
            fixes,
        };
        let reasons = [
            reason(vec![Fix::Protect, Fix::Mark("st".into())]),
            reason(vec![Fix::Protect]),
        ];
        assert_eq!(
            fixes(&reasons, &st, &[]),
            [
                "hupsafe rescue 42",
                "`hupsafe mark st`, so that typed at the prompt it runs protected"
            ]
        );
        let long: Vec<String> = vec!["./st".into(), "x".repeat(60)];
        let strict = fixes(&[reason(vec![Fix::Strict])], &st, &long);
        let cmd = format!("./st {}...", "x".repeat(32));
        assert!(
            strict[0].contains(&format!("`hupsafe run --strict -- {cmd}`")),
            "{strict:?}"
        );
    }
}
