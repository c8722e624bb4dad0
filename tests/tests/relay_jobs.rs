//! The job verbs: `ps` tells the truth about every job (running, stopped,
//! exited N, killed by SIG, lost), `logs` prints and follows, `stop` and
//! `signal` reach the program, `forget` and `gc` clean up, ids may be
//! shortened, and bad input gets a clear message and a documented status.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use hupsafe_tests::cli::is_root;
use hupsafe_tests::relay::{proc_state, python, ticker, wait_child};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, unique_tag, until};

#[test]
fn ps_shows_running_stopped_exited_killed_and_lost() {
    let jobs = Sandbox::for_jobs("relay-ps");
    let (tag_a, tag_b, tag_c) = (unique_tag("a"), unique_tag("b"), unique_tag("c"));
    let (mut a, job_a) = jobs.start(&ticker(400, 50, &tag_a), &tag_a);
    let (mut b, job_b) = jobs.start(&ticker(400, 50, &tag_b), &tag_b);
    let (mut c, job_c) = jobs.start(&python("import sys; sys.exit(3)", &tag_c), &tag_c);
    assert_eq!(
        c.wait().unwrap().code(),
        Some(3),
        "the status passes through"
    );
    assert_eq!(jobs.job(&job_c.id()).unwrap().state(), "exited 3");
    assert_eq!(jobs.job(&job_a.id()).unwrap().state(), "running");

    // Stopped and continued by signal.
    let (code, _, err) = jobs.run(["signal", "STOP", &job_a.id()]);
    assert_eq!(code, 0, "{err}");
    jobs.wait_state(&job_a.id(), "stopped", |s| s == "stopped");
    // The hupsafe that started it has no terminal to give back: it must
    // not stop itself (nor the group it shares with a script).
    assert_ne!(proc_state(a.id() as i32), Some('T'));
    jobs.run(["signal", "CONT", &job_a.id()]);
    jobs.wait_state(&job_a.id(), "running", |s| s == "running");

    // Killed.
    jobs.run(["signal", "KILL", &job_a.id()]);
    jobs.wait_state(&job_a.id(), "killed", |s| s == "killed by SIGKILL");
    assert_eq!(wait_child(&mut a), 137, "the starting hupsafe exits 128+9");

    // Lost: the supervisor dies without a final record.
    let supervisor = jobs.supervisor_pid(&job_b.id());
    // SAFETY: killing the supervisor this test started, by pid.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    jobs.wait_state(&job_b.id(), "lost", |s| s == "lost");
    assert_eq!(wait_child(&mut b), 125, "the starting hupsafe lost its job");

    // The table shows the same.
    let (code, table, _) = jobs.run(["ps"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID "), "{table}");
    assert!(
        lines[0].contains("STATE") && lines[0].contains("ELAPSED") && lines[0].contains("LOG"),
        "{table}"
    );
    for (job, state) in [
        (&job_a, "killed by SIGKILL"),
        (&job_b, "lost"),
        (&job_c, "exited 3"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(job.id().as_str()))
            .unwrap_or_else(|| panic!("job {} missing:\n{table}", job.id()));
        assert!(line.contains(state), "{line}");
        assert!(line.contains(&job.log().display().to_string()), "{line}");
    }
}

#[test]
fn logs_print_tail_and_follow_to_the_end() {
    let jobs = Sandbox::for_jobs("relay-logs");
    let tag = unique_tag("logs");
    let (mut client, job) = jobs.start(&ticker(40, 25, &tag), &tag);
    let id = job.id();
    assert_eq!(jobs.job(&id).unwrap().state(), "running");
    // Started while the job runs, ends when it ends, with every line.
    let (code, out, err) = jobs.run(["logs", "-f", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(jobs.job(&id).unwrap().state(), "exited 0");
    let want: String = (0..40).map(|i| format!("tick {i}\r\n")).collect();
    assert_eq!(out, want);
    assert_eq!(wait_child(&mut client), 0);

    let (_, last, _) = jobs.run(["logs", "-n", "2", &id]);
    assert_eq!(last, "tick 38\r\ntick 39\r\n");
    let (_, all, _) = jobs.run(["logs", &id]);
    assert_eq!(all, want, "raw bytes, \\r included");
}

#[test]
fn stop_terms_then_kills_after_the_grace_period() {
    let jobs = Sandbox::for_jobs("relay-stop");
    let tag = unique_tag("stop");
    let (_a, polite) = jobs.start(&ticker(400, 50, &tag), &tag);
    let (code, out, err) = jobs.run(["stop", &polite.id()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("job {}: killed by SIGTERM\n", polite.id()));

    let tag = unique_tag("stubborn");
    let (_b, stubborn) = jobs.start(
        &python(
            "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready')\ntime.sleep(60)\n",
            &tag,
        ),
        &tag,
    );
    until("the stubborn program to ignore SIGTERM", || {
        jobs.log(&stubborn.id()).contains("ready").then_some(())
    });
    let (code, out, err) = jobs.run(["stop", "--grace", "0.3", &stubborn.id()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("job {}: killed by SIGKILL\n", stubborn.id()));

    // Nothing left to stop: status 1, and why.
    let (code, _, err) = jobs.run(["stop", &polite.id()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("already finished (killed by SIGTERM)"),
        "{err}"
    );
}

#[test]
fn signals_reach_the_program_and_bad_names_are_refused() {
    let jobs = Sandbox::for_jobs("relay-signal");
    let tag = unique_tag("usr1");
    let (_c, job) = jobs.start(
        &python(
            "import signal, time\n\
             signal.signal(signal.SIGUSR1, lambda *_: print('got usr1'))\n\
             print('ready')\nfor _ in range(1200):\n    time.sleep(0.05)\n",
            &tag,
        ),
        &tag,
    );
    until("the program to be ready", || {
        jobs.log(&job.id()).contains("ready").then_some(())
    });
    let (code, _, err) = jobs.run(["signal", "usr1", &job.id()]);
    assert_eq!(code, 0, "{err}");
    until("the program to get SIGUSR1", || {
        jobs.log(&job.id()).contains("got usr1").then_some(())
    });
    let (code, _, err) = jobs.run(["signal", "NOPE", &job.id()]);
    assert_eq!(code, 2);
    assert!(err.contains("'NOPE' is not a signal"), "{err}");
    let (code, _, _) = jobs.run(["signal", "-15", &job.id()]);
    assert_eq!(code, 0, "-15 is SIGTERM, as kill(1) spells it");
    jobs.wait_state(&job.id(), "killed", |s| s == "killed by SIGTERM");
}

#[test]
fn ids_prefixes_and_clear_errors() {
    let jobs = Sandbox::for_jobs("relay-ids");
    for _ in 0..12 {
        let (code, _, err) = jobs.run(["--relay", "true"]);
        assert_eq!(code, 0, "{err}");
    }
    // "1" is a job of its own: an exact id wins over a prefix.
    let (code, out, _) = jobs.run(["logs", "1"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _, err) = jobs.run(["forget", "1"]);
    assert_eq!(code, 0, "{err}");
    // Now "1" begins 10, 11 and 12.
    let (code, _, err) = jobs.run(["logs", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ambiguous") && err.contains("10, 11, 12"),
        "{err}"
    );
    let (code, _, err) = jobs.run(["attach", "99"]);
    assert_eq!(code, 1);
    assert!(err.contains("no job '99'"), "{err}");
    let (code, _, err) = jobs.run(["logs", "x/../1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a job id"), "{err}");
    let (code, _, err) = jobs.run(["attach", "12"]);
    assert_eq!(code, 1);
    assert!(err.contains("has finished (exited 0)"), "{err}");
    // Ids are never reused, even after forget.
    let (code, _, _) = jobs.run(["--relay", "true"]);
    assert_eq!(code, 0);
    assert!(jobs.job("13").is_some());
    assert!(jobs.job("1").is_none());
}

#[test]
fn forget_and_gc_keep_live_jobs() {
    let jobs = Sandbox::for_jobs("relay-gc");
    let tag = unique_tag("live");
    let (_c, live) = jobs.start(&ticker(1200, 50, &tag), &tag);
    for _ in 0..3 {
        jobs.run(["--relay", "true"]);
    }
    let (code, _, err) = jobs.run(["forget", &live.id()]);
    assert_eq!(code, 1);
    assert!(err.contains("is running; stop it first"), "{err}");
    let (code, out, err) = jobs.run(["gc"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "removed 3 jobs\n");
    let left: Vec<String> = jobs.ps().iter().map(|j| j.id()).collect();
    assert_eq!(left, [live.id()]);
    assert!(procfs::is_alive(live.pid().unwrap()));
}

/// 200 `hupsafe` starts at once: 200 distinct ids, 200 intact records.
#[test]
fn two_hundred_concurrent_starts_all_register() {
    let jobs = Sandbox::for_jobs("relay-200");
    // Install the shim once first: the race under test is the registry's.
    assert_eq!(jobs.run(["--relay", "true"]).0, 0);
    let children: Vec<_> = (0..200)
        .map(|i| {
            jobs.hupsafe(["--relay", "sh", "-c", &format!("exit {}", i % 7)])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn hupsafe")
        })
        .collect();
    let mut want = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some((i % 7) as i32),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        want.push(format!("exited {}", i % 7));
    }
    let (code, _, err) = jobs.run(["ps", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(err, "", "no entry is damaged");
    let all = jobs.ps();
    assert_eq!(all.len(), 201);
    let mut ids: Vec<u64> = all.iter().map(|j| j.id().parse().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, (1..=201).collect::<Vec<_>>());
    let mut states: Vec<String> = all.iter().skip(1).map(|j| j.state()).collect();
    states.sort();
    want.sort();
    assert_eq!(states, want);
}

#[test]
fn damaged_and_foreign_entries_are_reported_and_skipped() {
    let jobs = Sandbox::for_jobs("relay-damaged");
    assert_eq!(jobs.run(["--relay", "true"]).0, 0);
    let dir = jobs.state_dir().join("jobs");
    fs::create_dir(dir.join("7")).unwrap();
    fs::write(dir.join("7/record.json"), "{ not json").unwrap();
    fs::create_dir(dir.join("8")).unwrap();
    fs::write(dir.join("8/record.json"), "{\"version\": 1}").unwrap();
    fs::write(dir.join("9"), "a file").unwrap();
    fs::create_dir(dir.join("notes")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("10")).unwrap();
    if is_root() {
        fs::create_dir(dir.join("11")).unwrap();
        std::os::unix::fs::chown(dir.join("11"), Some(65534), Some(65534)).unwrap();
    }
    let (code, out, err) = jobs.run(["ps", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{out}");
    for what in ["7 ", "8 ", "/9'", "/notes'", "/10'"] {
        assert!(err.contains(what), "no word about {what}: {err}");
    }
    assert!(err.contains("damaged"), "{err}");
    if is_root() {
        assert!(err.contains("owned by uid 65534"), "{err}");
    }
    let (code, _, err) = jobs.run(["attach", "7"]);
    assert_eq!(code, 1);
    assert!(err.contains("damaged"), "{err}");
    let (code, out, _) = jobs.run(["gc"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"));
    assert!(dir.join("7").exists(), "gc leaves what it cannot read");
    // A state directory others can read is refused, not used.
    fs::set_permissions(jobs.state_dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let (code, _, err) = jobs.run(["ps"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("not private") && err.contains("chmod 700"),
        "{err}"
    );
}

/// A program killed by a signal makes the starting hupsafe die of the same
/// signal, not merely exit 128+N: a parent that looks at how its child
/// died (make, a shell loop interrupted by Ctrl-C) sees what it would
/// have seen without hupsafe.
#[test]
fn a_signal_death_passes_through_as_a_signal_death() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let jobs = Sandbox::for_jobs("relay-death");
    for (sig, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT")] {
        let mut cmd = jobs.hupsafe(["--relay", "sh", "-c", &format!("kill -{name} $$")]);
        // A test run started with `&` from a script inherits SIGINT ignored
        // (the shell's rule for background commands), and so would `sh`:
        // the story needs the signal's default action.
        // SAFETY: sigaction is async-signal-safe; nothing else runs here.
        unsafe {
            cmd.pre_exec(move || hupsafe_tests::process::set_disposition(sig, libc::SIG_DFL));
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.signal(), Some(sig), "{:?}", out.status);
        assert!(!out.status.core_dumped());
    }
    let out = jobs
        .hupsafe(["--relay", "sh", "-c", "exit 130"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "an exit is an exit");
}
