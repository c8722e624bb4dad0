//! Detached jobs and names (issue 15): `hupsafe -d CMD` from a process with
//! no terminal at all starts a job (the program on a pty of its own, its
//! output logged, SIGHUP ignored), prints its id and returns while the
//! program runs; `attach` later shows its output and gives it keys;
//! `--name` names a job for every job verb, once among live jobs; `attach`
//! without an id takes the latest running job.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs::{is_alive, ProcStatus};
use hupsafe_tests::relay::{python, shell_line, start_time, wait_child, Terminal};
use hupsafe_tests::shell::{quote, SshTools, Sshd};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{unique_tag, until};

/// Prints `ready TAG`, then answers one line of input (`got LINE`), then
/// exits 0: it runs until someone types to it.
fn echo_once(tag: &str) -> Vec<String> {
    python(
        "import sys\nprint('ready', sys.argv[1])\nline = sys.stdin.readline()\nprint('got', line.strip())\n",
        tag,
    )
}

/// Runs for a long time, printing a line now and then.
fn sleeper(tag: &str) -> Vec<String> {
    python(
        "import sys, time\nprint('alive', sys.argv[1])\nwhile True:\n    time.sleep(0.2)\n",
        tag,
    )
}

/// `hupsafe ARGS...` with no terminal at all: a session of its own
/// (setsid: no controlling terminal), stdin /dev/null, stdout `out`,
/// stderr a pipe.
fn no_terminal(jobs: &Sandbox, args: &[String], out: Stdio) -> Child {
    let mut c = Command::new(hupsafe_bin());
    c.env_clear()
        .envs(jobs.env())
        .args(args)
        .current_dir(jobs.root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped());
    // SAFETY: setsid between fork and exec (async-signal-safe).
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.spawn().expect("cannot start hupsafe")
}

/// Starts `hupsafe -d [--name NAME] PROGRAM...` with no terminal and
/// returns what it printed on stdout once it has exited 0. Never returning
/// would mean it waited for the program (which these stories keep running).
fn detach(jobs: &Sandbox, name: Option<&str>, program: &[String]) -> String {
    let mut args = vec!["-d".to_string()];
    if let Some(n) = name {
        args.push(format!("--name={n}"));
    }
    args.extend(program.iter().cloned());
    let mut child = no_terminal(jobs, &args, Stdio::piped());
    let status = wait_child(&mut child);
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status, 0, "hupsafe -d failed: {err}");
    assert_eq!(err, "", "nothing on stderr without a terminal");
    out
}

fn hupsafe_line(words: &[&str]) -> String {
    let mut cmd = vec![hupsafe_bin().to_string_lossy().into_owned()];
    cmd.extend(words.iter().map(|w| w.to_string()));
    shell_line(&cmd)
}

/// The program of a live job is the process its record names (pid and
/// start time), still running.
fn program_pid(jobs: &Sandbox, id: &str) -> i32 {
    let r = jobs.record(id);
    let pid = r["program"]["pid"].as_i64().expect("a program pid") as i32;
    let start = r["program"]["start"].as_u64().unwrap();
    assert_eq!(
        start_time(pid),
        Some(start),
        "job {id}'s program is running"
    );
    pid
}

#[test]
fn detached_from_no_terminal_it_runs_and_attach_later_reaches_it() {
    let jobs = Sandbox::for_jobs("detach-run");
    let tag = unique_tag("detach");
    // The program waits for input: hupsafe returning is the proof that it
    // does not wait for the program.
    let out = detach(&jobs, None, &echo_once(&tag));
    let id = out.trim().to_string();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "the id alone on stdout: {out:?}"
    );
    let job = jobs.job_tagged(&tag);
    assert_eq!(job.id(), id, "the printed id is the job's");
    assert_eq!(job.state(), "running");
    let pid = program_pid(&jobs, &id);
    until("the program's output in the log", || {
        jobs.log(&id)
            .contains(&format!("ready {tag}"))
            .then_some(())
    });
    // Its protection is a relayed job's: SIGHUP ignored, the shim loaded,
    // stdin on the job's pty (not the /dev/null it was started with).
    let status = ProcStatus::of(pid).expect("the program's status");
    assert!(status.ignores(libc::SIGHUP), "SIGHUP ignored");
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(
        String::from_utf8_lossy(&environ).contains("libnohup"),
        "the shim is preloaded"
    );
    let stdin = fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(
        Some(stdin.to_string_lossy().as_ref()),
        jobs.record(&id)["tty"].as_str(),
        "stdin is the job's pty"
    );
    assert_eq!(jobs.record(&id)["attached"], 0, "nobody attached");

    // Later, from a terminal: the output so far, then keys reach it.
    let mut term = Terminal::bash(&jobs);
    term.type_line(&format!(
        "{}; echo attach-rc=$?",
        hupsafe_line(&["attach", &id])
    ));
    term.expect(&format!("ready {tag}"));
    term.send(b"hello-from-attach\r");
    term.expect("got hello-from-attach");
    term.expect("attach-rc=0");
    jobs.wait_state(&id, "exited 0", |s| s == "exited 0");
    assert!(!is_alive(pid) || start_time(pid).is_none());
    assert!(jobs.log(&id).contains("got hello-from-attach"));
}

/// Control: the same start without -d, and no terminal, execs in place:
/// no job, nothing to attach to (what -d is for).
#[test]
fn control_without_detach_no_terminal_means_no_job() {
    let jobs = Sandbox::for_jobs("detach-control");
    let tag = unique_tag("nodetach");
    let mut child = no_terminal(
        &jobs,
        &python("import sys; print('ran', sys.argv[1])", &tag),
        Stdio::piped(),
    );
    assert_eq!(wait_child(&mut child), 0);
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert_eq!(out.trim(), format!("ran {tag}"), "in place: its own output");
    assert!(jobs.ps().is_empty(), "no job without -d");
}

#[test]
fn detached_with_every_stream_on_dev_null_logs_output_and_keeps_a_file() {
    let jobs = Sandbox::for_jobs("detach-null");
    let tag = unique_tag("null");
    let report = format!(
        "import os, sys\nprint('size', os.get_terminal_size(0).lines, os.get_terminal_size(0).columns)\nprint('tty', os.isatty(0), os.isatty(1), os.isatty(2))\nprint('done {tag}')\n"
    );
    // stdin, stdout and stderr /dev/null, no session terminal.
    let mut args = vec!["run".to_string(), "--detach".into(), "--".into()];
    args.extend(python(&report, &tag));
    let mut child = no_terminal(&jobs, &args, Stdio::null());
    assert_eq!(wait_child(&mut child), 0);
    let job = jobs.job_tagged(&tag);
    until("the program to end", || {
        (jobs.job(&job.id())?.state() == "exited 0").then_some(())
    });
    let log = jobs.log(&job.id());
    assert!(
        log.contains("size 24 80"),
        "a usual size: {log:?}; the record: {}",
        jobs.record(&job.id())
    );
    assert!(log.contains("tty True True True"), "all on the pty: {log}");
    assert!(log.contains(&format!("done {tag}")), "{log}");

    // Control: a stdout redirected to a file stays that file (and only
    // stdin and stderr are the pty); the log does not get it.
    let tag2 = unique_tag("file");
    let file = jobs.root().join("out.txt");
    let mut args = vec!["-d".to_string()];
    args.extend(python(&report.replace(&tag, &tag2), &tag2));
    let mut child = no_terminal(&jobs, &args, Stdio::from(fs::File::create(&file).unwrap()));
    assert_eq!(wait_child(&mut child), 0);
    let job2 = jobs.job_tagged(&tag2);
    until("the second program to end", || {
        (jobs.job(&job2.id())?.state() == "exited 0").then_some(())
    });
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(&format!("{}\n", job2.id())), "{text}");
    assert!(text.contains("tty True False True"), "{text}");
    assert!(text.contains(&format!("done {tag2}")), "{text}");
    assert!(!jobs.log(&job2.id()).contains("done"), "not in the log");
}

fn hs(jobs: &Sandbox, args: &[&str]) -> (i32, String, String) {
    jobs.run(args)
}

#[test]
fn names_work_across_verbs_and_are_unique_while_live() {
    let jobs = Sandbox::for_jobs("detach-names");
    let tag = unique_tag("named");
    let out = detach(&jobs, Some("train"), &sleeper(&tag));
    let id = jobs.job_tagged(&tag).id();
    assert_eq!(out, format!("{id} train\n"), "id and name on stdout");
    let pid = program_pid(&jobs, &id);
    let view = jobs.job(&id).unwrap();
    assert_eq!(view.json["name"], "train", "ps --json carries the name");
    let (_, table, _) = hs(&jobs, &["ps"]);
    assert!(table.lines().next().unwrap().contains("NAME"), "{table}");
    assert!(table.contains(" train "), "{table}");

    // logs, signal by name.
    until("the output under its name", || {
        let (code, out, _) = hs(&jobs, &["logs", "train"]);
        (code == 0 && out.contains(&format!("alive {tag}"))).then_some(())
    });
    let (code, _, err) = hs(&jobs, &["signal", "STOP", "train"]);
    assert_eq!(code, 0, "{err}");
    jobs.wait_state(&id, "stopped", |s| s == "stopped");
    let (code, _, err) = hs(&jobs, &["signal", "CONT", "train"]);
    assert_eq!(code, 0, "{err}");
    jobs.wait_state(&id, "running", |s| s == "running");

    // Taken while live: refused, naming the job; no job is made.
    let before = jobs.ps().len();
    let mut args = vec!["-d".to_string(), "--name=train".into()];
    args.extend(sleeper(&unique_tag("dup")));
    let mut child = no_terminal(&jobs, &args, Stdio::piped());
    assert_eq!(wait_child(&mut child), 2, "a taken name is bad input");
    let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(
        err.contains("'train' is taken by job") && err.contains(&id),
        "{err}"
    );
    assert_eq!(jobs.ps().len(), before, "no job for a refused name");
    // Control: another name is fine while train runs.
    let other = unique_tag("other");
    detach(&jobs, Some("eval"), &sleeper(&other));
    let other_id = jobs.job_tagged(&other).id();
    let (code, _, err) = hs(&jobs, &["stop", "eval"]);
    assert_eq!(code, 0, "{err}");
    assert!(jobs.job(&other_id).unwrap().state().starts_with("killed"));
    assert!(
        jobs.job(&id).unwrap().state() == "running",
        "train untouched"
    );

    // stop by name; then the name is free again, and means the live job.
    let (code, _, err) = hs(&jobs, &["stop", "train"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(jobs.job(&id).unwrap().state(), "killed by SIGTERM");
    assert!(start_time(pid).is_none() || !is_alive(pid));
    let tag2 = unique_tag("again");
    detach(&jobs, Some("train"), &sleeper(&tag2));
    let id2 = jobs.job_tagged(&tag2).id();
    until("the new train's output", || {
        let (_, out, _) = hs(&jobs, &["logs", "train"]);
        out.contains(&format!("alive {tag2}")).then_some(())
    });
    let (code, _, err) = hs(&jobs, &["forget", "train"]);
    assert_eq!(code, 1, "the live one is meant, and it runs: {err}");
    let (code, _, err) = hs(&jobs, &["stop", "train"]);
    assert_eq!(code, 0, "{err}");
    // Both finished: the name means the newest.
    let (code, _, err) = hs(&jobs, &["forget", "train"]);
    assert_eq!(code, 0, "{err}");
    assert!(jobs.job(&id2).is_none(), "the newest was forgotten");
    assert!(jobs.job(&id).is_some(), "the older one stays");
    let (code, out, _) = hs(&jobs, &["logs", "train"]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("alive {tag}")), "{out}");
    let (code, _, err) = hs(&jobs, &["logs", "no-such-name"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no job 'no-such-name'"), "{err}");
}

#[test]
fn invalid_names_are_refused_before_any_job() {
    let jobs = Sandbox::for_jobs("detach-badnames");
    let long = "x".repeat(65);
    for (name, why) in [
        ("", "empty"),
        ("a/b", "'/'"),
        ("a\u{1}b", "control character"),
        (long.as_str(), "longer than 64"),
        ("1234", "all digits"),
        ("-x", "starts with '-'"),
    ] {
        let (code, _, err) = jobs.run([format!("--name={name}"), "-d".into(), "true".into()]);
        assert_eq!(code, 2, "{name:?}: {err}");
        assert!(
            err.contains("cannot be a job name") && err.contains(why),
            "{name:?}: {err}"
        );
        assert!(
            !err.contains('\u{1}'),
            "control characters are shown escaped"
        );
    }
    // Attached runs check names too.
    let (code, _, err) = jobs.run(["--name=a/b", "true"]);
    assert_eq!(code, 2, "{err}");
    assert!(jobs.ps().is_empty(), "no job for a bad name");
    // A name is not an option of the other verbs.
    let (code, _, err) = jobs.run(["ps", "--name=x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--name goes with a command"), "{err}");
    // An attached run with a name is a job, even without a terminal
    // (without one, it would run in place: see the control above).
    let (code, out, err) = jobs.run(["--name=att", "sh", "-c", "echo attached-out; exit 3"]);
    assert_eq!(code, 3, "the program's status: {err}");
    assert!(out.contains("attached-out"), "relayed to stdout: {out}");
    let named: Vec<_> = jobs
        .ps()
        .into_iter()
        .filter(|j| j.json["name"] == "att")
        .collect();
    assert_eq!(named.len(), 1, "one job named att");
    assert_eq!(named[0].state(), "exited 3");
    // Control: a good name, with 64 bytes, works.
    let good = "y".repeat(64);
    let (code, out, err) = jobs.run([format!("--name={good}"), "-d".into(), "true".into()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with(&format!(" {good}\n")), "{out}");
}

#[test]
fn attach_without_an_id_takes_the_latest_running_job() {
    let jobs = Sandbox::for_jobs("detach-latest");
    // Nothing running: a clear no.
    let (code, _, err) = jobs.run(["attach"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no running job to attach to"), "{err}");

    // The terminal first: a finished job's pty number cannot be the
    // terminal's (which would make it pass for the job we are inside).
    let mut term = Terminal::bash(&jobs);
    let (a, b, c) = (unique_tag("a"), unique_tag("b"), unique_tag("c"));
    detach(&jobs, None, &echo_once(&a));
    let id_a = jobs.job_tagged(&a).id();
    detach(&jobs, Some("bee"), &echo_once(&b));
    let id_b = jobs.job_tagged(&b).id();
    // Started last but finished: passed over.
    detach(&jobs, None, &python("print('quick')", &c));
    let id_c = jobs.job_tagged(&c).id();
    jobs.wait_state(&id_c, "exited 0", |s| s == "exited 0");

    term.type_line(&format!("{}; echo attach-rc=$?", hupsafe_line(&["attach"])));
    term.expect(&format!("hupsafe: attaching to job {id_b} 'bee' ("));
    term.expect(&format!("ready {b}"));
    term.send(b"to-bee\r");
    term.expect("got to-bee");
    term.expect("attach-rc=0");
    assert!(jobs.log(&id_b).contains("got to-bee"));
    assert!(!jobs.log(&id_a).contains("got"), "a got nothing");

    // Now a is the only one running.
    term.type_line(&format!("{}; echo attach-rc=$?", hupsafe_line(&["attach"])));
    term.expect(&format!("hupsafe: attaching to job {id_a} ("));
    term.send(b"to-a\r");
    term.expect("got to-a");
    term.expect("attach-rc=0");
    let (code, _, err) = jobs.run(["attach"]);
    assert_eq!(code, 1, "none left: {err}");
}

/// Prints `tick N` every 50 ms for ever.
fn ticking(tag: &str) -> Vec<String> {
    python(
        "import time\ni = 0\nwhile True:\n    print('tick', i)\n    i += 1\n    time.sleep(0.05)\n",
        tag,
    )
}

/// The highest `tick N` in a log.
fn last_tick(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("tick ")?.parse().ok())
        .max()
}

/// `ssh -T host 'hupsafe -d CMD'` to a real sshd: no terminal on either
/// side, stdout a pipe through the connection. ssh returns with the id
/// (nothing of the job holds the connection open), and the program keeps
/// writing, into its log, after the connection is gone. Control: the same
/// line without -d runs in place: its output comes through the connection,
/// and no job is made.
#[test]
fn detached_over_ssh_without_a_terminal() {
    let Some(tools) = SshTools::require() else {
        return;
    };
    let jobs = Sandbox::for_jobs("detach-ssh");
    let sshd_dir = Sandbox::new("detach-sshd");
    let sshd = Sshd::start(&tools, sshd_dir.root());
    // sshd clears the environment: the remote command gets the sandbox's.
    let remote = |words: &[String]| {
        let mut line = vec![
            "cd".to_string(),
            quote(&jobs.root().to_string_lossy()),
            "&& exec env -i".into(),
        ];
        for (k, v) in jobs.env() {
            line.push(quote(&format!("{k}={v}")));
        }
        line.push(quote(&hupsafe_bin().to_string_lossy()));
        line.extend(words.iter().map(|w| quote(w)));
        line.join(" ")
    };
    let tag = unique_tag("ssh");
    let mut words = vec!["-d".to_string(), "--name=remote".into()];
    words.extend(ticking(&tag));
    let mut ssh = sshd.ssh_without_tty(&remote(&words));
    ssh.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ssh.spawn().expect("cannot run ssh");
    assert_eq!(
        wait_child(&mut child),
        0,
        "ssh returns once the job started"
    );
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let id = jobs.job_tagged(&tag).id();
    assert_eq!(out, format!("{id} remote\n"));
    let pid = program_pid(&jobs, &id);
    let seen = until("ticks in the log", || last_tick(&jobs.log(&id)));
    until("more ticks after the connection is gone", || {
        (last_tick(&jobs.log(&id))? > seen + 3).then_some(())
    });
    assert!(ProcStatus::of(pid).unwrap().ignores(libc::SIGHUP));
    let (code, _, err) = jobs.run(["stop", "remote"]);
    assert_eq!(code, 0, "{err}");

    // Control: without -d, nothing is kept; the program's output is the
    // connection's (it ends with it).
    let tag2 = unique_tag("ssh-plain");
    let words = python("import sys; print('plain', sys.argv[1])", &tag2);
    let mut ssh = sshd.ssh_without_tty(&remote(&words));
    ssh.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ssh.spawn().expect("cannot run ssh");
    assert_eq!(wait_child(&mut child), 0);
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert_eq!(out.trim(), format!("plain {tag2}"));
    assert_eq!(jobs.ps().len(), 1, "no job without -d");
}

/// `hupsafe -d` returns once the job's record is in its supervisor's name:
/// until then it names the starting `hupsafe` as its writer, and a `wait`
/// or `ps` that found that process gone called the job lost. With stdout
/// sent to a file (nothing else holds the starter's caller back) that was
/// 128 starts in 300 beside busy loops. The supervisor is slowed before its
/// first record (`HUPSAFE_TEST_SUPERVISOR_DELAY_MS`) to hold the window
/// open: without the starter's wait, `wait` says 127 and `ps` "lost".
#[test]
fn a_detached_job_is_never_lost_between_its_start_and_its_supervisor() {
    let jobs = Sandbox::for_jobs("detach-handover");
    let out = jobs.root().join("out.txt");
    let slow = |args: &[&str]| {
        let mut c = jobs.hupsafe(args);
        // Both to the file: a pipe would be held by the supervisor until
        // it detaches, and its reader kept waiting.
        let file = fs::File::create(&out).unwrap();
        c.env("HUPSAFE_TEST_SUPERVISOR_DELAY_MS", "400")
            .stderr(file.try_clone().unwrap())
            .stdout(file);
        let (code, _, _) = hupsafe_tests::sandbox::finish(&mut c);
        let said = fs::read_to_string(&out).unwrap();
        assert_eq!(code, 0, "{said}");
        said.split_whitespace().next().unwrap().to_string()
    };
    let id = slow(&["-d", "sh", "-c", "exit 3"]);
    let (code, _, err) = jobs.run(["wait", &id]);
    assert_eq!(code, 3, "wait gives the program's status: {err}");

    let id = slow(&["-d", "sleep", "60"]);
    let job = jobs.job(&id).expect("ps lists the job");
    assert_eq!(job.state(), "running", "{:?}", job.json);
    let pid = job.pid().expect("ps gives the program's pid");
    assert!(is_alive(pid));
    assert_eq!(jobs.run(["stop", &id]).0, 0);
    until("the program to end", || (!is_alive(pid)).then_some(()));
}
