//! The judging rules of `check`: from what was seen of a process to its verdict.
//!
//! Who would signal it on hangup (the kernel, bash, zsh, an orphaned
//! group's HUP+CONT), what its dispositions do with that, where its output
//! goes, and whether logind kills its scope anyway. Pure: everything comes
//! in as [`Seen`], nothing reads the system.

use std::io;

use super::model::{
    hup_outcome, hup_words, reason, Facts, Fix, Live, Owner, Part, Reason, Seen, Severity, Shell,
    Surroundings, Verdict,
};
use crate::error::os_words;
use crate::sys::logind::Scope;
use crate::sys::proc::{Fd, Stat, Tty};

/// A signal someone would send on hangup, and who.
struct Delivery {
    signal: i32,
    by: String,
    /// False when it depends on a program we do not know.
    certain: bool,
}

/// Who would signal the process when its terminal hangs up.
fn deliveries(st: &Stat, leader: Option<&Stat>, tty: Tty) -> Vec<Delivery> {
    let name = tty.name();
    let mut d = Vec::new();
    if st.leads_session() {
        d.push(Delivery {
            signal: libc::SIGHUP,
            by: format!("it leads the session of {name}: the kernel sends it SIGHUP on hangup"),
            certain: true,
        });
        return d;
    }
    match leader {
        Some(l) if l.pgrp != st.pgrp => match Shell::of(&l.comm) {
            Shell::Bash => {
                d.push(Delivery {
                    signal: libc::SIGHUP,
                    by: format!("bash, pid {}, sends SIGHUP to its jobs on hangup", l.pid),
                    certain: true,
                });
                if st.is_stopped() {
                    d.push(Delivery {
                        signal: libc::SIGTERM,
                        by: format!("bash, pid {},", l.pid),
                        certain: true,
                    });
                }
            }
            Shell::Zsh if st.is_stopped() => d.push(Delivery {
                signal: libc::SIGHUP,
                by: "stopped job under zsh: zsh skips it, but the kernel sends SIGHUP and \
                     SIGCONT to its orphaned process group when zsh exits"
                    .into(),
                certain: true,
            }),
            Shell::Zsh => d.push(Delivery {
                signal: libc::SIGHUP,
                by: format!(
                    "zsh, pid {}, sends SIGHUP to its running jobs on hangup",
                    l.pid
                ),
                certain: true,
            }),
            Shell::Other(_) if st.is_stopped() => d.push(Delivery {
                signal: libc::SIGHUP,
                by: "stopped: the kernel sends SIGHUP and SIGCONT to its orphaned process \
                     group when the session leader exits"
                    .into(),
                certain: true,
            }),
            Shell::Other(n) => d.push(Delivery {
                signal: libc::SIGHUP,
                by: format!(
                    "the session leader, {n}, pid {}, may pass the hangup on as SIGHUP",
                    l.pid
                ),
                certain: false,
            }),
        },
        Some(_) => {}
        None => d.push(Delivery {
            signal: libc::SIGHUP,
            by: format!(
                "its session leader (pid {}) is gone; whatever holds {name} decides",
                st.session
            ),
            certain: false,
        }),
    }
    if st.in_foreground() {
        d.push(Delivery {
            signal: libc::SIGHUP,
            by: format!(
                "in the foreground of {name}: the kernel sends it SIGHUP and SIGCONT when the \
                 session leader exits"
            ),
            certain: true,
        });
    }
    d
}

/// The reasons for the verdict on a live process. Pure: everything it
/// needs is in `f` and `s`.
pub fn assess(f: &Facts, s: &Surroundings) -> Vec<Reason> {
    use Severity::*;
    let st = &f.stat;
    let mut v = Vec::new();
    let shim_guards = f.shim == Some(true) && f.hup.ignored;
    let mut signals: Vec<Delivery> = Vec::new();
    match st.tty() {
        None => v.push(reason(
            Ok,
            format!(
                "no controlling terminal ({}): no hangup signal reaches it (SIGHUP itself is \
                 {})",
                if st.leads_session() {
                    "it leads a session of its own".to_string()
                } else {
                    format!("session {}", st.session)
                },
                hup_words(&f.hup, f.shim)
            ),
            None,
        )),
        Some(tty) => match &s.tty_owner {
            Owner::Relay { supervisor, job } => v.push(reason(
                Ok,
                format!(
                    "relayed: its terminal {} is held by the hupsafe supervisor (pid \
                     {supervisor}{}), so your terminal's hangup does not reach it and its \
                     output goes to the job's log",
                    tty.name(),
                    job.as_ref()
                        .map(|j| format!(", job {j}"))
                        .unwrap_or_default()
                ),
                None,
            )),
            Owner::Multiplexer { name, pid } => v.push(reason(
                Ok,
                format!(
                    "its terminal {} is a {name} window (server pid {pid}): a dropped \
                     connection does not hang it up (closing that window would)",
                    tty.name()
                ),
                None,
            )),
            Owner::Plain => signals = deliveries(st, s.leader.as_ref(), tty),
        },
    }

    let hups: Vec<&Delivery> = signals
        .iter()
        .filter(|d| d.signal == libc::SIGHUP)
        .collect();
    if !hups.is_empty() {
        let (mut sev, what) = hup_outcome(&f.hup, f.shim);
        if !hups.iter().any(|d| d.certain) {
            sev = sev.min(Risk);
        }
        let by: Vec<&str> = hups.iter().map(|d| d.by.as_str()).collect();
        let fix = if sev == Ok {
            None
        } else if f.is_static == Some(true) {
            Some(Fix::Strict)
        } else {
            Some(Fix::Protect)
        };
        let mut text = format!("{what} ({})", by.join("; "));
        if let (true, Some(why)) = (sev > Ok, &f.shim_missing) {
            text.push_str(&format!(
                "; the shim is in its LD_PRELOAD but not loaded: {why}"
            ));
        }
        let mut r = reason(sev, text, fix);
        if let (true, Some(name)) = (sev > Ok, &s.markable) {
            r.fixes.push(Fix::Mark(name.clone()));
        }
        v.push(r);
    }
    if shim_guards {
        // The shim answers the program's sigaction with what it set, so
        // /proc cannot say whether it set a handler: whatever it set never
        // runs, whoever sends SIGHUP.
        v.push(reason(
            Ok,
            format!(
                "note: a SIGHUP handler it sets is recorded by the shim and never runs, so \
                 `kill -HUP {}` cannot make it reload (use its own reload command)",
                st.pid
            ),
            None,
        ));
    }
    if f.shim == Some(true) && !f.hup.ignored {
        v.push(reason(
            Risk,
            "the hupsafe shim is loaded, yet SIGHUP is not ignored in the kernel (changed by \
             a raw system call?)",
            Some(Fix::Protect),
        ));
    }
    if let Some(term) = signals.iter().find(|d| d.signal == libc::SIGTERM) {
        let t = &f.term;
        let (sev, text) = if t.ignored && !t.queued() {
            (
                Ok,
                format!(
                    "stopped job under bash: {} sends SIGTERM on hangup, which it ignores",
                    term.by
                ),
            )
        } else if t.caught || t.queued() {
            (
                Risk,
                format!(
                    "stopped job under bash ({} sends SIGTERM; its handler decides)",
                    term.by
                ),
            )
        } else {
            // Not certain: bash sends SIGTERM only to jobs it still sees as
            // stopped, and the SIGCONT it sent with SIGHUP a moment before
            // can reach its job table first (seen under load).
            (
                Risk,
                format!(
                    "stopped job under bash ({} sends SIGTERM to jobs still stopped; ignoring \
                     SIGHUP does not help)",
                    term.by
                ),
            )
        };
        v.push(reason(sev, text, (sev > Ok).then_some(Fix::Resume)));
    }
    if f.hup.pending && !shim_guards {
        v.push(reason(
            Risk,
            "a SIGHUP is already pending (queued while blocked)",
            Some(Fix::Protect),
        ));
    }

    // Output: a terminal that goes away answers every write with EIO.
    let mut on_terminal: Vec<&str> = Vec::new();
    let mut which_terminal: Option<String> = None;
    let mut unreadable = false;
    for (i, name) in ["stdout", "stderr"].iter().enumerate() {
        match &f.out[i] {
            Some(Fd::Terminal(tty, _)) => {
                if matches!(s.out_owners[i], Owner::Plain) {
                    on_terminal.push(name);
                    let t = if tty.is_dev_tty() {
                        st.tty()
                    } else {
                        Some(*tty)
                    };
                    if t.is_some() && t != st.tty() {
                        which_terminal = t.map(|t| t.name());
                    }
                }
            }
            Some(_) => {}
            None => unreadable = true,
        }
    }
    if !on_terminal.is_empty() {
        let subject = on_terminal.join(" and ");
        let verb = if on_terminal.len() == 1 { "is" } else { "are" };
        let what = match which_terminal {
            Some(t) => format!("a terminal ({t})"),
            None => "the terminal".into(),
        };
        v.push(reason(
            Risk,
            format!("{subject} {verb} {what} (EIO after hangup)"),
            Some(Fix::Redirect),
        ));
    }
    if unreadable {
        v.push(reason(
            Risk,
            format!(
                "cannot see where its output goes (a process of uid {}: run check as that \
                 user or root)",
                f.uid
            ),
            None,
        ));
    }

    // logind: no disposition survives the scope being killed.
    if let Some(cg) = &f.cgroup {
        match Scope::of_cgroup(cg) {
            Scope::Session(id) => {
                let user = s.user.clone().unwrap_or_else(|| f.uid.to_string());
                match s.logind.kills(&user) {
                    Some(true) => v.push(reason(
                        Risk,
                        format!(
                            "logind KillUserProcesses=yes kills the session scope (session \
                             {id}) when you log out"
                        ),
                        Some(Fix::LeaveScope),
                    )),
                    None => v.push(reason(
                        Risk,
                        format!(
                            "logind may kill the session scope (session {id}) when you log \
                             out: KillUserProcesses is not set, and upstream's default is yes"
                        ),
                        Some(Fix::LeaveScope),
                    )),
                    Some(false) => {}
                }
            }
            Scope::UserManager if !s.lingers => {
                let user = s.user.clone().unwrap_or_else(|| f.uid.to_string());
                v.push(reason(
                    Risk,
                    "runs under your systemd user manager, which stops at your last logout \
                     (no linger)",
                    Some(Fix::Linger(user)),
                ))
            }
            _ => {}
        }
    }
    v
}

/// The verdict on what was seen of `pid`, with all its reasons (the
/// report picks the ones worth showing).
pub fn judge(pid: i32, seen: &Seen) -> (Verdict, Vec<Reason>) {
    match seen {
        Seen::Gone => (Verdict::NoSuchProcess, Vec::new()),
        Seen::Hidden(e) => (
            Verdict::CannotInspect,
            vec![reason(
                Severity::Risk,
                format!("/proc/{pid}/stat: {}", os_words(e)),
                None,
            )],
        ),
        Seen::Exited { stat, parent, .. } => {
            let parent = parent
                .as_ref()
                .map(|p| format!("{} (pid {})", p.comm, p.pid))
                .unwrap_or_else(|| format!("pid {}", stat.ppid));
            (
                Verdict::Exited,
                vec![reason(
                    Severity::Fatal,
                    format!(
                        "a zombie: it has already exited, and its parent {parent} has not \
                         collected its status yet; nothing is left to hang up"
                    ),
                    None,
                )],
            )
        }
        Seen::Unreadable { error, .. } => (
            if error.kind() == io::ErrorKind::NotFound {
                Verdict::NoSuchProcess
            } else {
                Verdict::CannotInspect
            },
            vec![reason(
                Severity::Risk,
                format!("/proc/{pid}/status: {}", os_words(error)),
                None,
            )],
        ),
        Seen::Live(l) => {
            let reasons = live_reasons(l);
            (Verdict::of(&reasons), reasons)
        }
    }
}

/// The reasons for a live process: [`assess`], except for the relay's
/// own processes, whose fate is the job's.
fn live_reasons(l: &Live) -> Vec<Reason> {
    let (facts, st) = (&l.facts, &l.facts.stat);
    if let Some(job) = &l.client {
        // The client only shows the job; the job's fate is what counts.
        return vec![reason(
            Severity::Ok,
            format!(
                "hupsafe relay client of job {}: the program{} runs on the job's own \
                     terminal, held by the supervisor (pid {}), and outlives this one; this \
                     client just detaches (hupsafe attach {})",
                job.job,
                job.program
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default(),
                job.supervisor,
                job.job
            ),
            None,
        )];
    }
    let hup_sev = if facts.hup.ignored {
        Severity::Ok
    } else {
        Severity::Risk
    };
    match &l.part {
        Some(Part::Supervisor { job }) => {
            return vec![reason(
                hup_sev,
                format!(
                    "the hupsafe supervisor of job {job}: it leads a session of its own{}, \
                     holds the job's terminal and log, with SIGHUP {}",
                    match st.tty() {
                        Some(t) => format!(" on {}", t.name()),
                        None => " with no terminal".to_string(),
                    },
                    hup_words(&facts.hup, facts.shim)
                ),
                None,
            )];
        }
        Some(Part::Holder { job, supervisor }) => {
            return vec![reason(
                hup_sev,
                format!(
                    "the session holder of job {job} (supervisor pid {supervisor}): it leads \
                     the job's session on {} and is the program's parent, with SIGHUP {}",
                    st.tty().map(|t| t.name()).unwrap_or_default(),
                    hup_words(&facts.hup, facts.shim)
                ),
                None,
            )];
        }
        None => {}
    }
    // A supervisor that leads the session on the job's pty itself: one
    // started by a hupsafe from before the holder, or one not in this
    // user's registry.
    if let Owner::Relay { supervisor, job } = &l.around.tty_owner {
        if *supervisor == st.pid && st.leads_session() {
            return vec![reason(
                hup_sev,
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
    assess(facts, &l.around)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::check::model::Disposition;
    use crate::sys::logind::Settings;

    fn stat(pid: i32, pgrp: i32, session: i32, state: char, tty: u32, tpgid: i32) -> Stat {
        Stat {
            pid,
            comm: "prog".into(),
            state,
            ppid: session,
            pgrp,
            session,
            tty_nr: tty,
            tpgid,
            start: 1,
        }
    }

    const PTS3: u32 = (136 << 8) | 3;

    fn facts(st: Stat) -> Facts {
        Facts {
            stat: st,
            uid: 1000,
            hup: Disposition::default(),
            term: Disposition::default(),
            shim: Some(false),
            out: [
                Some(Fd::Other("/dev/null".into())),
                Some(Fd::Other("/dev/null".into())),
            ],
            cgroup: None,
            is_static: Some(false),
            shim_missing: None,
        }
    }

    fn around(leader_comm: &str) -> Surroundings {
        let mut l = stat(100, 100, 100, 'S', PTS3, 200);
        l.comm = leader_comm.into();
        Surroundings {
            leader: Some(l),
            tty_owner: Owner::Plain,
            out_owners: [Owner::Plain, Owner::Plain],
            logind: Settings::from_files(&[]),
            user: Some("root".into()),
            lingers: false,
            markable: None,
        }
    }

    fn verdict(f: &Facts, s: &Surroundings) -> (Verdict, Vec<String>) {
        let r = assess(f, s);
        (Verdict::of(&r), r.into_iter().map(|r| r.text).collect())
    }

    #[test]
    fn background_job_under_bash() {
        let mut f = facts(stat(200, 200, 100, 'S', PTS3, 100));
        let s = around("bash");
        let (v, why) = verdict(&f, &s);
        assert_eq!(v, Verdict::Dies, "{why:?}");
        assert!(why[0].contains("default action") && why[0].contains("bash, pid 100,"));
        f.hup.ignored = true;
        assert_eq!(verdict(&f, &s).0, Verdict::Survives);
        f.hup.blocked = true;
        assert_eq!(verdict(&f, &s).0, Verdict::AtRisk);
        f.shim = Some(true);
        assert_eq!(verdict(&f, &s).0, Verdict::Survives);
        f.hup = Disposition {
            caught: true,
            ..Disposition::default()
        };
        f.shim = Some(false);
        let (v, why) = verdict(&f, &s);
        assert_eq!(v, Verdict::Dies);
        assert!(why[0].starts_with("SIGHUP caught by handler and not protected"));
    }

    #[test]
    fn stopped_jobs_bash_terms_them_zsh_does_not() {
        let mut f = facts(stat(200, 200, 100, 'T', PTS3, 100));
        f.hup.ignored = true;
        let (v, why) = verdict(&f, &around("bash"));
        assert_eq!(v, Verdict::AtRisk, "{why:?}");
        assert!(why.iter().any(|w| w.contains("stopped job under bash")));
        let (v, why) = verdict(&f, &around("zsh"));
        assert_eq!(v, Verdict::Survives, "{why:?}");
        f.term.ignored = true;
        assert_eq!(verdict(&f, &around("bash")).0, Verdict::Survives);
    }

    #[test]
    fn foreground_and_leaders_and_other_sessions() {
        // In the foreground, in the leader's own group (no job control).
        let f = facts(stat(200, 100, 100, 'S', PTS3, 100));
        let (v, why) = verdict(&f, &around("sh"));
        assert_eq!(v, Verdict::Dies, "{why:?}");
        assert!(why[0].contains("foreground of /dev/pts/3"));
        // The session leader itself.
        let f = facts(stat(100, 100, 100, 'S', PTS3, 100));
        let (v, why) = verdict(&f, &around("python3"));
        assert_eq!(v, Verdict::Dies);
        assert!(why[0].contains("leads the session"));
        // Its own session, no terminal: nothing reaches it.
        let f = facts(stat(300, 300, 300, 'S', 0, -1));
        let (v, why) = verdict(&f, &around("bash"));
        assert_eq!(v, Verdict::Survives, "{why:?}");
        // An unknown leader may or may not pass the hangup on.
        let f = facts(stat(200, 200, 100, 'S', PTS3, 100));
        assert_eq!(verdict(&f, &around("fish")).0, Verdict::AtRisk);
    }

    #[test]
    fn terminal_output_and_relay() {
        let mut f = facts(stat(300, 300, 300, 'S', 0, -1));
        let tty = Tty::from_tty_nr(PTS3);
        f.out[0] = Some(Fd::Terminal(tty, "/dev/pts/3".into()));
        let mut s = around("bash");
        let (v, why) = verdict(&f, &s);
        assert_eq!(v, Verdict::AtRisk);
        assert_eq!(
            why.last().unwrap(),
            "stdout is a terminal (/dev/pts/3) (EIO after hangup)"
        );
        s.out_owners[0] = Owner::Relay {
            supervisor: 5,
            job: Some("1".into()),
        };
        assert_eq!(verdict(&f, &s).0, Verdict::Survives);
        // Relayed: the default disposition does not matter.
        let mut f = facts(stat(200, 200, 190, 'S', PTS3, 200));
        f.out[1] = Some(Fd::Terminal(Tty::from_tty_nr(PTS3), "/dev/pts/3".into()));
        s.tty_owner = Owner::Relay {
            supervisor: 190,
            job: Some("1".into()),
        };
        s.out_owners[1] = s.tty_owner.clone();
        let (v, why) = verdict(&f, &s);
        assert_eq!(v, Verdict::Survives, "{why:?}");
        assert!(why[0].starts_with("relayed"));
    }

    #[test]
    fn logind_kills_the_scope() {
        let mut f = facts(stat(300, 300, 300, 'S', 0, -1));
        f.cgroup = Some("/user.slice/user-1000.slice/session-4.scope".into());
        let mut s = around("bash");
        s.user = Some("alice".into());
        s.logind = Settings::from_files(&[(
            std::path::PathBuf::from("/etc/systemd/logind.conf"),
            "[Login]\nKillUserProcesses=yes\n".into(),
        )]);
        let (v, why) = verdict(&f, &s);
        assert_eq!(v, Verdict::AtRisk);
        assert!(why
            .iter()
            .any(|w| w.starts_with("logind KillUserProcesses=yes kills the session scope")));
    }
}
