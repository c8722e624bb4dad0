//! Reading the system for `check`: /proc, ELF, logind and the registry, into a snapshot.
//!
//! Every process's stat, this user's live relay jobs, logind's settings
//! and the marks are taken once (a [`Snapshot`]); then what one process
//! shows ([`Seen`]): its signal dispositions, where its output goes, who
//! holds its terminals, its session leader and scope. All through
//! [`crate::sys::proc`], [`crate::sys::elf`], [`crate::sys::logind`],
//! [`crate::sys::preload`], the registry and the marks file.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;

use super::model::{
    Client, Disposition, Facts, Live, Named, Owner, Part, Seen, Session, Shell, Surroundings,
};
use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT};
use crate::marks;
use crate::registry::{ProcId, Registry};
use crate::sys::logind::{self, Settings};
use crate::sys::proc::{self, Fd, Stat, Status, Table, Tty};
use crate::sys::{elf, preload};

/// A job of this user's registry whose supervisor is alive.
#[derive(Debug, Clone)]
struct LiveJob {
    id: String,
    supervisor: ProcId,
    program: Option<ProcId>,
}

/// The machine as `check` found it: every process's stat, this user's
/// live relay jobs, logind's settings, the marks.
pub struct Snapshot {
    pub table: Table,
    jobs: Vec<LiveJob>,
    logind: Settings,
    hupsafe_exe: Option<(u64, u64)>,
    marks: Option<Vec<String>>,
    owners: RefCell<HashMap<Tty, Owner>>,
}

impl Snapshot {
    /// Reads it all, once.
    pub fn take() -> Snapshot {
        let table = Table::read();
        let jobs = live_jobs();
        let hupsafe_exe = proc::exe_identity(std::process::id() as i32).ok();
        let marked = marks::load_names();
        Snapshot {
            table,
            jobs,
            logind: Settings::read(),
            hupsafe_exe,
            marks: marked,
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

    /// The job `pid` is the supervisor or the session holder of (a
    /// hupsafe leading a session whose parent is a job's supervisor).
    fn part_of(&self, pid: i32, st: &Stat) -> Option<Part> {
        if !st.leads_session() {
            return None;
        }
        if let Some(j) = self.jobs.iter().find(|j| j.supervisor.pid == pid) {
            return Some(Part::Supervisor { job: j.id.clone() });
        }
        let j = self.jobs.iter().find(|j| j.supervisor.pid == st.ppid)?;
        self.is_hupsafe(pid).then(|| Part::Holder {
            job: j.id.clone(),
            supervisor: j.supervisor.pid,
        })
    }

    /// The name to mark `f` by, if it was typed at a bash or zsh prompt
    /// and is not marked yet.
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
        (!marked && marks::invalid_reason(&name).is_none()).then_some(name)
    }

    /// What `pid` shows: all a verdict rests on, or why there is nothing
    /// to judge.
    pub fn look(&self, pid: i32) -> Seen {
        let st = match proc::stat(pid) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Seen::Gone,
            Err(e) => return Seen::Hidden(e),
        };
        let command: Vec<String> = proc::cmdline(pid)
            .unwrap_or_default()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if st.is_zombie() {
            let parent = self.table.get(st.ppid).map(|p| Named {
                pid: p.pid,
                comm: p.comm.clone(),
            });
            return Seen::Exited {
                stat: st,
                command,
                parent,
            };
        }
        let status = match proc::status(pid) {
            Ok(s) => s,
            Err(error) => {
                return Seen::Unreadable {
                    stat: st,
                    command,
                    error,
                }
            }
        };
        let blocked =
            !proc::threads_blocking(pid, libc::SIGHUP).is_empty() || status.blocks(libc::SIGHUP);
        let awaited = !proc::threads_waiting(pid, libc::SIGHUP).is_empty();
        let term_blocked = status.blocks(libc::SIGTERM);
        let shim = proc::mapped_shim(pid).ok().map(|p| p.is_some());
        let out = [proc::fd(pid, 1).ok(), proc::fd(pid, 2).ok()];
        let program = proc::exe(pid).ok().and_then(|p| elf::inspect(&p).ok());
        let is_static = program.as_ref().and_then(|t| match &t.format {
            elf::Format::Elf(e) => Some(e.is_static()),
            _ => None,
        });
        let shim_missing = if shim == Some(false) {
            shim_missing_why(pid, program.as_ref(), &status)
        } else {
            None
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
        let user = proc::user_name(status.uid.0);
        let around = Surroundings {
            markable: self.markable(&st, leader.as_ref()),
            leader,
            out_owners: [out_owner(&out[0]), out_owner(&out[1])],
            tty_owner,
            lingers: user.as_deref().is_some_and(logind::lingers),
            user,
            logind: self.logind.clone(),
        };
        let part = self.part_of(pid, &st);
        let client = self.client_of(pid, &st).map(|j| Client {
            job: j.id,
            supervisor: j.supervisor.pid,
            program: j.program.map(|p| p.pid),
        });
        let facts = Facts {
            stat: st,
            uid: status.uid.0,
            hup: Disposition::of(&status, libc::SIGHUP, blocked, awaited),
            term: Disposition::of(&status, libc::SIGTERM, term_blocked, false),
            shim,
            out,
            cgroup: proc::cgroup(pid).ok(),
            is_static,
            shim_missing,
        };
        Seen::Live(Box::new(Live {
            command,
            facts,
            around,
            client,
            part,
        }))
    }
}

/// Why a process whose LD_PRELOAD names the shim does not have it
/// mapped (None when its LD_PRELOAD has no shim, or cannot be read).
fn shim_missing_why(pid: i32, program: Option<&elf::Target>, status: &Status) -> Option<String> {
    let value = proc::environ_var(pid, "LD_PRELOAD").ok()??;
    let entry = preload::entries(&value)
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

/// The terminal multiplexer a process of this name is, if it is one (its
/// windows outlive a dropped connection).
fn multiplexer_name(comm: &str) -> Option<&'static str> {
    match comm {
        c if c.starts_with("tmux") => Some("tmux"),
        c if c.eq_ignore_ascii_case("screen") => Some("screen"),
        "dtach" => Some("dtach"),
        "abduco" => Some("abduco"),
        "zellij" => Some("zellij"),
        _ => None,
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

/// The jobs of the caller's terminal session: its members minus this
/// process, its process group (a pipeline it is part of) and its
/// ancestors (the shell); only the topmost of each family (descendants
/// follow their ancestor).
pub fn session_roots(snap: &Snapshot) -> Result<(Session, Vec<i32>)> {
    let me = std::process::id() as i32;
    let my = proc::stat(me)
        .map_err(|e| Error::failure(format!("cannot read /proc/self/stat: {}", os_words(&e))))?;
    let Some(tty) = my.tty() else {
        return Err(Error::new(
            EXIT_BAD_INPUT,
            "check: this command has no controlling terminal, so there is no \
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
        Session {
            session: my.session,
            tty: tty.name(),
            leader,
            held_by,
        },
        roots,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexers_by_name() {
        for (comm, name) in [
            ("tmux: server", Some("tmux")),
            ("SCREEN", Some("screen")),
            ("screen", Some("screen")),
            ("dtach", Some("dtach")),
            ("zellij", Some("zellij")),
            ("abduco", Some("abduco")),
            ("sshd", None),
            ("xterm", None),
            ("screenfetch", None),
        ] {
            assert_eq!(multiplexer_name(comm), name, "{comm}");
        }
    }
}
