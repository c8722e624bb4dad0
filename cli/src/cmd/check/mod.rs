//! `hupsafe check [PID...]`: would these processes survive a hangup, and
//! if not, why. Each process and its descendants get one line: `survives`,
//! `at risk: ...` or `dies: ...`, with the reasons and the fix.
//!
//! The reasoning is FIELD-NOTES sections 1-4 and 7 applied to what
//! `/proc` shows ([`crate::sys::proc`]): who would send SIGHUP (the kernel
//! to a session leader and to the foreground group, bash or zsh to their
//! jobs, bash's SIGTERM to stopped ones, the kernel's HUP+CONT to an
//! orphaned stopped group), what the process would do with it (ignored,
//! caught, default, blocked and so queued, held ignored by the shim),
//! whether its output goes to a terminal that would answer EIO, whether
//! its terminal is one a hupsafe supervisor holds (the relay), and
//! whether logind would kill its session scope anyway.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;

use serde::Serialize;

use crate::args::CheckArgs;
use crate::error::{os_words, write_stdout, Error, Result, EXIT_BAD_INPUT};
use crate::registry::{ProcId, Registry};
use crate::sys::logind::{self, Settings};
use crate::sys::proc::{self, Fd, Stat, Status, Table, Tty};

mod model;

use model::{
    assess, hup_words, reason, Disposition, Facts, Fix, Owner, Reason, Severity, Shell,
    Surroundings, Verdict,
};

/// A job of this user's registry whose supervisor is alive.
#[derive(Debug, Clone)]
struct LiveJob {
    id: String,
    supervisor: ProcId,
    program: Option<ProcId>,
}

/// The machine as `check` found it: every process's stat, this user's
/// live relay jobs, logind's settings, the marks.
struct Snapshot {
    table: Table,
    jobs: Vec<LiveJob>,
    logind: Settings,
    hupsafe_exe: Option<(u64, u64)>,
    marks: Option<Vec<String>>,
    owners: RefCell<HashMap<Tty, Owner>>,
}

/// One line of the report.
#[derive(Serialize, Debug)]
struct Row {
    pid: i32,
    /// Nesting under the process it descends from (0: asked for).
    depth: usize,
    comm: String,
    command: Vec<String>,
    verdict: Verdict,
    reasons: Vec<ReasonOut>,
    fixes: Vec<String>,
    facts: Option<FactsOut>,
}

#[derive(Serialize, Debug)]
struct ReasonOut {
    severity: Severity,
    text: String,
}

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

#[derive(Serialize, Debug, Clone)]
struct Named {
    pid: i32,
    comm: String,
}

#[derive(Serialize, Debug, Clone)]
struct RelayOut {
    job: Option<String>,
    supervisor: i32,
    program: Option<i32>,
}

impl Snapshot {
    fn take() -> Snapshot {
        let table = Table::read();
        let jobs = live_jobs();
        let hupsafe_exe = proc::exe_identity(std::process::id() as i32).ok();
        let marks = crate::marks::marks_path()
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| crate::marks::names(&crate::marks::parse(&t)));
        Snapshot {
            table,
            jobs,
            logind: Settings::read(),
            hupsafe_exe,
            marks,
            owners: RefCell::new(HashMap::new()),
        }
    }

    /// Whether `pid` runs this hupsafe (or another one).
    fn is_hupsafe(&self, pid: i32) -> bool {
        if self.hupsafe_exe.is_some() && proc::exe_identity(pid).ok() == self.hupsafe_exe {
            return true;
        }
        proc::exe(pid).is_ok_and(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("hupsafe"))
        })
    }

    /// Who holds the master side of `tty`.
    fn owner(&self, tty: Tty) -> Owner {
        if let Some(o) = self.owners.borrow().get(&tty) {
            return o.clone();
        }
        let owner = match tty.pts_index() {
            None => Owner::Plain,
            Some(index) => {
                let holders = proc::pty_master_holders(index);
                let relay = holders.iter().find_map(|&h| {
                    let job = self.jobs.iter().find(|j| j.supervisor.pid == h);
                    let leads = self.table.get(h).is_some_and(|s| s.leads_session());
                    (job.is_some() || (leads && self.is_hupsafe(h))).then(|| Owner::Relay {
                        supervisor: h,
                        job: job.map(|j| j.id.clone()),
                    })
                });
                let mux = || {
                    holders.iter().find_map(|&h| {
                        let comm = &self.table.get(h)?.comm;
                        multiplexer_name(comm).map(|name| Owner::Multiplexer {
                            name: name.to_string(),
                            pid: h,
                        })
                    })
                };
                relay.or_else(mux).unwrap_or(Owner::Plain)
            }
        };
        self.owners.borrow_mut().insert(tty, owner.clone());
        owner
    }

    /// The relay job `pid` is a client of, if it is a hupsafe client: the
    /// one it attached to (`hupsafe attach ID`), or the one it started
    /// (the supervisor is its fork: same command line, started after it).
    fn client_of(&self, pid: i32, st: &Stat) -> Option<LiveJob> {
        if st.leads_session() || !self.is_hupsafe(pid) {
            return None;
        }
        let argv = proc::cmdline(pid).ok()?;
        let words: Vec<String> = argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut plain = words.iter().filter(|w| !w.starts_with('-'));
        if plain.next().map(String::as_str) == Some("attach") {
            let id = plain.next()?;
            let mut m = self.jobs.iter().filter(|j| j.id.starts_with(id.as_str()));
            let exact = self.jobs.iter().find(|j| j.id == *id);
            return exact
                .or_else(|| {
                    let first = m.next()?;
                    m.next().is_none().then_some(first)
                })
                .cloned();
        }
        self.jobs
            .iter()
            .filter(|j| j.supervisor.start >= st.start)
            .filter(|j| proc::cmdline(j.supervisor.pid).ok().as_ref() == Some(&argv))
            .min_by_key(|j| j.supervisor.start)
            .cloned()
    }

    fn markable(&self, f: &Stat, leader: Option<&Stat>) -> Option<String> {
        let leader = leader?;
        if !matches!(Shell::of(&leader.comm), Shell::Bash | Shell::Zsh) {
            return None;
        }
        // Typed at the prompt: a child of the shell (a job, or a stage of
        // a pipeline); what a job starts in turn is not typed.
        if f.ppid != leader.pid {
            return None;
        }
        let argv0 = proc::cmdline(f.pid).ok()?.into_iter().next()?;
        let name = argv0.to_string_lossy();
        let name = name.rsplit('/').next()?.to_string();
        let marked = self.marks.as_ref().is_some_and(|m| m.contains(&name));
        (!marked && crate::marks::invalid_reason(&name).is_none()).then_some(name)
    }

    /// The verdict on `pid` (a descendant of `root`, or `root` itself),
    /// and the relay job it is a client of.
    fn judge(&self, pid: i32, depth: usize) -> (Row, Option<LiveJob>) {
        let mut row = Row {
            pid,
            depth,
            comm: String::new(),
            command: Vec::new(),
            verdict: Verdict::NoSuchProcess,
            reasons: Vec::new(),
            fixes: Vec::new(),
            facts: None,
        };
        let st = match proc::stat(pid) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (row, None),
            Err(e) => {
                row.verdict = Verdict::CannotInspect;
                row.reasons.push(ReasonOut {
                    severity: Severity::Risk,
                    text: format!("/proc/{pid}/stat: {}", os_words(&e)),
                });
                return (row, None);
            }
        };
        row.comm = st.comm.clone();
        row.command = proc::cmdline(pid)
            .unwrap_or_default()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if st.is_zombie() {
            row.verdict = Verdict::Exited;
            let parent = self
                .table
                .get(st.ppid)
                .map(|p| format!("{} (pid {})", p.comm, p.pid))
                .unwrap_or_else(|| format!("pid {}", st.ppid));
            row.reasons.push(ReasonOut {
                severity: Severity::Fatal,
                text: format!(
                    "a zombie: it has already exited, and its parent {parent} has not \
                     collected its status yet; nothing is left to hang up"
                ),
            });
            return (row, None);
        }
        let status = match proc::status(pid) {
            Ok(s) => s,
            Err(e) => {
                row.verdict = if e.kind() == io::ErrorKind::NotFound {
                    Verdict::NoSuchProcess
                } else {
                    Verdict::CannotInspect
                };
                row.reasons.push(ReasonOut {
                    severity: Severity::Risk,
                    text: format!("/proc/{pid}/status: {}", os_words(&e)),
                });
                return (row, None);
            }
        };
        let blocked =
            !proc::threads_blocking(pid, libc::SIGHUP).is_empty() || status.blocks(libc::SIGHUP);
        let awaited = !proc::threads_waiting(pid, libc::SIGHUP).is_empty();
        let term_blocked = status.blocks(libc::SIGTERM);
        let shim = proc::mapped_shim(pid).ok().map(|p| p.is_some());
        let out = [proc::fd(pid, 1).ok(), proc::fd(pid, 2).ok()];
        let program = proc::exe(pid)
            .ok()
            .and_then(|p| crate::sys::elf::inspect(&p).ok());
        let is_static = program.as_ref().and_then(|t| match &t.format {
            crate::sys::elf::Format::Elf(e) => Some(e.is_static()),
            _ => None,
        });
        let shim_missing = if shim == Some(false) {
            shim_missing_why(pid, program.as_ref(), &status)
        } else {
            None
        };
        let facts = Facts {
            stat: st.clone(),
            uid: status.uid.0,
            hup: Disposition::of(&status, libc::SIGHUP, blocked, awaited),
            term: Disposition::of(&status, libc::SIGTERM, term_blocked, false),
            shim,
            out: out.clone(),
            cgroup: proc::cgroup(pid).ok(),
            is_static,
            shim_missing,
        };
        let leader = self
            .table
            .get(st.session)
            .cloned()
            .or_else(|| proc::stat(st.session).ok().filter(|l| l.leads_session()));
        let tty_owner = st.tty().map_or(Owner::Plain, |t| self.owner(t));
        let out_owner = |fd: &Option<Fd>| match fd {
            Some(Fd::Terminal(t, _)) if t.is_dev_tty() => tty_owner.clone(),
            Some(Fd::Terminal(t, _)) => self.owner(*t),
            _ => Owner::Plain,
        };
        let user = proc::user_name(facts.uid);
        let surroundings = Surroundings {
            leader: leader.clone(),
            tty_owner: tty_owner.clone(),
            out_owners: [out_owner(&out[0]), out_owner(&out[1])],
            lingers: user.as_deref().is_some_and(logind::lingers),
            user,
            logind: self.logind.clone(),
            markable: self.markable(&st, leader.as_ref()),
        };
        let mut reasons = assess(&facts, &surroundings);
        if let Owner::Relay { supervisor, job } = &tty_owner {
            if *supervisor == pid && st.leads_session() {
                reasons = vec![reason(
                    if facts.hup.ignored {
                        Severity::Ok
                    } else {
                        Severity::Risk
                    },
                    format!(
                        "the hupsafe supervisor{}: it leads a session of its own on the job's \
                         terminal {}, with SIGHUP {}",
                        job.as_ref()
                            .map(|j| format!(" of job {j}"))
                            .unwrap_or_default(),
                        st.tty().map(|t| t.name()).unwrap_or_default(),
                        hup_words(&facts.hup, facts.shim)
                    ),
                    None,
                )];
            }
        }
        let client = self.client_of(pid, &st);
        if let Some(job) = &client {
            // The client only shows the job; the job's fate is what counts.
            reasons = vec![reason(
                Severity::Ok,
                format!(
                    "hupsafe relay client of job {}: the program{} runs on the job's own \
                         terminal, held by the supervisor (pid {}), and outlives this one; this \
                         client just detaches (hupsafe attach {})",
                    job.id,
                    job.program
                        .map(|p| format!(" (pid {})", p.pid))
                        .unwrap_or_default(),
                    job.supervisor.pid,
                    job.id
                ),
                None,
            )];
        }
        row.verdict = Verdict::of(&reasons);
        row.fixes = self.fixes(&reasons, &st, &row.command);
        row.reasons = show(row.verdict, &reasons);
        let relay = match (&client, &tty_owner) {
            (Some(j), _) => Some(RelayOut {
                job: Some(j.id.clone()),
                supervisor: j.supervisor.pid,
                program: j.program.map(|p| p.pid),
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
        row.facts = Some(FactsOut {
            state: st.state.to_string(),
            ppid: st.ppid,
            uid: facts.uid,
            session: st.session,
            pgrp: st.pgrp,
            session_leader: st.leads_session(),
            leader: leader.map(|l| Named {
                pid: l.pid,
                comm: l.comm,
            }),
            tty: st.tty().map(|t| t.name()),
            foreground: st.in_foreground(),
            sighup: facts.hup,
            sigterm: facts.term,
            shim,
            stdout: describe(&out[0]),
            stderr: describe(&out[1]),
            relay,
            cgroup: facts.cgroup.clone(),
        });
        (row, client)
    }

    /// The fixes for `reasons`, in words; `root` is the process asked
    /// about when `st` is one of its descendants.
    fn fixes(&self, reasons: &[Reason], st: &Stat, command: &[String]) -> Vec<String> {
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
}

/// Why a process whose LD_PRELOAD names the shim does not have it
/// mapped (None when its LD_PRELOAD has no shim, or cannot be read).
fn shim_missing_why(
    pid: i32,
    program: Option<&crate::sys::elf::Target>,
    status: &Status,
) -> Option<String> {
    let preload = proc::environ_var(pid, "LD_PRELOAD").ok()??;
    let entry = preload
        .as_encoded_bytes()
        .split(|&b| b == b':' || b == b' ')
        .find(|e| {
            let name = e.rsplit(|&b| b == b'/').next().unwrap_or(e);
            proc::is_shim_file(name)
        })?
        .to_vec();
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&entry).into_owned());
    if let Some(t) = program {
        let concerns = t.concerns(status.uid.0, status.gid);
        if !concerns.is_empty() {
            let words: Vec<String> = concerns.iter().map(|c| c.to_string()).collect();
            return Some(format!("the program {}", words.join(", and ")));
        }
    }
    if !path.exists() {
        return Some(format!("{} does not exist", path.display()));
    }
    Some("its loader did not load it".into())
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

fn multiplexer_name(comm: &str) -> Option<&'static str> {
    if comm.starts_with("tmux") {
        Some("tmux")
    } else if comm.eq_ignore_ascii_case("screen") {
        Some("screen")
    } else if comm == "dtach" || comm == "abduco" || comm == "zellij" {
        Some(match comm {
            "dtach" => "dtach",
            "abduco" => "abduco",
            _ => "zellij",
        })
    } else {
        None
    }
}

/// This user's jobs whose supervisor is alive (none when there is no
/// registry, or it cannot be used).
fn live_jobs() -> Vec<LiveJob> {
    let Ok(Some(reg)) = Registry::open() else {
        return Vec::new();
    };
    let (jobs, _) = reg.list();
    jobs.iter()
        .filter_map(|j| {
            let r = j.read_record().ok()?;
            let supervisor = r.writer.filter(|w| w.is_alive())?;
            if r.state.is_final() {
                return None;
            }
            Some(LiveJob {
                id: r.id,
                supervisor,
                program: r.program.filter(|p| p.is_alive()),
            })
        })
        .collect()
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
                        "hupsafe: check: '{a}' is not a process id (a positive number, as ps \
                         shows){hint}"
                    ),
                ));
            }
        }
    }
    Ok(pids)
}

/// The session `check` looks at without PIDs.
#[derive(Serialize, Debug)]
struct SessionOut {
    session: i32,
    tty: String,
    leader: Option<Named>,
    held_by: Option<Named>,
}

/// The jobs of the caller's terminal session: its members minus this
/// process, its process group (a pipeline it is part of) and its
/// ancestors (the shell); only the topmost of each family (descendants
/// follow their ancestor).
fn session_roots(snap: &Snapshot) -> Result<(SessionOut, Vec<i32>)> {
    let me = std::process::id() as i32;
    let my = proc::stat(me).map_err(|e| {
        Error::failure(format!(
            "hupsafe: cannot read /proc/self/stat: {}",
            os_words(&e)
        ))
    })?;
    let Some(tty) = my.tty() else {
        return Err(Error::new(
            EXIT_BAD_INPUT,
            "hupsafe: check: this command has no controlling terminal, so there is no \
             terminal session to take the jobs from (and nothing here gets a hangup: without \
             a terminal, as over `ssh host cmd`, the risk is a closed pipe, EPIPE). Name the \
             processes instead: hupsafe check PID...",
        ));
    };
    let mut excluded: HashSet<i32> = snap.table.ancestors(me).into_iter().collect();
    excluded.insert(me);
    let members: HashSet<i32> = snap
        .table
        .procs
        .values()
        .filter(|s| s.session == my.session && s.pgrp != my.pgrp && !excluded.contains(&s.pid))
        .map(|s| s.pid)
        .collect();
    let mut roots: Vec<i32> = members
        .iter()
        .copied()
        .filter(|p| {
            snap.table
                .get(*p)
                .is_some_and(|s| !members.contains(&s.ppid))
        })
        .collect();
    roots.sort_unstable();
    let leader = snap.table.get(my.session).map(|l| Named {
        pid: l.pid,
        comm: l.comm.clone(),
    });
    let held_by = match snap.owner(tty) {
        Owner::Multiplexer { name, pid } => Some(Named { pid, comm: name }),
        _ => None,
    };
    Ok((
        SessionOut {
            session: my.session,
            tty: tty.name(),
            leader,
            held_by,
        },
        roots,
    ))
}

#[derive(Serialize)]
struct Report<'a> {
    session: Option<&'a SessionOut>,
    processes: &'a [Row],
    status: i32,
}

/// `hupsafe check [PID...]`.
pub fn run(args: &CheckArgs) -> Result<()> {
    let asked = parse_pids(&args.pids)?;
    let snap = Snapshot::take();
    let (session, roots) = if asked.is_empty() {
        let (s, r) = session_roots(&snap)?;
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
        let report = Report {
            session: session.as_ref(),
            processes: &rows,
            status,
        };
        let mut s = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::failure(format!("hupsafe: cannot write JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        render(session.as_ref(), &rows)
    };
    write_stdout(text.as_bytes())?;
    if status != 0 {
        std::process::exit(status);
    }
    Ok(())
}

fn walk(snap: &Snapshot, pid: i32, depth: usize, rows: &mut Vec<Row>, seen: &mut HashSet<i32>) {
    if !seen.insert(pid) {
        return;
    }
    let (row, client) = snap.judge(pid, depth);
    if row.verdict == Verdict::NoSuchProcess && depth > 0 {
        // A descendant that ended while we looked: nothing to report.
        return;
    }
    rows.push(row);
    let mut kids: Vec<i32> = snap.table.children(pid).to_vec();
    if let Some(p) = client.and_then(|j| j.program) {
        kids.push(p.pid);
    }
    for k in kids {
        walk(snap, k, depth + 1, rows, seen);
    }
}

fn render(session: Option<&SessionOut>, rows: &[Row]) -> String {
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

    #[test]
    fn bad_pids() {
        assert_eq!(parse_pids(&["12".into(), "3".into()]).unwrap(), [12, 3]);
        for bad in ["abc", "0", "-5", "12x", "", "%1"] {
            let e = parse_pids(&[bad.to_string()]).unwrap_err();
            assert_eq!(e.status, EXIT_BAD_INPUT, "{bad}");
        }
    }
}
