//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hupsafe_tests::cli::{hupsafe_bin, is_root};
use hupsafe_tests::procfs;
use hupsafe_tests::relay::Terminal;
use hupsafe_tests::shell::{Session, Shell, Tagged};
use hupsafe_tests::wait::poll;
use hupsafe_tests::{require_other_user, until, CProgram, ProcStatus, Sandbox};

/// The harness itself: the second user exists, is not us, and commands run
/// as that user really run with its ids (the base every story below uses).
#[test]
fn a_second_user_runs_commands_as_itself() {
    let other = require_other_user!();
    assert_ne!(other.uid, 0);
    let out = other.command("id").arg("-u").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        other.uid.to_string()
    );
}

// ---- processes ----
//
// A verb hits the process it names and nothing else: `stop` and `signal`
// address a process group only when the job's program leads one, never a
// pid <= 1. A rescue leaves its target exactly as it was or rescued,
// whatever happens to the rescuer.

/// Prints `tick N` every 100 ms until killed, SIGHUP at its default.
const PY_TICKS: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
i = 0
while True:
    print('tick %d' % i, flush=True)
    i += 1
    time.sleep(0.1)
";

/// The job `hupsafe rescue PID` registered, from its report.
fn rescued_job(out: &str) -> String {
    out.split("go to job ")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no job in the rescue's report: {out}"))
        .to_string()
}

/// Waits (bounded) until `pid` is gone; whether it went.
fn gone(pid: i32) -> bool {
    poll(Duration::from_secs(10), || {
        (!procfs::is_alive(pid)).then_some(())
    })
    .is_some()
}

/// Finding 5: two rescued programs that do not lead their process group
/// (background jobs of a non-interactive sh, which leads the group). On
/// main, `signal TERM` sent kill(-pid) to a group that does not exist: it
/// exited 0 having done nothing, and `stop` failed after SIGKILL. Now each
/// verb ends its program alone; the sh leading the group lives on.
#[test]
fn stop_and_signal_reach_a_rescued_program_that_does_not_lead_its_group() {
    let world = Sandbox::for_jobs("sec-nonleader");
    world.write("ticks.py", PY_TICKS);
    let tag = procfs::unique_tag("nonleader");
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        "python3 ticks.py \"$0\" & python3 ticks.py \"$0\" & wait; exec sleep 600",
        &tag,
    ])
    .env_clear()
    .envs(world.env())
    .current_dir(world.root());
    let mut term = Terminal::spawn(sh);
    let leader = term.pid();
    let pythons = until("two tagged pythons", || {
        let p: Vec<i32> = procfs::find_by_tag(&tag)
            .into_iter()
            .filter(|&p| p != leader)
            .collect();
        (p.len() == 2).then_some(p)
    });
    term.expect("tick 2");
    let mut jobs = Vec::new();
    for &p in &pythons {
        let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap();
        let pgrp: i32 = st
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(pgrp, leader, "the python should be in the sh's group");
        let (code, out, err) = world.run(["rescue", &p.to_string()]);
        assert_eq!(code, 0, "rescue {p}: {out}{err}");
        jobs.push(rescued_job(&out));
    }
    let (code, out, err) = world.run(["signal", "TERM", &jobs[0]]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        gone(pythons[0]),
        "signal TERM did not reach pid {}",
        pythons[0]
    );
    assert!(procfs::is_alive(pythons[1]), "the other program was hit");
    assert!(procfs::is_alive(leader), "the group's leader was hit");

    let (code, out, err) = world.run(["stop", "--grace", "5", &jobs[1]]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(gone(pythons[1]), "stop did not end pid {}", pythons[1]);
    assert!(procfs::is_alive(leader), "stop hit the group's leader");
    // SAFETY: kill by pid of the sh this test started.
    unsafe { libc::kill(leader, libc::SIGKILL) };
    drop(term);
}

/// Finding 5: a rescued pid 1 of a pid namespace (a container's shell).
/// On main, `hupsafe stop` ran kill(-1, SIGTERM) then kill(-1, SIGKILL)
/// inside the namespace: every other process there died. Now `stop`
/// refuses pid 1 and says why; the bystander lives.
#[test]
fn stop_never_signals_pid_1_of_a_pid_namespace() {
    if !is_root() {
        eprintln!("skipped: a pid namespace (unshare --pid) needs root (CI runs as root)");
        return;
    }
    let unshare = hupsafe_tests::require_tool!("unshare", "util-linux");
    let world = Sandbox::for_jobs("sec-pid1");
    let out = world.dir("out");
    let tag = procfs::unique_tag("bystander");
    // Each hupsafe in a subshell: dash redirects a simple command's output
    // in itself first, and pid 1's stdout must stay the terminal.
    let script = format!(
        "sh -c 'sleep 600; :' {tag} &\n\
         H={hupsafe}; D={out}\n\
         ($H rescue 1) >$D/rescue.out 2>&1\n\
         id=$(sed -n \"s/.*go to job \\([^']*\\)'s log.*/\\1/p\" $D/rescue.out)\n\
         ($H stop --grace 1 \"$id\") >$D/stop.out 2>&1; echo $? >$D/stop.rc\n\
         exec sleep 600\n",
        hupsafe = hupsafe_bin().display(),
        out = out.display(),
    );
    let mut c = Command::new(unshare);
    c.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "sh",
        "-c",
        &script,
    ])
    .env_clear()
    .envs(world.env())
    .current_dir(world.root());
    let term = Terminal::spawn(c);
    // The tag is in pid 1's script too: the bystander is the `sh -c` alone.
    let bystander = until("the bystander", || {
        procfs::find_by_tag(&tag).into_iter().find(|&p| {
            procfs::cmdline(p).is_some_and(|a| a.get(2).is_some_and(|s| s == "sleep 600; :"))
        })
    });
    until("the stop's status", || {
        std::fs::read_to_string(out.join("stop.rc"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    let alive = procfs::is_alive(bystander);
    let (rescue, stop, rc) = (read("rescue.out"), read("stop.out"), read("stop.rc"));
    // SAFETY: kill by pid of the unshare this test started (--kill-child
    // takes the namespace with it).
    unsafe { libc::kill(term.pid(), libc::SIGKILL) };
    drop(term);
    assert!(rescue.contains("rescued 1"), "{rescue}");
    assert!(alive, "stop killed the namespace's other processes: {stop}");
    assert_eq!(rc.trim(), "1", "{stop}");
    assert!(stop.contains("never signals pid 1"), "{stop}");
}

/// The refusal for a set-user-id program says what is wrong: started by
/// the user, it runs with root's effective and saved ids. On main it said
/// "belongs to uid 1001, not to you (uid 1001)".
#[test]
fn rescue_of_a_setuid_program_says_it_is_set_id() {
    let other = require_other_user!();
    let world = Sandbox::new("sec-setuid");
    std::fs::set_permissions(world.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sleep = world.root().join("suid-sleep");
    std::fs::copy("/bin/sleep", &sleep).unwrap();
    std::fs::set_permissions(&sleep, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut child = other.command(&sleep).arg("600").spawn().unwrap();
    let pid = child.id() as i32;
    until("the set-user-id sleep", || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        st.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
            .then_some(())
    });
    let out = other
        .command(hupsafe_bin())
        .args(["rescue", &pid.to_string()])
        .env("HUPSAFE_STATE_DIR", "/nonexistent/hupsafe-setuid-test")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        !err.contains("not to you"),
        "it is the user's own process: {err}"
    );
    assert!(
        err.contains("set-user-id")
            && err.contains("effective 0")
            && err.contains("sudo hupsafe rescue"),
        "{err}"
    );
}

/// Ticks every 100 ms and answers each line typed at it with `echo LINE`,
/// SIGHUP at its default.
const PY_ANSWERS: &str = "\
import select, signal, sys
signal.signal(signal.SIGHUP, signal.SIG_DFL)
i = 0
while True:
    r, _, _ = select.select([sys.stdin], [], [], 0.1)
    if r:
        print('echo ' + sys.stdin.readline().strip(), flush=True)
    print('tick %d' % i, flush=True)
    i += 1
";

fn tracer_of(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A `hupsafe rescue PID` stopped by the injector's test hook at `point`
/// (it waits for a line on its stdin there), with `env` added.
fn paused_rescue(world: &Sandbox, pid: i32, point: &str, env: &[(&str, &str)]) -> Child {
    let mut c = world.hupsafe(["rescue", &pid.to_string()]);
    c.env("HUPSAFE_TEST_RESCUE_PAUSE", point)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        format!("rescue paused at {point}"),
        "the rescuer never reached its pause point"
    );
    // Mid-injection means mid-injection: it traces the target, whose SIGHUP
    // is already ignored.
    assert_eq!(tracer_of(pid), Some(child.id() as i32));
    if point == "mid-injection" {
        assert!(ProcStatus::of(pid).unwrap().ignores(libc::SIGHUP));
    }
    child
}

/// The python of a bash session on a pty, ticking; its pid.
fn answering_python(world: &Sandbox, s: &mut Session, t: &Tagged) -> i32 {
    world.write("answers.py", PY_ANSWERS);
    s.start(&format!("python3 answers.py {}", t.tag));
    let pid = t.wait_program();
    s.expect("tick 3");
    pid
}

/// Finding 7: a rescuer SIGKILLed in the middle of the injection (paused
/// there by its test hook, right after the injected mmap: the target sits
/// on borrowed registers with the page's address as its system call's
/// result). The python lives on, is no longer traced, writes its next line
/// and answers what is typed at it.
#[test]
fn a_rescuer_killed_mid_injection_leaves_its_target_running() {
    let world = Sandbox::with_programs("sec-rescue-kill");
    let t = Tagged::new("rescue-kill");
    let mut s = world.open_plain(Shell::Bash);
    let pid = answering_python(&world, &mut s, &t);
    let mut rescuer = paused_rescue(&world, pid, "after-mmap", &[]);
    rescuer.kill().unwrap();
    rescuer.wait().unwrap();
    until("the target detached", || {
        (tracer_of(pid) != Some(rescuer.id() as i32)).then_some(())
    });
    assert!(procfs::is_alive(pid), "the target died");
    assert_eq!(tracer_of(pid), Some(0), "left traced");
    s.term.type_line("ping");
    s.expect("echo ping");
    s.expect("tick");
    assert!(procfs::is_alive(pid), "the target died");
}

/// The same with a C program that checks what its nanosleep returns, and
/// its control: without the restoring frame (main's injector), the killed
/// rescuer leaves it on borrowed registers and it sees the mmap's address
/// as nanosleep's result ("broken", exit 3: a python died with `OSError:
/// [Errno -278040576]` that way); with the frame, the sleep ends with EINTR
/// at worst, and it ticks and answers SIGUSR1.
#[test]
fn a_rescuer_killed_mid_injection_leaves_a_checking_program_intact_and_the_control_broken() {
    let prog = CProgram::new("rescue_sleeper").build();
    for control in [true, false] {
        let world = Sandbox::with_programs("sec-rescue-kill-c");
        let t = Tagged::new("rescue-kill-c");
        let mut s = world.open_plain(Shell::Bash);
        s.start(&format!("{} {}", prog.display(), t.tag));
        let pid = t.wait_program();
        s.expect("tick 3");
        let env: &[(&str, &str)] = if control {
            &[("HUPSAFE_TEST_RESCUE_FALLBACK", "off")]
        } else {
            &[]
        };
        let mut rescuer = paused_rescue(&world, pid, "after-mmap", env);
        rescuer.kill().unwrap();
        rescuer.wait().unwrap();
        if control {
            s.expect("broken: nanosleep returned");
            continue;
        }
        until("the target detached", || {
            (tracer_of(pid) == Some(0)).then_some(())
        });
        s.expect("tick");
        // SAFETY: kill by pid of the tagged program of this test.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        s.expect("answer");
        s.expect("tick");
        assert!(procfs::is_alive(pid), "the target died");
        assert!(!s.transcript().contains("broken"), "{}", s.transcript());
    }
}

/// Finding 7: an SSH drop (SIGHUP) and a SIGTERM reach the rescuer in the
/// middle of the injection. They wait until the target is detached: the
/// rescue completes, the target is rescued (SIGHUP ignored, output in the
/// job's log), is not traced, and survives its terminal's hangup.
#[test]
fn hangup_and_term_of_the_rescuer_wait_for_the_injection_to_end() {
    let world = Sandbox::with_programs("sec-rescue-hup");
    let t = Tagged::new("rescue-hup");
    let mut s = world.open_plain(Shell::Bash);
    let pid = answering_python(&world, &mut s, &t);
    let mut rescuer = paused_rescue(&world, pid, "mid-injection", &[]);
    let rpid = rescuer.id() as i32;
    for sig in [libc::SIGHUP, libc::SIGTERM] {
        // SAFETY: kill by pid of the rescuer this test started.
        unsafe { libc::kill(rpid, sig) };
    }
    until("the signals pending in the rescuer", || {
        let st = ProcStatus::of(rpid)?;
        (st.pending(libc::SIGHUP) && st.pending(libc::SIGTERM)).then_some(())
    });
    assert_eq!(tracer_of(pid), Some(rpid), "the rescuer let go early");
    // Let it go on: it finishes, then the held signals end it.
    drop(rescuer.stdin.take());
    let mut report = String::new();
    rescuer
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    let status = rescuer.wait().unwrap();
    assert_eq!(tracer_of(pid), Some(0), "left traced");
    let st = ProcStatus::of(pid).unwrap();
    assert!(st.ignores(libc::SIGHUP), "not rescued (status {status:?})");
    let tty = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    assert!(
        tty.to_string_lossy().ends_with("/log"),
        "stdout is {tty:?}, not the job's log"
    );
    s.hang_up();
    let log = world.job_log(&t.tag);
    let seen = until("a tick in the log", || {
        let text = std::fs::read_to_string(&log).ok()?;
        hupsafe_tests::shell::last_tick(&text)
    });
    hupsafe_tests::shell::wait_tick_beyond(&log, seen + 5);
    assert!(procfs::is_alive(pid), "it died with its terminal");
}

/// A daemon with a reload handler: prints `reloaded` after SIGHUP, `usr1`
/// after SIGUSR1 (in the order the handlers ran), `ready` once both are set.
const PY_RELOADER: &str = "\
import signal, time
seen = []
signal.signal(signal.SIGHUP, lambda *a: seen.append('reloaded'))
signal.signal(signal.SIGUSR1, lambda *a: seen.append('usr1'))
print('ready', flush=True)
while True:
    time.sleep(0.05)
    while seen:
        print(seen.pop(0), flush=True)
";

/// Finding 13: `kill -HUP PID` to make a protected daemon reload does
/// nothing (its handler never runs: SIGHUP, sent before SIGUSR1, would be
/// handled first). hupsafe says so where users look: `check PID` names the
/// handler that never runs, `--help` names the limit. On main both were
/// silent.
#[test]
fn a_reload_by_kill_hup_is_said_to_do_nothing() {
    let world = Sandbox::for_jobs("sec-reload");
    let mut daemon = world
        .hupsafe(["run", "--", "python3", "-c", PY_RELOADER])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = daemon.id() as i32;
    let mut out = BufReader::new(daemon.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    for sig in [libc::SIGHUP, libc::SIGUSR1] {
        // SAFETY: kill by pid of the daemon this test started.
        unsafe { libc::kill(pid, sig) };
    }
    line.clear();
    out.read_line(&mut line).unwrap();
    if line.is_empty() {
        panic!("the daemon ended: {:?}", daemon.wait_with_output());
    }
    assert_eq!(
        line, "usr1\n",
        "the SIGHUP handler ran: hupsafe did not hold it"
    );

    let (_, check, err) = world.run(["check", &pid.to_string()]);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(
        check.contains("handler") && check.contains("never runs") && check.contains("kill -HUP"),
        "check is silent about the reload: {check}{err}"
    );
    let (_, help, _) = world.run(["--help"]);
    assert!(
        help.contains("`kill -HUP PID` cannot make a") && help.contains("reload"),
        "{help}"
    );
}

/// Finding 11: `sudo hupsafe rescue PID`, the advice for another user's
/// process, works: root registers the job as the process's owner, in the
/// state directory its environment names, so the process can open its log
/// (on main the log was made in root's private directory: "opening the log
/// failed ... Permission denied"). The owner's `hupsafe ps` lists the job,
/// and the process outlives its terminal.
#[test]
fn root_rescues_another_users_process_into_that_users_state() {
    let other = require_other_user!();
    let world = Sandbox::for_jobs("sec-sudo-rescue");
    std::fs::set_permissions(world.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = world.root().join("other-state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(other.uid), Some(other.gid)).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let script = world.write("ticks.py", PY_TICKS);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tag = procfs::unique_tag("sudo-rescue");
    let mut py = other.command("python3");
    py.arg(&script).arg(&tag).env("HUPSAFE_STATE_DIR", &state);
    let mut term = Terminal::spawn(py);
    let pid = term.pid();
    term.expect("tick 2");

    let (code, out, err) = world.run(["rescue", &pid.to_string()]);
    assert_eq!(code, 0, "sudo hupsafe rescue failed: {out}{err}");
    let id = rescued_job(&out);
    let log = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    assert!(
        log.starts_with(&state),
        "the log is {log:?}, not in the owner's state"
    );
    let meta = std::fs::metadata(&log).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        other.uid,
        "the log is not the owner's"
    );
    let ps = other
        .command(hupsafe_bin())
        .args(["ps", "--json"])
        .env("HUPSAFE_STATE_DIR", &state)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&ps.stdout);
    assert!(
        listed.contains(&format!("\"id\": \"{id}\""))
            || listed.contains(&format!("\"id\":\"{id}\"")),
        "the owner's ps does not list job {id}: {listed}{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    term.hang_up();
    let seen = until("a tick in the log", || {
        hupsafe_tests::shell::last_tick(&std::fs::read_to_string(&log).ok()?)
    });
    hupsafe_tests::shell::wait_tick_beyond(&log, seen + 3);
    assert!(procfs::is_alive(pid), "it died with its terminal");
    // SAFETY: kill by pid of the python this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}
