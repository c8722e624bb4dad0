//! `hupsafe check` on processes whose fate depends on the terminal, each
//! on a real pty with a real hangup after the verdict: output on the
//! terminal (EIO), a job stopped with Ctrl-Z under bash (SIGTERM, at
//! risk rather than certain: bash's own SIGCONT can race it) and
//! under zsh (the kernel's HUP+CONT), a foreground job, a session leader,
//! a process moved to a new session with setsid, and a relayed job.

use std::process::Command;

use hupsafe_tests::check::{check, dies, stays_alive, write_programs, Subject};
use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::relay::{proc_state, Terminal};
use hupsafe_tests::shell::{is_stopped, last_tick, quote, Shell};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, require_tool, until};

#[track_caller]
fn wait_stopped(pid: i32) {
    until(&format!("pid {pid} to be stopped"), || {
        is_stopped(pid).then_some(())
    });
}

#[test]
fn output_on_the_terminal_is_at_risk_and_the_shell_itself_dies() {
    let world = Sandbox::with_programs("check-eio");
    write_programs(&world);
    let mut s = world.open_plain(Shell::Bash);
    let printer = Subject::new(&world, "check-printer");
    // SIGHUP ignored, so only the terminal's EIO can end it.
    s.run(&format!("python3 printer.py {} &", printer.args()));
    let pid = printer.wait_ready();
    let shell = s.term.pid();

    let v = check(&world.env(), &[pid, shell]);
    v.expect(
        pid,
        "at risk",
        "stdout and stderr are the terminal (EIO after hangup)",
    );
    assert!(v.fixes(pid).contains("redirect its output"), "{}", v.stdout);
    v.expect(shell, "dies", "it leads the session of /dev/pts/");
    v.expect(shell, "dies", "SIGHUP caught by handler");
    assert_eq!(v.row(shell)["facts"]["session_leader"], true);
    assert_eq!(v.status, 1);

    s.hang_up();
    assert!(
        dies(pid),
        "its output went to a dead terminal, yet it lived:\n{}",
        v.stdout
    );
}

#[test]
fn stopped_jobs_under_bash_get_sigterm() {
    let world = Sandbox::with_programs("check-stopped-bash");
    write_programs(&world);
    let mut s = world.open_plain(Shell::Bash);
    // Ctrl-Z on a job that ignores SIGHUP: bash's SIGTERM ends it anyway.
    let stopped = Subject::new(&world, "check-stopped");
    s.start(&format!(
        "python3 ignore.py {} > /dev/null 2>&1",
        stopped.args()
    ));
    let p_stopped = stopped.wait_ready();
    s.suspend();
    // The same with SIGTERM ignored too (inherited from a subshell's trap):
    // bash's SIGTERM and SIGHUP are ignored, its SIGCONT resumes it.
    let stoic = Subject::new(&world, "check-stoic");
    s.start(&format!(
        "(trap '' TERM; exec python3 ignore.py {} > /dev/null 2>&1)",
        stoic.args()
    ));
    let p_stoic = stoic.wait_ready();
    s.suspend();
    wait_stopped(p_stopped);
    wait_stopped(p_stoic);

    let v = check(&world.env(), &[p_stopped, p_stoic]);
    v.expect(p_stopped, "at risk", "stopped job under bash (bash, pid");
    v.expect(p_stopped, "at risk", "ignoring SIGHUP does not help");
    assert!(v.fixes(p_stopped).contains("bg"), "{}", v.stdout);
    v.expect(
        p_stoic,
        "survives",
        "sends SIGTERM on hangup, which it ignores",
    );
    assert_eq!(v.status, 1);

    s.hang_up();
    // bash's SIGTERM usually ends it; when the SIGCONT it sent first wins
    // the race to its job table, it runs on. Either way bash acted on it.
    until("bash to end or continue the stopped job", || {
        (!procfs::is_alive(p_stopped) || !is_stopped(p_stopped)).then_some(())
    });
    assert!(stays_alive(p_stoic), "{}", v.stdout);
    // Continued by bash's SIGCONT.
    until("the stoic job to run again", || {
        (proc_state(p_stoic).is_some_and(|c| c != 'T')).then_some(())
    });
}

#[test]
fn stopped_jobs_under_zsh_get_the_kernels_sighup() {
    require_tool!("zsh", "zsh");
    let world = Sandbox::with_programs("check-stopped-zsh");
    write_programs(&world);
    let mut s = world.open_plain(Shell::Zsh);
    let ignored = Subject::new(&world, "check-zsh-stopped-ignored");
    s.start(&format!(
        "python3 ignore.py {} > /dev/null 2>&1",
        ignored.args()
    ));
    let p_ignored = ignored.wait_ready();
    s.suspend();
    let default = Subject::new(&world, "check-zsh-stopped-default");
    s.start(&format!(
        "python3 default.py {} > /dev/null 2>&1",
        default.args()
    ));
    let p_default = default.wait_ready();
    s.suspend();
    wait_stopped(p_ignored);
    wait_stopped(p_default);

    let v = check(&world.env(), &[p_ignored, p_default]);
    v.expect(p_ignored, "survives", "stopped job under zsh: zsh skips it");
    v.expect(p_default, "dies", "orphaned process group");
    assert_eq!(v.status, 1);

    s.hang_up();
    assert!(stays_alive(p_ignored), "{}", v.stdout);
    assert!(dies(p_default), "{}", v.stdout);
}

#[test]
fn foreground_jobs_get_the_kernels_sighup() {
    let world = Sandbox::with_programs("check-foreground");
    write_programs(&world);
    let mut a = world.open_plain(Shell::Bash);
    let mut b = world.open_plain(Shell::Bash);
    let ignored = Subject::new(&world, "check-fg-ignored");
    let default = Subject::new(&world, "check-fg-default");
    a.start(&format!(
        "python3 ignore.py {} > /dev/null 2>&1",
        ignored.args()
    ));
    b.start(&format!(
        "python3 default.py {} > /dev/null 2>&1",
        default.args()
    ));
    let (p_ignored, p_default) = (ignored.wait_ready(), default.wait_ready());

    let v = check(&world.env(), &[p_ignored, p_default]);
    v.expect(p_ignored, "survives", "in the foreground of /dev/pts/");
    v.expect(p_default, "dies", "in the foreground of /dev/pts/");
    assert_eq!(v.row(p_default)["facts"]["foreground"], true);

    a.hang_up();
    b.hang_up();
    assert!(stays_alive(p_ignored), "{}", v.stdout);
    assert!(dies(p_default), "{}", v.stdout);
}

#[test]
fn a_session_leader_gets_the_kernels_sighup() {
    let world = Sandbox::with_programs("check-leader");
    write_programs(&world);
    let leader = Subject::new(&world, "check-leader");
    let mut cmd = Command::new("python3");
    cmd.arg(world.root().join("leader.py"))
        .arg(&leader.tagged.tag)
        .arg(&leader.ready)
        .env_clear()
        .envs(world.env())
        .current_dir(world.root());
    let mut t = Terminal::spawn(cmd);
    let pid = leader.wait_ready();
    assert_eq!(pid, t.pid());

    let v = check(&world.env(), &[pid]);
    v.expect(pid, "dies", "it leads the session of /dev/pts/");
    v.expect(pid, "dies", "SIGHUP at its default action");
    assert_eq!(v.row(pid)["facts"]["stdout"], "/dev/null");

    t.hang_up();
    assert!(dies(pid), "{}", v.stdout);
    t.wait();
}

#[test]
fn setsid_leaves_the_terminals_reach_but_not_its_output() {
    let world = Sandbox::with_programs("check-setsid");
    write_programs(&world);
    let mut s = world.open_plain(Shell::Bash);
    // SIGHUP at its default, in a session of its own, output redirected.
    let away = Subject::new(&world, "check-setsid-away");
    s.run(&format!(
        "setsid python3 default.py {} > /dev/null 2>&1 < /dev/null &",
        away.args()
    ));
    // In a session of its own, but printing to the terminal.
    let printing = Subject::new(&world, "check-setsid-printing");
    s.run(&format!("setsid python3 printer.py {} &", printing.args()));
    let (p_away, p_printing) = (away.wait_ready(), printing.wait_ready());

    let v = check(&world.env(), &[p_away, p_printing]);
    v.expect(
        p_away,
        "survives",
        "no controlling terminal (it leads a session of its own): no hangup signal reaches it",
    );
    v.expect(p_away, "survives", "SIGHUP itself is at its default action");
    v.expect(
        p_printing,
        "at risk",
        "stdout and stderr are a terminal (/dev/pts/",
    );
    assert_eq!(v.status, 1);

    s.hang_up();
    assert!(
        stays_alive(p_away),
        "check said a process in its own session survives, even with SIGHUP at its \
         default, but the hangup killed it\n{}",
        v.stdout
    );
    assert!(dies(p_printing), "{}", v.stdout);
}

#[test]
fn a_relayed_job_survives() {
    let world = Sandbox::with_programs("check-relay");
    write_programs(&world);
    let bin = quote(&hupsafe_bin().to_string_lossy());
    let mut s = world.open_plain(Shell::Bash);
    let printer = Subject::new(&world, "check-relayed");
    // Output on the terminal: hupsafe relays it.
    s.start(&format!("{bin} python3 printer.py {}", printer.args()));
    let program = printer.wait_ready();
    let session = procfs_session(s.term.pid());
    let client = until("the relay client", || {
        printer
            .tagged
            .pids()
            .into_iter()
            .find(|&p| p != program && procfs_session(p) == session)
    });

    let v = check(&world.env(), &[client]);
    v.expect(client, "survives", "hupsafe relay client of job");
    // The job's program follows its client, relayed.
    v.expect(program, "survives", "relayed: its terminal /dev/pts/");
    assert_eq!(v.row(program)["depth"], 1);
    assert_eq!(v.status, 0, "{}", v.stdout);
    let direct = check(&world.env(), &[program]);
    direct.expect(program, "survives", "held by the hupsafe supervisor");
    assert!(direct.row(program)["facts"]["relay"]["supervisor"].is_i64());

    s.hang_up();
    assert!(stays_alive(program), "{}", v.stdout);
    let log = world.job_log(&printer.tagged.tag);
    let seen = last_tick(&std::fs::read_to_string(&log).unwrap_or_default()).unwrap_or(0);
    hupsafe_tests::shell::wait_tick_beyond(&log, seen);
}

/// The session of `pid` (field 6 of /proc/PID/stat); -1 if it is gone.
fn procfs_session(pid: i32) -> i32 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &text[text.rfind(')').map_or(0, |i| i + 1)..];
    rest.split_whitespace()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

#[test]
fn a_tmux_window_outlives_a_dropped_client() {
    let tmux_bin = require_tool!("tmux", "tmux");
    let world = Sandbox::with_programs("check-tmux");
    write_programs(&world);
    let sock = world.root().join("tmux.sock");
    let program = Subject::new(&world, "check-tmux");
    let tmux = |args: &[&str]| {
        let mut c = Command::new(&tmux_bin);
        c.arg("-S")
            .arg(&sock)
            .args(args)
            .env_clear()
            .envs(world.env())
            .env("TERM", "xterm")
            .current_dir(world.root());
        c
    };
    // SIGHUP at its default, in a tmux window; the tag is in the tmux
    // server's arguments too, so the server is killed with the story.
    let started = tmux(&[
        "new-session",
        "-d",
        &format!("python3 default.py {}", program.args()),
    ])
    .status()
    .unwrap();
    assert!(started.success());
    program.wait_ready();
    let pid = until("the program in the tmux window", || {
        program.tagged.pids().into_iter().find(|p| {
            hupsafe_tests::procfs::cmdline(*p)
                .is_some_and(|a| a.first().map(String::as_str) == Some("python3"))
        })
    });

    let v = check(&world.env(), &[pid]);
    v.expect(pid, "survives", "is a tmux window (server pid");

    // A client attached from a terminal that then goes away, as an SSH
    // connection does.
    let mut client = Terminal::spawn(tmux(&["attach"]));
    until("the tmux client to attach", || {
        (tmux(&["list-clients"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty()))
        .then_some(())
    });
    client.hang_up();
    client.wait();
    assert!(stays_alive(pid), "{}", v.stdout);
}
