//! Waiting for jobs and running them again (issue 15): `hupsafe wait`
//! exits with a job's status as the shell's `wait` does (the code, 128+N
//! for a signal, 127 for a lost job), `--any` returns with the first to
//! end, `logs -f` ends with the job's status, and `rerun` starts a new job
//! with the old one's command, directory and environment, keeping the old.
//!
//! The jobs wait for a file the test creates ("go"), so every story runs
//! in a known order without timing: `hupsafe wait` is started while the
//! job surely runs, and what it reports is checked against what `ps`
//! says once it returns.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::{Child, Stdio};

use hupsafe_tests::relay::{python, wait_child};
use hupsafe_tests::{procfs, unique_tag, Sandbox};

/// A program that waits until `go` exists, then exits with `code`.
fn exits_on(go: &Path, code: i32, tag: &str) -> Vec<String> {
    python(
        &format!(
            "import os, sys, time\nwhile not os.path.exists({go:?}):\n    time.sleep(0.02)\nsys.exit({code})\n"
        ),
        tag,
    )
}

/// A program that runs until it is signalled.
fn sleeper(tag: &str) -> Vec<String> {
    python("import time\nwhile True:\n    time.sleep(0.05)\n", tag)
}

/// Starts `hupsafe ARGS...` in the background, stdout and stderr piped.
fn spawn(jobs: &Sandbox, args: &[&str]) -> Child {
    jobs.hupsafe(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start hupsafe")
}

/// Waits for a spawned hupsafe to end: (status, stdout, stderr).
fn finish(mut child: Child) -> (i32, String, String) {
    let code = wait_child(&mut child);
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, out, err)
}

fn still_running(child: &mut Child) -> bool {
    child.try_wait().expect("wait for a child").is_none()
}

#[test]
fn wait_exits_with_the_jobs_exit_code() {
    let jobs = Sandbox::for_jobs("wait-exit");
    let go = jobs.root().join("go");
    let tag = unique_tag("exit3");
    let (mut client, job) = jobs.start(&exits_on(&go, 3, &tag), &tag);
    let id = job.id();
    let mut waiter = spawn(&jobs, &["wait", &id]);
    assert!(
        still_running(&mut waiter),
        "wait returned while job {id} runs"
    );
    fs::write(&go, "").unwrap();
    let (code, out, err) = finish(waiter);
    assert_eq!(code, 3, "the job's exit code: {err}");
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    // It returned because the job ended, not before.
    assert_eq!(jobs.job(&id).unwrap().state(), "exited 3");
    assert_eq!(wait_child(&mut client), 3);
    // A finished job: at once, with the same status.
    assert_eq!(jobs.run(["wait", &id]).0, 3);
    // The control: another code comes back as itself.
    let (code, _, err) = jobs.run(["--relay", "sh", "-c", "exit 0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(jobs.run(["wait", "2"]).0, 0);
}

#[test]
fn wait_exits_128_plus_the_signal_that_killed_the_job() {
    let jobs = Sandbox::for_jobs("wait-signal");
    let tag = unique_tag("term");
    let (_client, job) = jobs.start(&sleeper(&tag), &tag);
    let id = job.id();
    let waiter = spawn(&jobs, &["wait", &id]);
    let (code, _, err) = jobs.run(["signal", "TERM", &id]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = finish(waiter);
    assert_eq!(code, 128 + libc::SIGTERM, "{err}");
    assert_eq!(jobs.job(&id).unwrap().state(), "killed by SIGTERM");

    let tag = unique_tag("usr1");
    let (_client, job) = jobs.start(&sleeper(&tag), &tag);
    let waiter = spawn(&jobs, &["wait", &job.id()]);
    jobs.run(["signal", "USR1", &job.id()]);
    assert_eq!(finish(waiter).0, 128 + libc::SIGUSR1, "another signal");
}

#[test]
fn a_lost_job_exits_127_and_says_why() {
    let jobs = Sandbox::for_jobs("wait-lost");
    let tag = unique_tag("lost");
    let (mut client, job) = jobs.start(&sleeper(&tag), &tag);
    let id = job.id();
    let program = job.pid().expect("the job's program");
    let mut waiter = spawn(&jobs, &["wait", &id]);
    let follower = spawn(&jobs, &["logs", "-f", &id]);
    assert!(still_running(&mut waiter));
    // The supervisor first, so that nothing writes a final record, then
    // the program (which outlives its supervisor: SIGHUP is ignored).
    let supervisor = jobs.supervisor_pid(&id);
    // SAFETY: kill(2) of the supervisor and the program's group this test
    // started, by pid (the program is alive: checked just above).
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    jobs.wait_state(&id, "lost", |s| s.starts_with("lost"));
    assert!(
        procfs::is_alive(program),
        "the program outlives its supervisor"
    );
    unsafe { libc::kill(-program, libc::SIGKILL) };
    hupsafe_tests::until("the program to be gone", || {
        (!procfs::is_alive(program)).then_some(())
    });
    let (code, out, err) = finish(waiter);
    assert_eq!(code, 127, "out: {out} err: {err}");
    assert!(
        err.contains(&format!("job {id} is lost")) && err.contains("will never be known"),
        "{err}"
    );
    let (code, _, err) = finish(follower);
    assert_eq!(code, 127, "logs -f of a lost job: {err}");
    assert!(err.contains("is lost"), "{err}");
    assert_eq!(wait_child(&mut client), 125);
    // Asked again, the same answer.
    assert_eq!(jobs.run(["wait", &id]).0, 127);
}

#[test]
fn wait_any_returns_with_the_first_job_to_end() {
    let jobs = Sandbox::for_jobs("wait-any");
    let go = jobs.root().join("go");
    let (tag_a, tag_b) = (unique_tag("first"), unique_tag("long"));
    let (_a, first) = jobs.start(&exits_on(&go, 5, &tag_a), &tag_a);
    let (_b, long) = jobs.start(&sleeper(&tag_b), &tag_b);
    let mut waiter = spawn(&jobs, &["wait", "--any", &long.id(), &first.id()]);
    assert!(still_running(&mut waiter));
    fs::write(&go, "").unwrap();
    let (code, out, err) = finish(waiter);
    assert_eq!(code, 5, "{err}");
    assert_eq!(out, format!("job {}: exited 5\n", first.id()));
    assert_eq!(jobs.job(&long.id()).unwrap().state(), "running");
    // Without --any, every job is waited for: the last one's status.
    let waiter = spawn(&jobs, &["wait", &first.id(), &long.id()]);
    jobs.run(["signal", "KILL", &long.id()]);
    assert_eq!(finish(waiter).0, 128 + libc::SIGKILL);
}

#[test]
fn wait_without_ids_waits_for_every_running_job() {
    let jobs = Sandbox::for_jobs("wait-all");
    // No jobs at all: nothing to wait for.
    assert_eq!(jobs.run(["wait"]), (0, String::new(), String::new()));
    let (go_a, go_b) = (jobs.root().join("go-a"), jobs.root().join("go-b"));
    let (tag_a, tag_b) = (unique_tag("all-a"), unique_tag("all-b"));
    let (_a, a) = jobs.start(&exits_on(&go_a, 4, &tag_a), &tag_a);
    let (_b, b) = jobs.start(&exits_on(&go_b, 6, &tag_b), &tag_b);
    let mut waiter = spawn(&jobs, &["wait"]);
    fs::write(&go_a, "").unwrap();
    jobs.wait_state(&a.id(), "exited", |s| s == "exited 4");
    assert!(still_running(&mut waiter), "job {} still runs", b.id());
    fs::write(&go_b, "").unwrap();
    let (code, _, err) = finish(waiter);
    assert_eq!(code, 6, "the last job's status: {err}");
}

#[test]
fn wait_for_no_such_job_is_a_clear_error() {
    let jobs = Sandbox::for_jobs("wait-none");
    let (code, _, err) = jobs.run(["wait", "7"]);
    assert_eq!(code, 1);
    assert!(err.contains("no job '7'"), "{err}");
    for _ in 0..11 {
        assert_eq!(jobs.run(["--relay", "true"]).0, 0);
    }
    let (code, _, err) = jobs.run(["wait", "99"]);
    assert_eq!(code, 1);
    assert!(err.contains("no job '99' (see: hupsafe ps)"), "{err}");
    // A known job with an unknown one: nothing is waited for.
    let (code, _, err) = jobs.run(["wait", "2", "99"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = jobs.run(["forget", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = jobs.run(["wait", "1"]);
    assert_eq!(code, 2, "1 begins 10 and 11: {err}");
    assert!(err.contains("ambiguous"), "{err}");
    // A name no job has: no such job.
    let (code, _, err) = jobs.run(["wait", "x"]);
    assert_eq!(code, 1, "{err}");
    // Neither an id nor a name can be: bad input.
    let (code, _, err) = jobs.run(["wait", "a/b"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a job id"), "{err}");
    // From inside a job: waiting for it would never end. Refused by id;
    // left out without one.
    let h = hupsafe_tests::cli::hupsafe_bin().display().to_string();
    let script = format!(
        "{h} wait $HUPSAFE_JOB; echo rc1=$?; {h} wait; echo rc2=$?; {h} wait --any; echo rc3=$?"
    );
    // Spawned, so that a wait that never ends fails the test.
    let (code, out, err) = finish(spawn(&jobs, &["--relay", "sh", "-c", &script]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cannot wait for job 12 from inside it"),
        "{out}"
    );
    assert!(
        out.contains("rc1=2") && out.contains("rc2=0") && out.contains("rc3=0"),
        "{out}"
    );
}

#[test]
fn logs_follow_ends_with_the_jobs_status() {
    let jobs = Sandbox::for_jobs("logs-status");
    let go = jobs.root().join("go");
    let tag = unique_tag("logs7");
    let code = format!(
        "import os, sys, time\nprint('before')\nwhile not os.path.exists({go:?}):\n    time.sleep(0.02)\nprint('after')\nsys.exit(7)\n"
    );
    let (_client, job) = jobs.start(&python(&code, &tag), &tag);
    let id = job.id();
    let mut follower = spawn(&jobs, &["logs", "-f", &id]);
    assert!(still_running(&mut follower));
    fs::write(&go, "").unwrap();
    let (code, out, err) = finish(follower);
    assert_eq!(code, 7, "{err}");
    assert_eq!(out, "before\r\nafter\r\n");
    // Without -f, the log is printed and that is a success.
    assert_eq!(jobs.run(["logs", &id]).0, 0);
    // Killed: 128+N.
    let tag = unique_tag("logs-kill");
    let (_client, job) = jobs.start(&sleeper(&tag), &tag);
    let follower = spawn(&jobs, &["logs", "-f", &job.id()]);
    jobs.run(["signal", "TERM", &job.id()]);
    assert_eq!(finish(follower).0, 128 + libc::SIGTERM);
}

/// The program rerun prints where it runs, a variable and its arguments.
const SHOW: &str = "pwd; echo \"marker=$RERUN_MARKER\"; printf '<%s>' \"$@\"; echo";

#[test]
fn rerun_repeats_the_command_cwd_and_environment() {
    let jobs = Sandbox::for_jobs("rerun");
    let work = jobs.dir("work dir");
    // Words as they were, not as the record shows them: an empty one, a
    // space, a byte that is not UTF-8.
    let odd = OsString::from_vec(b"c\xff".to_vec());
    let first = jobs
        .hupsafe(["--relay", "sh", "-c", SHOW, "sh", "a b", ""])
        .arg(&odd)
        .env("RERUN_MARKER", "from-the-first-run")
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let mut want = format!(
        "{}\r\nmarker=from-the-first-run\r\n<a b><><c",
        work.display()
    )
    .into_bytes();
    want.extend_from_slice(b"\xff>\r\n");
    assert_eq!(first.stdout, want);
    let old_record = jobs.record("1");

    // From elsewhere, with another value in the environment.
    let again = jobs
        .hupsafe(["rerun", "1"])
        .env("RERUN_MARKER", "from-here")
        .current_dir(jobs.root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert_eq!(again.stdout, want, "{err}");
    assert!(err.contains("rerunning job 1 in"), "{err}");
    // A new job, with the same command; the old one kept as it was.
    let new = jobs.job("2").expect("rerun starts job 2");
    assert_eq!(new.command(), jobs.job("1").unwrap().command());
    assert_eq!(new.state(), "exited 0");
    let log = |id: &str| fs::read(jobs.job_dir(id).join("log")).unwrap();
    assert_eq!(log("2"), want);
    assert_eq!(jobs.record("1"), old_record);
    assert_eq!(log("1"), want);
    // The environment file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(jobs.job_dir("1").join("env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Its status is the command's.
    let (code, _, _) = jobs.run(["--relay", "sh", "-c", "exit 9"]);
    assert_eq!(code, 9);
    assert_eq!(jobs.run(["rerun", "3"]).0, 9);

    // Options: the job's own (-q: no notes), and those given with rerun
    // (--no-relay: in place, no new job, no pty).
    let (code, _, err) = jobs.run(["-q", "--relay", "sh", "-c", "exit 4"]);
    assert_eq!((code, err.as_str()), (4, ""));
    let (code, _, err) = jobs.run(["rerun", "5"]);
    assert_eq!((code, err.as_str()), (4, ""), "the saved --quiet");
    let (code, out, err) = jobs.run(["-q", "--no-relay", "rerun", "1"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("marker=from-the-first-run\n<a b>"), "{out}");
    assert_eq!(jobs.ps().len(), 6, "no job for a run in place");

    // The control: without the saved argv, the record's copy (lossy: the
    // byte became U+FFFD) is not run.
    fs::remove_file(jobs.job_dir("1").join("argv")).unwrap();
    let (code, _, err) = jobs.run(["rerun", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("saved no command"), "{err}");
}

#[test]
fn rerun_without_a_saved_environment_or_directory_says_so() {
    let jobs = Sandbox::for_jobs("rerun-missing");
    let work = jobs.dir("work");
    let first = jobs
        .hupsafe(["--relay", "sh", "-c", SHOW, "sh"])
        .env("RERUN_MARKER", "old")
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    // As a job of an older hupsafe: no env file.
    fs::remove_file(jobs.job_dir("1").join("env")).unwrap();
    let again = jobs
        .hupsafe(["rerun", "1"])
        .env("RERUN_MARKER", "current")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert!(err.contains("no saved environment"), "{err}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("marker=current"),
        "{:?}",
        again.stdout
    );
    // The directory is gone: a clear error, and no job.
    fs::remove_dir(&work).unwrap();
    let (code, _, err) = jobs.run(["rerun", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot rerun job 1 in") && err.contains("No such file or directory"),
        "{err}"
    );
    assert_eq!(jobs.ps().len(), 2, "no job for a rerun that did not start");
    let (code, _, err) = jobs.run(["rerun", "5"]);
    assert_eq!(code, 1);
    assert!(err.contains("no job '5'"), "{err}");
    // A protected command line is the shell's to run, not hupsafe's.
    let (code, out, err) = jobs.run(["line", "start", "--text", "echo a && echo b"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().next().unwrap().to_string();
    let (code, _, err) = jobs.run(["rerun", &line]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is a command line"), "{err}");
    assert_eq!(jobs.run(["line", "end", &line, "--status", "0"]).0, 0);
    assert_eq!(jobs.run(["wait", &line]).0, 0);
}

#[test]
fn ps_json_says_what_rerun_reuses_and_rerun_reuses_it() {
    let jobs = Sandbox::for_jobs("rerun-options");
    let secret = unique_tag("secret-value");
    let work = jobs.dir("work");
    let (code, out, err) = finish(
        jobs.hupsafe([
            "-d",
            "--name",
            "nightly",
            "--notify",
            "--log-max",
            "1M",
            "--on-exit",
            "true",
            "-q",
            "sh",
            "-c",
            "exit 3",
        ])
        .env("RERUN_SECRET", &secret)
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    assert_eq!((code, out.as_str()), (0, "1 nightly\n"), "{err}");
    assert_eq!(jobs.run(["wait", "nightly"]).0, 3);
    // The control: a plain relayed run, and a protected command line.
    assert_eq!(jobs.run(["--relay", "true"]).0, 0);
    let (code, out, err) = jobs.run(["line", "start", "--text", "echo a | cat"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().next().unwrap().to_string();
    assert_eq!(jobs.run(["line", "end", &line, "--status", "0"]).0, 0);

    let (code, text, err) = jobs.run(["ps", "--json"]);
    assert_eq!(code, 0, "{err}");
    // The environment is saved, but its values are never shown.
    let env = fs::read(jobs.job_dir("1").join("env")).unwrap();
    assert!(String::from_utf8_lossy(&env).contains(&secret));
    assert!(!text.contains(&secret), "ps --json shows the environment");
    let ps: serde_json::Value = serde_json::from_str(&text).unwrap();
    let row = |id: &str| {
        ps.as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .unwrap_or_else(|| panic!("no job {id}: {text}"))
            .clone()
    };
    let nightly = row("1");
    assert_eq!(nightly["cwd"], work.to_str().unwrap());
    assert_eq!(
        (
            &nightly["name"],
            &nightly["notify"],
            &nightly["on_exit"],
            &nightly["log_max"]
        ),
        (
            &serde_json::json!("nightly"),
            &serde_json::json!(true),
            &serde_json::json!("true"),
            &serde_json::json!(1 << 20)
        )
    );
    assert_eq!(
        nightly["rerun"],
        serde_json::json!({"argv_saved": true, "env_saved": true,
            "options": {"strict": false, "quiet": true, "relay": "always"}})
    );
    let plain = row("2");
    assert_eq!(
        (
            &plain["name"],
            &plain["notify"],
            &plain["on_exit"],
            &plain["log_max"]
        ),
        (
            &serde_json::Value::Null,
            &serde_json::json!(false),
            &serde_json::Value::Null,
            &serde_json::Value::Null
        )
    );
    assert_eq!(
        plain["rerun"]["options"],
        serde_json::json!({"strict": false, "quiet": false, "relay": "always"})
    );
    assert_eq!(
        row(&line)["rerun"],
        serde_json::json!({"argv_saved": false, "env_saved": false, "options": null}),
        "a protected line has nothing for rerun"
    );
    fs::remove_file(jobs.job_dir("2").join("env")).unwrap();
    assert_eq!(jobs.job("2").unwrap().json["rerun"]["env_saved"], false);

    // rerun takes the name (free: the job has ended) and the options.
    let (code, _, err) = jobs.run(["rerun", "nightly"]);
    assert_eq!((code, err.as_str()), (3, ""), "the saved -q, the status");
    let again = jobs.job("4").expect("rerun starts job 4");
    for key in ["name", "notify", "on_exit", "log_max", "cwd", "rerun"] {
        assert_eq!(again.json[key], nightly[key], "{key}");
    }
    // A name a live job holds is not taken again.
    let tag = unique_tag("held");
    let (code, _, err) = jobs.run(["-d", "--name", "held", "sh", "-c", "sleep 60", &tag]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = jobs.run(["-d", "rerun", "held"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "6\n", "no name: {err}");
    assert!(err.contains("the name 'held' is held by job 5"), "{err}");
    for id in ["5", "6"] {
        assert_eq!(jobs.run(["stop", "--grace", "1", id]).0, 0);
    }
}
