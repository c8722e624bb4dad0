//! `hupsafe check` without PIDs, typed at a real shell on a real pty: it
//! checks the jobs of that terminal's session (and their descendants),
//! never the shell, itself, or the pipeline it is part of; without a
//! terminal it says why it has nothing to look at.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use hupsafe_tests::check::{dies, read_json, stays_alive, write_programs, Subject};
use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::relay::exit_code;
use hupsafe_tests::shell::{quote, Shell};
use hupsafe_tests::until;
use hupsafe_tests::Sandbox;

#[test]
fn the_jobs_of_this_terminal() {
    let world = Sandbox::with_programs("check-session");
    write_programs(&world);
    let bin = quote(&hupsafe_bin().to_string_lossy());
    let mut s = world.open_plain(Shell::Bash);
    let ignored = Subject::new(&world, "check-session-ignored");
    let default = Subject::new(&world, "check-session-default");
    let nested = Subject::new(&world, "check-session-nested");
    s.run(&format!(
        "python3 ignore.py {} > /dev/null 2>&1 &",
        ignored.args()
    ));
    s.run(&format!(
        "python3 default.py {} > /dev/null 2>&1 &",
        default.args()
    ));
    // A job whose program is a child of the job's own shell.
    s.run(&format!(
        "sh -c 'python3 ignore.py \"$@\"; exit 0' sh {} > /dev/null 2>&1 &",
        nested.args()
    ));
    let (p_ignored, p_default) = (ignored.wait_ready(), default.wait_ready());
    nested.wait_ready();
    // Both carry the tag: the job's sh, and python3 its child.
    let by_name = |name: &str| {
        nested.tagged.pids().into_iter().find(|p| {
            hupsafe_tests::procfs::cmdline(*p)
                .is_some_and(|a| a.first().map(String::as_str) == Some(name))
        })
    };
    let p_sh = until("the nested job's sh", || by_name("sh"));
    let p_nested = until("the nested job's python3", || by_name("python3"));

    let out = world.root().join("check.json");
    let status = s.status_of(&format!(
        "{bin} check --json > {}",
        quote(&out.to_string_lossy())
    ));
    let json = read_json(&out);
    let rows = json["processes"].as_array().unwrap();
    let pid_of = |r: &serde_json::Value| r["pid"].as_i64().unwrap() as i32;
    let mut pids: Vec<i32> = rows.iter().map(pid_of).collect();
    pids.sort_unstable();
    let mut want = vec![p_ignored, p_default, p_sh, p_nested];
    want.sort_unstable();
    assert_eq!(
        pids, want,
        "the jobs, and nothing else (not the shell, not check):\n{json:#}"
    );
    let row = |pid: i32| rows.iter().find(|r| pid_of(r) == pid).unwrap();
    assert_eq!(row(p_nested)["depth"], 1, "{json:#}");
    assert_eq!(row(p_ignored)["verdict"], "survives", "{json:#}");
    assert_eq!(row(p_default)["verdict"], "dies", "{json:#}");
    assert_eq!(json["session"]["leader"]["pid"], s.term.pid());
    assert!(
        json["session"]["tty"]
            .as_str()
            .is_some_and(|t| t.starts_with("/dev/pts/")),
        "{json:#}"
    );
    assert_eq!(status, 1, "something dies: exit 1");

    // Text, through a pipe: the pipeline's other stage is not a job.
    let text = world.root().join("check.txt");
    s.status_of(&format!(
        "{bin} check | cat > {}",
        quote(&text.to_string_lossy())
    ));
    let report = std::fs::read_to_string(&text).unwrap();
    assert!(
        report.starts_with("jobs of the session on /dev/pts/"),
        "{report}"
    );
    assert!(
        report.contains(&format!("  {p_ignored} python3: survives: SIGHUP ignored")),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "  {p_default} python3: dies: SIGHUP at its default action"
        )),
        "{report}"
    );
    assert!(!report.contains(" cat: "), "{report}");

    s.hang_up();
    assert!(stays_alive(p_ignored));
    assert!(dies(p_default));
}

#[test]
fn no_jobs_is_fine() {
    let world = Sandbox::with_programs("check-session-empty");
    let bin = quote(&hupsafe_bin().to_string_lossy());
    let mut s = world.open_plain(Shell::Bash);
    let text = world.root().join("check.txt");
    let status = s.status_of(&format!("{bin} check > {}", quote(&text.to_string_lossy())));
    let report = std::fs::read_to_string(&text).unwrap();
    assert_eq!(status, 0, "{report}");
    assert!(
        report.contains("none (nothing runs in this session but the shell)"),
        "{report}"
    );
}

#[test]
fn without_a_terminal_it_explains() {
    let mut cmd = Command::new(hupsafe_bin());
    cmd.arg("check")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid between fork and exec: no controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(out.status), 2, "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("no controlling terminal") && err.contains("hupsafe check PID"),
        "{err}"
    );
}
