//! Standbys (issue 13, the marked line's latency): with a mark and the
//! integration loaded, an interactive shell on a terminal has one standby,
//! a protected line's job made ready ahead (`hupsafe line standby`,
//! cli/src/relay/line/standby.rs), which the hook hands the next protected
//! line with builtins at Enter. The stories: a line takes the standby over
//! (its supervisor is the standby's process; `ps`, the log, the hangup and
//! `attach` are as for any line), a standby is never a job (`ps`, `ps
//! --json`, `wait`, `attach`), it goes away with its shell leaving nothing,
//! the line falls back to `line start` when the standby was killed, two
//! shells have a standby each, and its files are private and checked by
//! the shell before use.
//!
//! The takeover's control is the fallback story: a line with no standby
//! ready is a job all the same, under a supervisor of its own.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs;
use hupsafe_tests::shell::{Session, Shell, Tagged};
use hupsafe_tests::wait::{poll, until, PATIENCE};
use hupsafe_tests::Sandbox;

fn shells() -> Vec<Shell> {
    let mut v = vec![Shell::Bash];
    if Shell::Zsh.require().is_some() {
        v.push(Shell::Zsh);
    }
    v
}

/// A shell's standby as its announcement names it.
#[derive(Debug, Clone)]
struct Standby {
    pid: i32,
    dir: PathBuf,
}

fn announcement(world: &Sandbox, shell_pid: i32) -> PathBuf {
    world
        .state_dir()
        .join("shells")
        .join(format!("{shell_pid}.standby"))
}

/// The standby the shell's announcement names now, if any.
fn announced(world: &Sandbox, shell_pid: i32) -> Option<Standby> {
    let text = fs::read(announcement(world, shell_pid)).ok()?;
    let fields: Vec<String> = text
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    (fields.len() >= 8 && fields[0] == "hupsafe-standby-1").then(|| Standby {
        pid: fields[2].parse().unwrap(),
        dir: PathBuf::from(&fields[4]),
    })
}

/// Waits for a standby (other than `not`) to be announced and running.
#[track_caller]
fn standby_of(world: &Sandbox, s: &Session, not: Option<i32>) -> Standby {
    let shell = s.term.pid();
    poll(PATIENCE, || {
        announced(world, shell).filter(|b| Some(b.pid) != not && procfs::is_alive(b.pid))
    })
    .unwrap_or_else(|| {
        panic!(
            "no standby announced for shell {shell}:\n{}",
            s.transcript()
        )
    })
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned()
}

/// A protected line is taken by the shell's standby: its job's supervisor
/// is the standby's process, `ps` shows the line as typed, the log keeps
/// its output, a new standby is announced for the next line; after the
/// hangup the line runs on, `attach` shows it, `stop` ends it.
#[test]
fn a_line_takes_over_the_standby() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("standby-take-{name}"));
        let mut s = world.open_counting(shell);
        let first = standby_of(&world, &s, None);
        let t = Tagged::new("standby-take");
        let file = world.root().join(format!("{}.out", t.tag));
        let line = format!(
            "python3 count.py {} 100000 sb | tee {} &",
            t.tag,
            file.display()
        );
        s.run(&line);
        s.sync();
        let job = world.job_tagged(&t.tag);
        assert_eq!(job.command(), vec![line.clone()], "{name}: hupsafe ps");
        assert_eq!(
            world.supervisor_pid(&job.id()),
            first.pid,
            "{name}: the line's supervisor is not the standby that was announced"
        );
        assert!(
            !first.dir.exists(),
            "{name}: the standby's directory is still there under its own name"
        );
        let next = standby_of(&world, &s, Some(first.pid));
        assert_ne!(next.pid, first.pid, "{name}: no new standby");
        assert_eq!(world.ps().len(), 1, "{name}: the new standby is listed");

        s.hang_up();
        poll(PATIENCE, || (t.programs().len() == 2).then_some(()))
            .unwrap_or_else(|| {
                panic!(
                    "{name}: the line died with the terminal (its programs now: {:?}; its job: {}; its log ends:\n{})",
                    t.programs()
                        .into_iter()
                        .map(|p| (p, procfs::cmdline(p)))
                        .collect::<Vec<_>>(),
                    world.job(&job.id()).map(|j| j.state()).unwrap_or_default(),
                    world.log(&job.id()).lines().rev().take(5).collect::<Vec<_>>().join("\n")
                )
            });
        let seen = hupsafe_tests::shell::wait_tick_beyond(&file, 0);
        let mut cmd = std::process::Command::new(hupsafe_bin());
        cmd.args(["attach", &job.id()])
            .env_clear()
            .envs(world.env())
            .current_dir(world.root());
        let mut other = hupsafe_tests::relay::Terminal::spawn(cmd);
        other.expect(&format!("tick {}\r\n", seen + 5));
        other.send(b"\x1dd");
        other.expect("detached from job");
        assert_eq!(other.wait(), 0);
        assert!(
            read(&job.log()).contains(&format!("tick {}", seen + 5)),
            "{name}: the log keeps the line's output"
        );
        let (code, out, err) = world.run(["stop", &job.id()]);
        assert_eq!(code, 0, "{name}: hupsafe stop: {out}{err}");
        assert!(t.all_gone(), "{name}: hupsafe stop left part of the line");
        // The shell is gone: so is its standby.
        until("the last standby to end with its shell", || {
            (!procfs::is_alive(next.pid)).then_some(())
        });
    }
}

/// A standby is not a job the user started: `ps`, `ps --json`, `wait` and
/// `attach` without an argument never see one (the control: the line
/// that takes it over is listed, once).
#[test]
fn no_standby_is_ever_a_job() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("standby-hidden-{name}"));
        let mut s = world.open_counting(shell);
        let b = standby_of(&world, &s, None);
        assert!(b.dir.is_dir(), "{name}: {b:?}");
        let (code, out, err) = world.run(["ps"]);
        assert_eq!(code, 0, "{name}: ps: {err}");
        assert_eq!(out.lines().count(), 1, "{name}: ps lists a standby:\n{out}");
        let (code, out, _) = world.run(["ps", "--json"]);
        assert_eq!(code, 0);
        assert_eq!(out.trim(), "[]", "{name}: ps --json lists a standby");
        let (code, out, err) = world.run(["wait"]);
        assert_eq!(code, 0, "{name}: wait waited for something: {out}{err}");
        let (code, _, err) = world.run(["attach"]);
        assert_ne!(code, 0, "{name}: attach found a job");
        assert!(err.contains("no running job"), "{name}: attach: {err}");
        assert!(procfs::is_alive(b.pid), "{name}: the standby went away");

        // The control: the line that takes it is one job.
        s.run("python3 count.py x 2 hidden | cat");
        let jobs = world.ps();
        assert_eq!(jobs.len(), 1, "{name}: {jobs:?}");
        assert_eq!(
            jobs[0].command(),
            vec!["python3 count.py x 2 hidden | cat".to_string()]
        );
        let next = standby_of(&world, &s, Some(b.pid));
        let (_, out, _) = world.run(["ps", "--json"]);
        assert!(
            !out.contains(&format!("\"pid\": {}", next.pid))
                && !out.contains(&format!("\"pid\":{}", next.pid)),
            "{name}: the new standby is listed: {out}"
        );
    }
}

/// When its shell ends (`exit`, or killed), the standby ends too, and
/// leaves no process, no directory, no announcement, and none of the
/// shell's scratch files.
#[test]
fn a_standby_goes_away_with_its_shell() {
    for shell in shells() {
        for how in ["exit", "kill"] {
            let name = shell.name();
            let world = Sandbox::with_programs(&format!("standby-gone-{name}-{how}"));
            let mut s = world.open_counting(shell);
            let shell_pid = s.term.pid();
            let b = standby_of(&world, &s, None);
            // Alive while its shell is (the control).
            assert!(procfs::is_alive(b.pid) && b.dir.is_dir());
            match how {
                "exit" => {
                    s.term.type_line("exit");
                    s.term.wait();
                }
                _ => {
                    // SAFETY: kill(2) on the shell this test started.
                    unsafe { libc::kill(shell_pid, libc::SIGKILL) };
                    s.term.wait();
                }
            }
            until("the standby to end with its shell", || {
                (!procfs::is_alive(b.pid)).then_some(())
            });
            assert!(!b.dir.exists(), "{name} {how}: {} is left", b.dir.display());
            let shells = world.state_dir().join("shells");
            let left: Vec<String> = fs::read_dir(&shells)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with(&shell_pid.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            assert!(left.is_empty(), "{name} {how}: left in shells/: {left:?}");
            let jobs = fs::read_dir(world.state_dir().join("jobs"))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(jobs, 0, "{name} {how}: something is left in jobs/");
        }
    }
}

/// A standby killed (SIGKILL: no clean-up) is not missed: the next line is
/// protected all the same (`line start`, a supervisor of its own), with
/// nothing said, a new standby is announced, and the dead one's directory
/// is swept.
#[test]
fn the_line_falls_back_when_the_standby_was_killed() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("standby-killed-{name}"));
        let mut s = world.open_counting(shell);
        let b = standby_of(&world, &s, None);
        // SAFETY: kill(2) on the standby this test's shell started.
        unsafe { libc::kill(b.pid, libc::SIGKILL) };
        until("the standby to die", || {
            (!procfs::is_alive(b.pid)).then_some(())
        });
        let t = Tagged::new("standby-killed");
        let line = format!("python3 count.py {} 3 fallback | cat", t.tag);
        s.run(&line);
        let job = world.job_tagged(&t.tag);
        assert_eq!(job.command(), vec![line.clone()], "{name}");
        assert_ne!(world.supervisor_pid(&job.id()), b.pid, "{name}");
        let said = s.transcript();
        assert!(
            !said.contains("hupsafe:"),
            "{name}: said something:\n{said}"
        );
        let next = standby_of(&world, &s, Some(b.pid));
        until("the dead standby's directory to be swept", || {
            (!b.dir.exists()).then_some(())
        });
        // And the next line takes the new one.
        let t2 = Tagged::new("standby-after");
        s.run(&format!("python3 count.py {} 1 after | cat", t2.tag));
        let job2 = world.job_tagged(&t2.tag);
        assert_eq!(world.supervisor_pid(&job2.id()), next.pid, "{name}");
    }
}

/// Two shells, two standbys: each shell's line is taken by its own.
#[test]
fn two_shells_have_a_standby_each() {
    let world = Sandbox::with_programs("standby-two");
    let mut a = world.open_counting(Shell::Bash);
    let mut b = world.open(shells().pop().unwrap());
    let sa = standby_of(&world, &a, None);
    let sb = standby_of(&world, &b, None);
    assert_ne!(sa.pid, sb.pid);
    let ta = Tagged::new("standby-two-a");
    let tb = Tagged::new("standby-two-b");
    b.run(&format!("python3 count.py {} 1 b | cat", tb.tag));
    a.run(&format!("python3 count.py {} 1 a | cat", ta.tag));
    let ja = world.job_tagged(&ta.tag);
    let jb = world.job_tagged(&tb.tag);
    assert_eq!(world.supervisor_pid(&ja.id()), sa.pid);
    assert_eq!(world.supervisor_pid(&jb.id()), sb.pid);
}

/// A standby's files are private (directories 0700, files and FIFOs
/// 0600, the user's own), another user cannot hand it a line, and the
/// shell checks what the announcement names before it opens it: a forged
/// one (its pty a regular file) is not used, the file is not written, the
/// line is protected the slow way.
#[test]
fn a_standby_is_private_and_checked() {
    for shell in shells() {
        let name = shell.name();
        let world = Sandbox::with_programs(&format!("standby-private-{name}"));
        let mut s = world.open_counting(shell);
        let shell_pid = s.term.pid();
        let b = standby_of(&world, &s, None);
        let me = unsafe { libc::geteuid() };
        for dir in [b.dir.clone(), world.state_dir().join("shells")] {
            let m = fs::metadata(&dir).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o700, "{}", dir.display());
            assert_eq!(m.uid(), me);
        }
        for f in fs::read_dir(&b.dir).unwrap().flatten() {
            let m = fs::symlink_metadata(f.path()).unwrap();
            assert_eq!(
                m.permissions().mode() & 0o077,
                0,
                "{name}: {} is open to others",
                f.path().display()
            );
            assert_eq!(m.uid(), me);
        }
        let a = fs::symlink_metadata(announcement(&world, shell_pid)).unwrap();
        assert_eq!(
            a.permissions().mode() & 0o077,
            0,
            "{name}: the announcement"
        );

        if let Some(other) = hupsafe_tests::users::other_user() {
            let take = b.dir.join("take");
            let out = other
                .command("/bin/sh")
                .args(["-c", "printf 'x\\0y\\0' > \"$1\"", "sh"])
                .arg(&take)
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "{name}: another user wrote to the standby's take FIFO"
            );
            assert!(procfs::is_alive(b.pid));
            assert_eq!(world.ps().len(), 0, "{name}: another user made a job");
        }

        // A forged announcement: the same, with a regular file as the pty.
        let victim = world.write("victim", "untouched\n");
        let path = announcement(&world, shell_pid);
        let text = fs::read(&path).unwrap();
        let mut fields: Vec<Vec<u8>> = text.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        fields[5] = victim.to_string_lossy().as_bytes().to_vec();
        let forged = fields.join(&0u8);
        fs::write(&path, forged).unwrap();
        let t = Tagged::new("standby-forged");
        s.run(&format!("python3 count.py {} 2 forged | cat", t.tag));
        assert_eq!(
            read(&victim),
            "untouched\n",
            "{name}: the shell wrote there"
        );
        let job = world.job_tagged(&t.tag);
        assert_ne!(world.supervisor_pid(&job.id()), b.pid, "{name}");
        assert!(
            read(&job.log()).contains("done forged"),
            "{name}: the line was not protected"
        );
        // A symbolic link as the announcement is not followed either.
        let next = standby_of(&world, &s, Some(b.pid));
        let real = world.root().join("real-announcement");
        fs::rename(&path, &real).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        let t = Tagged::new("standby-link");
        s.run(&format!("python3 count.py {} 1 link | cat", t.tag));
        let job = world.job_tagged(&t.tag);
        assert_ne!(world.supervisor_pid(&job.id()), next.pid, "{name}");
    }
}
