//! Bounded logs and old jobs (issue 15): `--log-max` keeps a job's log to
//! about its cap with one rotated file, never holding the program up, and
//! `ps` says output was dropped; the config file gives defaults and names
//! its bad lines without failing a run; `gc --older-than` and
//! `keep_finished` remove finished jobs by their end time.

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use hupsafe_tests::relay::{python, ticker, wait_child};
use hupsafe_tests::wait::poll;
use hupsafe_tests::{unique_tag, Sandbox};

const MIB: u64 = 1 << 20;

/// A program that writes `mib` MiB of numbered lines, then `END tag`.
fn writer(mib: u64, tag: &str) -> Vec<String> {
    // 64 bytes a line.
    let lines = mib * MIB / 64;
    python(
        &format!(
            "import sys\nw = sys.stdout.write\nfor i in range({lines}):\n    \
             w('line %010d %s\\n' % (i, 'x' * 47))\nw('END %s\\n' % sys.argv[1])\n"
        ),
        tag,
    )
}

/// Runs `hupsafe --relay ARGS... PROGRAM` to its end (however long a big
/// writer takes: no timing is asserted, only that it ends); its status
/// and stderr.
fn run_to_end(jobs: &Sandbox, args: &[&str], program: &[String]) -> (i32, String) {
    let mut child = jobs
        .hupsafe(["--relay"])
        .args(args)
        .args(program)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start hupsafe");
    let status = poll(Duration::from_secs(600), || child.try_wait().unwrap())
        .unwrap_or_else(|| panic!("the job's program never finished: its output held it up"));
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (hupsafe_tests::relay::exit_code(status), err)
}

fn size(p: &std::path::Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

/// The `ps` table's line for job `id`.
fn ps_line(jobs: &Sandbox, id: &str) -> String {
    let (code, table, err) = jobs.run(["ps"]);
    assert_eq!(code, 0, "{err}");
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .unwrap_or_else(|| panic!("job {id} not in ps:\n{table}"))
        .to_string()
}

#[test]
fn a_capped_log_keeps_the_newest_output_without_holding_the_program_up() {
    let jobs = Sandbox::for_jobs("logs-cap");
    let tag = unique_tag("cap");
    let (code, err) = run_to_end(&jobs, &["--log-max", "1M"], &writer(100, &tag));
    // The program finished: a capped log never blocks it.
    assert_eq!(code, 0, "{err}");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    let dir = jobs.job_dir(&id);
    let (log, older) = (dir.join("log"), dir.join("log.1"));
    let on_disk = size(&log) + size(&older);
    // The cap holds: at most the cap twice, plus one read of the pty.
    assert!(
        on_disk <= 2 * MIB + 64 * 1024,
        "log {} + log.1 {} bytes for a 1M cap",
        size(&log),
        size(&older)
    );
    assert!(size(&older) >= MIB, "log.1 holds a full cap");
    let record = jobs.record(&id);
    assert_eq!(record["log_max"], MIB, "{record}");
    let dropped = record["log_dropped"].as_u64().unwrap();
    let logged = record["bytes_logged"].as_u64().unwrap();
    assert!(
        logged > 100 * MIB,
        "every byte went through the log: {record}"
    );
    assert_eq!(
        dropped + on_disk,
        logged,
        "what is kept is what was not dropped"
    );
    // The newest output is kept: `logs` ends with the program's last lines,
    // in order, and starts where the kept part starts.
    let (code, out, err) = jobs.run(["logs", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len() as u64, on_disk, "log.1 then log, whole");
    let last = 100 * MIB / 64 - 1;
    let tail: Vec<&str> = out.lines().rev().take(3).collect();
    assert_eq!(tail[0].trim_end(), format!("END {tag}"), "{tail:?}");
    assert!(
        tail[1].starts_with(&format!("line {last:010} ")),
        "{tail:?}"
    );
    assert!(
        tail[2].starts_with(&format!("line {:010} ", last - 1)),
        "{tail:?}"
    );
    let numbers: Vec<u64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.get(..10)?.parse().ok())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "the kept lines follow each other"
    );
    // -n reaches back into log.1 when the log has fewer lines.
    let want = (size(&log) / 64 + 100).to_string();
    let (_, some, _) = jobs.run(["logs", "-n", &want, &id]);
    assert_eq!(some.lines().count().to_string(), want);
    // ps says so.
    assert_eq!(
        jobs.job(&id).unwrap().json["log_dropped"],
        dropped,
        "ps --json"
    );
    let line = ps_line(&jobs, &id);
    assert!(line.contains("exited 0 (log cut: "), "{line}");
    assert!(line.contains("MB dropped)"), "{line}");

    // Control: without the cap, the same program keeps everything and ps
    // says nothing was cut (smaller, to spare the disk).
    let tag = unique_tag("uncapped");
    let (code, err) = run_to_end(&jobs, &[], &writer(4, &tag));
    assert_eq!(code, 0, "{err}");
    let id = jobs.job_tagged(&tag).id();
    assert!(size(&jobs.job_dir(&id).join("log")) > 4 * MIB);
    assert!(!jobs.job_dir(&id).join("log.1").exists());
    assert!(!ps_line(&jobs, &id).contains("log cut"));
}

#[test]
fn bad_sizes_are_refused_before_anything_starts() {
    let jobs = Sandbox::for_jobs("logs-bad-size");
    let tag = unique_tag("bad-size");
    for bad in ["0", "0K", "lots", "10X", "-5M", "1.5G", ""] {
        let (code, out, err) = jobs.run(["--log-max", bad, "echo", &tag]);
        assert_eq!(code, 2, "--log-max {bad:?}: {err}");
        assert!(!out.contains(&tag), "the command did not run: {out}");
        assert!(err.starts_with("hupsafe: --log-max: "), "{err}");
        let hint = if bad.starts_with('0') {
            "a size of 0 would keep no log"
        } else {
            "is not a size: give a number of bytes with K, M or G"
        };
        assert!(err.contains(hint), "--log-max {bad:?}: {err}");
    }
    assert!(jobs.ps().is_empty(), "no job was registered");
    // Control: a good size runs the command.
    let (code, out, err) = jobs.run(["--log-max", "10M", "--no-relay", "echo", &tag]);
    assert_eq!((code, out.trim()), (0, tag.as_str()), "{err}");
}

/// Writes `text` as the sandbox's config file, found through
/// `XDG_CONFIG_HOME` as documented; the variable to set.
fn config(jobs: &Sandbox, text: &str) -> (String, std::path::PathBuf) {
    let base = jobs.dir("xdg-config");
    fs::create_dir_all(base.join("hupsafe")).unwrap();
    let file = base.join("hupsafe/config");
    fs::write(&file, text).unwrap();
    (base.to_string_lossy().into_owned(), file)
}

#[test]
fn a_config_file_with_a_bad_line_is_named_and_the_rest_applies() {
    let jobs = Sandbox::for_jobs("logs-config");
    let (xdg, file) = config(
        &jobs,
        "# defaults for my jobs\n\nlog_max = 64K   # small\nfrobnicate = yes\nlog_max = lots\n",
    );
    let tag = unique_tag("config");
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(writer(1, &tag)).env("XDG_CONFIG_HOME", &xdg);
    let (code, _, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert_eq!(code, 0, "a broken config file never fails a run: {err}");
    let shown = file.display();
    assert!(
        err.contains(&format!(
            "hupsafe: {shown}:4: ignored: unknown key 'frobnicate'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "hupsafe: {shown}:5: ignored: 'lots' is not a size"
        )),
        "{err}"
    );
    assert!(!err.contains(":3:"), "line 3 is good: {err}");
    // The good line applied.
    let id = jobs.job_tagged(&tag).id();
    let record = jobs.record(&id);
    assert_eq!(record["log_max"], 64 * 1024, "{record}");
    assert!(record["log_dropped"].as_u64().unwrap() > 0, "{record}");
    // --log-max wins over the file.
    let tag = unique_tag("option");
    let mut cmd = jobs.hupsafe(["--relay", "--log-max", "2M"]);
    cmd.args(writer(1, &tag)).env("XDG_CONFIG_HOME", &xdg);
    let (code, _, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert_eq!(code, 0, "{err}");
    let record = jobs.record(&jobs.job_tagged(&tag).id());
    assert_eq!(
        (record["log_max"].as_u64(), record["log_dropped"].as_u64()),
        (Some(2 * MIB), Some(0))
    );

    // Control: without the config file, no cap.
    let tag = unique_tag("no-config");
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(writer(1, &tag))
        .env("XDG_CONFIG_HOME", jobs.dir("empty-config"));
    let (code, _, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert_eq!((code, err.as_str()), (0, ""));
    let record = jobs.record(&jobs.job_tagged(&tag).id());
    assert!(record["log_max"].is_null(), "{record}");

    // An unreadable config file: one note, the run goes on.
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    let tag = unique_tag("unreadable");
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(python("print('ran')", &tag))
        .env("XDG_CONFIG_HOME", &xdg);
    let (code, out, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ran"), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "hupsafe: note: ignoring the config file '{shown}': "
        )),
        "{err}"
    );
}

/// Makes job `id` look as if it ended `days` ago (its record says so).
fn age(jobs: &Sandbox, id: &str, days: u64) {
    let path = jobs.job_dir(id).join("record.json");
    let mut r = jobs.record(id);
    let ended = r["ended_ms"]
        .as_u64()
        .expect("a finished job has an end time");
    r["ended_ms"] = (ended - days * 86_400_000).into();
    fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
}

/// A finished job: its id.
fn finished(jobs: &Sandbox, extra_env: Option<(&str, &str)>) -> String {
    let tag = unique_tag("done");
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(python("print('done')", &tag));
    if let Some((k, v)) = extra_env {
        cmd.env(k, v);
    }
    let (code, _, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert_eq!(code, 0, "{err}");
    let id = jobs.job_tagged(&tag).id();
    jobs.wait_state(&id, "exited", |s| s == "exited 0");
    id
}

fn ids(jobs: &Sandbox) -> Vec<String> {
    jobs.ps().iter().map(|j| j.id()).collect()
}

#[test]
fn gc_older_than_removes_finished_jobs_by_end_time() {
    let jobs = Sandbox::for_jobs("logs-gc-age");
    let old = finished(&jobs, None);
    let recent = finished(&jobs, None);
    let tag = unique_tag("running");
    let (mut running, live) = jobs.start(&ticker(600, 50, &tag), &tag);
    age(&jobs, &old, 8);
    // Control: an age the old job has not reached removes nothing.
    let (code, out, err) = jobs.run(["gc", "--older-than", "9d"]);
    assert_eq!((code, out.as_str()), (0, "removed 0 jobs\n"), "{err}");
    assert_eq!(ids(&jobs).len(), 3);
    let (code, out, err) = jobs.run(["gc", "--older-than", "7d"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"), "{err}");
    let left = ids(&jobs);
    assert!(!left.contains(&old), "{left:?}");
    assert!(
        left.contains(&recent) && left.contains(&live.id()),
        "{left:?}"
    );
    assert!(!jobs.job_dir(&old).exists());
    // A running job is never removed, whatever the age asked.
    let (code, out, _) = jobs.run(["gc", "--older-than", "0s"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"));
    assert_eq!(ids(&jobs), vec![live.id()]);
    // Bad ages.
    for bad in ["7", "7w", "d", "-1d", ""] {
        let (code, _, err) = jobs.run(["gc", "--older-than", bad]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(
            err.contains("--older-than: ") && err.contains("is not an age"),
            "{err}"
        );
    }
    jobs.run(["stop", &live.id()]);
    wait_child(&mut running);
}

#[test]
fn keep_finished_removes_old_jobs_when_a_job_starts() {
    let jobs = Sandbox::for_jobs("logs-keep");
    // Ages are faked in the records before keep_finished is turned on: a
    // start reads the records only when its last sweep said a job may be
    // due, and ended jobs never end again earlier, as a faked one does.
    let old = finished(&jobs, None);
    let recent = finished(&jobs, None);
    age(&jobs, &old, 8);
    age(&jobs, &recent, 2);
    let (xdg, file) = config(&jobs, "keep_finished = 7d\n");
    let env = Some(("XDG_CONFIG_HOME", xdg.as_str()));
    // Control: the old job is there until a job starts.
    assert_eq!(ids(&jobs), vec![old.clone(), recent.clone()]);
    let (code, _, err) = jobs.run(["gc", "--older-than", "100d"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        ids(&jobs).contains(&old),
        "gc by hand with another age keeps it"
    );
    let new = finished(&jobs, env);
    assert_eq!(ids(&jobs), vec![recent.clone(), new.clone()]);
    // Another age applies at the next start, whatever the last sweep
    // found due under the old one (the recent job: in 5 days).
    fs::write(&file, "keep_finished = 1d\n").unwrap();
    let newer = finished(&jobs, env);
    assert_eq!(ids(&jobs), vec![new, newer]);
}

#[test]
fn logs_follow_goes_on_across_rotations_to_the_end() {
    let jobs = Sandbox::for_jobs("logs-follow-cap");
    let tag = unique_tag("follow");
    // 4000 lines of 64 bytes with pauses: about 16 rotations of a 16K log.
    let program = python(
        "import sys, time\nfor i in range(4000):\n    \
         sys.stdout.write('line %010d %s\\n' % (i, 'x' * 47))\n    \
         if i % 200 == 199: sys.stdout.flush(); time.sleep(0.05)\n\
         print('END', sys.argv[1])\n",
        &tag,
    );
    let mut child = jobs
        .hupsafe(["--relay", "--log-max", "16K"])
        .args(&program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start hupsafe");
    let id = jobs.job_tagged(&tag).id();
    let (code, out, err) = jobs.run(["logs", "-f", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(wait_child(&mut child), 0);
    // Without moving on to the new log, -f would stop at the first
    // rotation and never see the end.
    assert_eq!(
        out.lines().last().map(str::trim_end),
        Some(format!("END {tag}").as_str()),
        "{}",
        &out[out.len().saturating_sub(500)..]
    );
    let numbers: Vec<u64> = out
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.get(..10)?.parse().ok())
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] > w[0]), "in order");
    assert_eq!(numbers.last(), Some(&3999));
    assert!(jobs.record(&id)["log_dropped"].as_u64().unwrap() > 0);
}

// ---- being told: --notify and --on-exit ----

use hupsafe_tests::relay::proc_state;
use hupsafe_tests::shell::Shell;
use hupsafe_tests::until;

/// Runs `hupsafe --relay [ARGS] python CODE` to its end, with `env` added;
/// the job's id.
fn job_with(jobs: &Sandbox, args: &[&str], code: &str, env: &[(&str, &str)]) -> (String, i32) {
    let tag = unique_tag("told");
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(args).args(python(code, &tag));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (status, _, err) = hupsafe_tests::sandbox::finish(&mut cmd);
    assert!(err.is_empty() || status != 0, "{err}");
    (jobs.job_tagged(&tag).id(), status)
}

#[test]
fn notify_prints_one_line_at_the_next_prompt_of_every_shell() {
    let world = Sandbox::with_programs("logs-notify");
    let shells: Vec<Shell> = [Shell::Bash, Shell::Bash, Shell::Zsh]
        .into_iter()
        .filter(|s| s.require().is_some())
        .collect();
    let mut open: Vec<_> = shells.iter().map(|&s| world.open(s)).collect();
    let file = world.state_dir().join("notifications");
    // Control: a job without --notify says nothing.
    let (quiet, _) = job_with(&world, &[], "print('quiet')", &[]);
    let (told, status) = job_with(&world, &["--notify"], "import sys; sys.exit(5)", &[]);
    assert_eq!(status, 5);
    assert_eq!(world.job(&told).unwrap().json["notify"], true, "ps --json");
    assert_eq!(world.job(&quiet).unwrap().json["notify"], false);
    let line = format!("hupsafe: job {told} (");
    until("the notification line", || {
        fs::read_to_string(&file).ok().filter(|t| t.contains(&line))
    });
    for s in &mut open {
        s.run("true");
        s.run("true");
        s.sync();
        let t = s.transcript();
        let shown: Vec<&str> = t.lines().filter(|l| l.contains(&line)).collect();
        assert_eq!(shown.len(), 1, "{}: once:\n{t}", s.shell.name());
        // A line of its own, before the prompt: the job, its command, how
        // it ended and after how long.
        // (What the terminal shows of it: zsh's PROMPT_SP may come first,
        // ended by a carriage return.)
        let shown = shown[0].trim_end().rsplit('\r').next().unwrap();
        assert!(shown.starts_with(&line), "{}: {shown:?}", s.shell.name());
        assert!(shown.contains("sys.exit(5)"), "{shown}");
        assert!(shown.contains(") exited 5 after "), "{shown}");
        assert!(shown.ends_with('s'), "a duration: {shown}");
        assert!(!t.contains(&format!("hupsafe: job {quiet} (")), "{t}");
    }
    // A shell opened after the job ended is not told about it.
    let mut late = world.open(Shell::Bash);
    late.run("true");
    late.sync();
    assert!(!late.transcript().contains(&line), "{}", late.transcript());
    // `notify = on` in the config file does what --notify does.
    fs::write(world.config_dir().join("config"), "notify = on\n").unwrap();
    let (by_config, _) = job_with(&world, &[], "print('configured')", &[]);
    let line = format!("hupsafe: job {by_config} (");
    until("the configured notification", || {
        fs::read_to_string(&file).ok().filter(|t| t.contains(&line))
    });
    late.run("true");
    late.sync();
    assert!(late.transcript().contains(&line), "{}", late.transcript());
}

#[test]
fn on_exit_runs_detached_with_the_jobs_story_in_its_environment() {
    let jobs = Sandbox::for_jobs("logs-on-exit");
    let out = jobs.root().join("on-exit.txt");
    let cmd = format!(
        "env | grep ^HUPSAFE_JOB_ | sort > {0}.tmp; mv {0}.tmp {0}",
        out.display()
    );
    let (id, status) = job_with(
        &jobs,
        &["--on-exit", &cmd],
        "import sys; print('hello'); sys.exit(3)",
        &[],
    );
    assert_eq!(status, 3);
    let text = until("the on-exit command's output", || {
        fs::read_to_string(&out).ok()
    });
    let log = jobs.job_dir(&id).join("log");
    for want in [
        format!("HUPSAFE_JOB_ID={id}"),
        "HUPSAFE_JOB_STATUS=3".into(),
        "HUPSAFE_JOB_STATE=exited 3".into(),
        format!("HUPSAFE_JOB_LOG={}", log.display()),
    ] {
        assert!(text.lines().any(|l| l == want), "{want} missing:\n{text}");
    }
    assert!(
        text.contains("HUPSAFE_JOB_COMMAND=") && text.contains("sys.exit(3)"),
        "{text}"
    );
    assert!(fs::read_to_string(&log).unwrap().contains("hello"));
    assert_eq!(jobs.record(&id)["on_exit"], cmd.as_str());
    assert_eq!(
        jobs.job(&id).unwrap().json["on_exit"],
        cmd.as_str(),
        "ps --json"
    );

    // One that hangs holds nothing up: the job ends, its supervisor is
    // gone with the final record written, the command still runs.
    let pidfile = jobs.root().join("hang.pid");
    let hang = format!(
        "echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 600",
        pidfile.display()
    );
    let (id, status) = job_with(&jobs, &["--on-exit", &hang], "print('x')", &[]);
    assert_eq!(status, 0);
    let pid: i32 = until("the hanging command's pid", || {
        fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    let supervisor = jobs.supervisor_pid(&id);
    until("the supervisor to be gone", || {
        matches!(proc_state(supervisor), None | Some('Z')).then_some(())
    });
    assert_eq!(jobs.record(&id)["state"], "exited");
    assert_eq!(jobs.job(&id).unwrap().state(), "exited 0");
    assert!(
        matches!(proc_state(pid), Some(c) if c != 'Z'),
        "the command runs on"
    );
    // SAFETY: ending the sleep this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };

    // One that fails changes nothing.
    let (id, status) = job_with(&jobs, &["--on-exit", "exit 7"], "print('y')", &[]);
    assert_eq!(status, 0);
    jobs.wait_state(&id, "exited 0", |s| s == "exited 0");

    // One that cannot run is refused before anything starts.
    let tag = unique_tag("never");
    let (code, _, err) = jobs.run(["--on-exit", "no-such-program-hupsafe --x", "echo", &tag]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--on-exit: 'no-such-program-hupsafe' not found"),
        "{err}"
    );
    assert!(!jobs.ps().iter().any(|j| j.command().contains(&tag)));
}

/// A protected command line (a marked command typed at the prompt) takes
/// its cap from the config file too.
#[test]
fn a_protected_lines_log_is_capped_by_the_config_file() {
    let world = Sandbox::with_programs("logs-line-cap");
    world.mark(&["python3"]);
    let mut s = world.open(Shell::Bash);
    let line = |tag: &str| {
        format!(
            "python3 -c 'for i in range(2000): print(\"line %06d %s\" % (i, \"x\" * 50))' {tag}"
        )
    };
    // Control: no config file, no cap.
    let tag = unique_tag("uncapped-line");
    s.run(&line(&tag));
    let id = world.job_tagged(&tag).id();
    let record = world.wait_state(&id, "exited", |st| st == "exited 0").json;
    assert!(world.record(&id)["log_max"].is_null(), "{record}");
    assert!(!world.job_dir(&id).join("log.1").exists());

    fs::write(world.config_dir().join("config"), "log_max = 8K\n").unwrap();
    let tag = unique_tag("capped-line");
    s.run(&line(&tag));
    assert!(s.transcript().contains("line 001999"), "shown whole");
    let id = world.job_tagged(&tag).id();
    world.wait_state(&id, "exited", |st| st.starts_with("exited 0"));
    let record = world.record(&id);
    assert_eq!(record["log_max"], 8 * 1024, "{record}");
    assert!(record["log_dropped"].as_u64().unwrap() > 0, "{record}");
    let dir = world.job_dir(&id);
    assert!(size(&dir.join("log")) + size(&dir.join("log.1")) <= 16 * 1024 + 64 * 1024);
    let (_, out, _) = world.run(["logs", &id]);
    assert!(out.contains("line 001999"), "the newest output is kept");
    assert!(!out.contains("line 000000"), "the oldest is not");
}

#[test]
fn notifications_and_ps_show_commands_as_a_shell_would() {
    let jobs = Sandbox::for_jobs("logs-quoted");
    let (code, out, err) = jobs.run(["-d", "--name", "quoted", "--notify", "sh", "-c", "exit 3"]);
    assert_eq!((code, out.as_str()), (0, "1 quoted\n"), "{err}");
    assert_eq!(jobs.run(["wait", "1"]).0, 3);
    let file = jobs.state_dir().join("notifications");
    let told = until("the notification line", || {
        fs::read_to_string(&file)
            .ok()
            .filter(|t| t.contains("hupsafe: job 1 "))
    });
    // The words as typed (quoted), and the name; not `sh -c exit 3`,
    // which is another command.
    assert!(
        told.starts_with("hupsafe: job 1 'quoted' (sh -c 'exit 3') exited 3 after "),
        "{told}"
    );
    // A protected command line is shown as typed, its escapes visible.
    let text = "echo 'a b' | tr a-z A-Z \u{1b}[2J";
    let (code, out, err) = jobs.run(["line", "start", "--text", text]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().next().unwrap().to_string();
    assert_eq!(jobs.run(["line", "end", &line, "--status", "0"]).0, 0);
    let (code, table, err) = jobs.run(["ps"]);
    assert_eq!(code, 0, "{err}");
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row {id}: {table}"))
            .to_string()
    };
    assert!(
        row(&line).contains("echo 'a b' | tr a-z A-Z \\x1b[2J"),
        "{table}"
    );
    // The control: a command's words are quoted where a shell needs it.
    assert!(row("1").contains("sh -c 'exit 3'"), "{table}");
}
