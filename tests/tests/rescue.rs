//! `hupsafe rescue PID`: a process started unprotected is protected while
//! it runs (ptrace). The stories: a python loop on a pty under bash
//! survives the terminal closing and every line it writes after the rescue
//! is in the job log (the control, without the rescue, dies); a
//! multi-threaded C program blocked in nanosleep() and read() while
//! rescued gets the same results; a tree sh -> python -> child rescued with
//! --tree all survive; and the refusals (no such pid, another user's
//! process, a process already traced) say why.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hupsafe_tests::cli::{hupsafe_bin, is_root};
use hupsafe_tests::procfs;
use hupsafe_tests::shell::{Shell, Tagged};
use hupsafe_tests::wait::poll;
use hupsafe_tests::Sandbox;
use hupsafe_tests::{require_tool, until, CProgram};

fn tracer_of(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Prints `line N` every 50 ms, N from 0 to 79, flushing each (so a dead
/// terminal's EIO kills it), with SIGHUP at its default; then `done`.
const PY_LOOP: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
for i in range(80):
    print('line %d' % i, flush=True)
    time.sleep(0.05)
print('done', flush=True)
";

/// Starts a child running loop.py, then ticks itself (both tagged).
const PY_TREE: &str = "\
import signal, subprocess, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
c = subprocess.Popen([sys.executable, 'loop.py', sys.argv[1]])
for i in range(80):
    print('parent %d' % i, flush=True)
    time.sleep(0.05)
c.wait()
";

/// The numbers of the log's `WHAT N` lines, in order.
fn numbers(log: &str, what: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| l.strip_prefix(what)?.trim().parse().ok())
        .collect()
}

#[test]
fn a_rescued_loop_outlives_its_terminal_and_logs_everything() {
    let world = Sandbox::with_programs("rescue");
    world.write("loop.py", PY_LOOP);
    let t = Tagged::new("rescue-loop");
    let mut s = world.open_plain(Shell::Bash);
    s.start(&format!("python3 loop.py {}", t.tag));
    let pid = t.wait_program();
    s.expect("line 3");
    let (code, out, err) = world.run(["rescue", &pid.to_string()]);
    assert_eq!(code, 0, "rescue failed: {out}{err}");
    assert!(out.contains("SIGHUP was default"), "{out}");
    assert!(out.contains("stdout and stderr"), "{out}");
    assert!(out.contains("stdin"), "{out}");
    s.hang_up();
    let gone = poll(Duration::from_secs(8), || {
        (!procfs::is_alive(pid)).then_some(())
    });
    assert!(gone.is_some(), "the loop never ended");
    let log = std::fs::read_to_string(world.job_log(&t.tag)).unwrap();
    let n = numbers(&log, "line ");
    assert!(!n.is_empty(), "nothing in the log: {log:?}");
    let first = n[0];
    let want: Vec<u32> = (first..80).collect();
    assert_eq!(n, want, "lines after the rescue are missing: {log}");
    assert!(log.ends_with("done\n"), "it did not live to its end: {log}");
}

#[test]
fn the_control_without_rescue_dies_with_its_terminal() {
    // How long the loop would have run by itself: 80 * 50 ms.
    let world = Sandbox::with_programs("rescue-ctl");
    world.write("loop.py", PY_LOOP);
    let t = Tagged::new("rescue-ctl");
    let mut s = world.open_plain(Shell::Bash);
    s.start(&format!("python3 loop.py {}", t.tag));
    let pid = t.wait_program();
    s.expect("line 3");
    let hung = std::time::Instant::now();
    s.hang_up();
    let gone = poll(Duration::from_secs(8), || {
        (!procfs::is_alive(pid)).then_some(())
    });
    assert!(gone.is_some(), "the control never ended");
    assert!(
        hung.elapsed() < Duration::from_secs(2),
        "the control lived on ({:?}) without a rescue: the story proves nothing",
        hung.elapsed()
    );
}

#[test]
fn a_tree_rescued_with_tree_survives() {
    let world = Sandbox::with_programs("rescue-tree");
    world.write("loop.py", PY_LOOP);
    world.write("tree.py", PY_TREE);
    let t = Tagged::new("rescue-tree");
    let mut s = world.open_plain(Shell::Bash);
    // `; true` keeps sh from exec'ing python: a real three-level tree.
    s.start(&format!("sh -c 'python3 tree.py {}; true'", t.tag));
    s.expect("line 3");
    s.expect("parent 3");
    let pids = t.pids();
    assert_eq!(pids.len(), 3, "sh, python and its child: {pids:?}");
    let sh = *pids
        .iter()
        .find(|p| procfs::cmdline(**p).is_some_and(|a| a[0] == "sh"))
        .expect("the sh");
    let (code, out, err) = world.run(["rescue", "--tree", &sh.to_string()]);
    assert_eq!(code, 0, "rescue --tree failed: {out}{err}");
    assert_eq!(out.matches("rescued").count(), 3, "{out}");
    let log = || std::fs::read_to_string(world.job_log(&t.tag)).unwrap_or_default();
    let last = |log: &str, what: &str| numbers(log, what).into_iter().max().unwrap_or(0);
    // Returns once the shell has ended: its SIGHUPs (and the kernel's)
    // are sent.
    s.hang_up();
    let before = log();
    // Both programs log on after the hangup, under any load...
    let (line, parent) = (last(&before, "line "), last(&before, "parent "));
    let went_on = poll(Duration::from_secs(20), || {
        let log = log();
        (last(&log, "line ") >= line + 5 && last(&log, "parent ") >= parent + 5).then_some(())
    });
    assert!(
        went_on.is_some(),
        "the tree stopped logging at the hangup:\n{}",
        log()
    );
    // ...and all three are alive then, unless the loop already ended.
    if !log().contains("done") {
        for p in &pids {
            assert!(procfs::is_alive(*p), "{p} died after the hangup: {out}");
        }
    }
}

#[test]
fn blocked_nanosleep_and_read_are_unchanged_in_a_threaded_program() {
    let prog = CProgram::new("rescue_threads").flag("-pthread").build();
    let world = Sandbox::with_programs("rescue-threads");
    let mut child = Command::new(&prog)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "sleeping\n");
    until("nanosleep", || {
        matches!(procfs::blocked_syscall(pid), Some(35 | 230)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(200));
    let (code, o, e) = world.run(["rescue", &pid.to_string()]);
    assert_eq!(tracer_of(pid), 0, "left traced");
    assert_eq!(code, 0, "rescue in nanosleep failed: {o}{e}");
    line.clear();
    out.read_line(&mut line).unwrap();
    let ms: i64 = line
        .strip_prefix("slept ms=")
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.ends_with("rc=0 errno=0\n"), "{line}");
    assert!(
        (1500..2500).contains(&ms),
        "slept {ms} ms instead of 1500: {line}"
    );
    // Now blocked in read().
    std::thread::sleep(Duration::from_millis(300));
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"abcdefghij").unwrap();
    until("read", || {
        (procfs::blocked_syscall(pid) == Some(0)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(100));
    let (code, o, e) = world.run(["rescue", &pid.to_string()]);
    assert_eq!(tracer_of(pid), 0, "left traced");
    assert_eq!(code, 0, "rescue in read failed: {o}{e}");
    assert!(o.contains("already ignored"), "{o}");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    input.write_all(&data).unwrap();
    drop(input);
    line.clear();
    out.read_line(&mut line).unwrap();
    let mut all = b"abcdefghij".to_vec();
    all.extend_from_slice(&data);
    let sum = all
        .iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
    assert_eq!(
        line,
        format!("read bytes={} sum={sum} eintr=0 worker_bad=0\n", all.len())
    );
    assert!(child.wait().unwrap().success());
    // Nothing is left traced (checked while it ran, in the rescues' wake).
}

/// `hupsafe rescue ARGS`, as uid 65534 through `setpriv` when given.
fn refused(args: &[&str], as_nobody: Option<&Path>) -> (i32, String) {
    let mut c = if let Some(setpriv) = as_nobody {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(hupsafe_bin());
        c
    } else {
        Command::new(hupsafe_bin())
    };
    let out = c
        .arg("rescue")
        .args(args)
        .env("HUPSAFE_STATE_DIR", "/nonexistent/hupsafe-rescue-test")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn refusals_say_why() {
    let (code, err) = refused(&["2147483000"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such process 2147483000"), "{err}");
    let (code, err) = refused(&["nope"], None);
    assert_eq!(code, 2, "{err}");

    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id() as i32;
    // Another user's process: as nobody against ours (root in CI), or as
    // ourselves against init's.
    let another_user = if is_root() {
        require_tool("setpriv", "util-linux")
            .map(|setpriv| refused(&[&pid.to_string()], Some(&setpriv)))
    } else {
        Some(refused(&["1"], None))
    };
    if let Some((code, err)) = another_user {
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("not to you") && err.contains("sudo hupsafe rescue"),
            "{err}"
        );
    }

    // Already traced: this test process seizes it.
    // SAFETY: PTRACE_SEIZE of our own child, no stop requested.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    assert_eq!(r, 0, "cannot seize: {}", std::io::Error::last_os_error());
    let (code, err) = refused(&[&pid.to_string()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already being traced by pid"), "{err}");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

/// A failure half-way is undone: with its descriptor limit at 3, the log
/// cannot be opened inside the process, so the SIGHUP disposition already
/// changed is put back, its stdout stays the terminal, and rescue says so.
#[test]
fn a_failure_half_way_is_undone() {
    let prlimit = hupsafe_tests::require_tool!("prlimit", "util-linux");
    let world = Sandbox::with_programs("rescue-undo");
    world.write("loop.py", PY_LOOP);
    let t = Tagged::new("rescue-undo");
    let mut s = world.open_plain(Shell::Bash);
    s.start(&format!("python3 loop.py {}", t.tag));
    let pid = t.wait_program();
    s.expect("line 3");
    let ok = Command::new(&prlimit)
        .args(["--nofile=3:3", "--pid", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let tty = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    let (code, out, err) = world.run(["rescue", &pid.to_string()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("opening the log failed") && err.contains("nothing was changed"),
        "{err}"
    );
    let st = hupsafe_tests::ProcStatus::of(pid).unwrap();
    assert!(!st.ignores(libc::SIGHUP), "SIGHUP left ignored");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap(),
        tty
    );
    assert!(
        std::fs::read_link(format!("/proc/{pid}/fd/3")).is_err(),
        "a spare fd was left"
    );
    assert_eq!(tracer_of(pid), 0, "left traced");
    let jobs = world.ps();
    assert!(jobs.is_empty(), "the unused job was left: {jobs:?}");
    // It still runs, unprotected: the hangup kills it.
    s.expect("line 10");
    s.hang_up();
    let gone = poll(Duration::from_secs(3), || {
        (!procfs::is_alive(pid)).then_some(())
    });
    assert!(gone.is_some(), "it survived although the rescue was undone");
}
