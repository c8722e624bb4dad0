//! What the relay must survive: a log that cannot be written, a client
//! that stops reading, hangups aimed at the supervisor, a hangup while the
//! job is stopped, and another user at the socket.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hupsafe_tests::cli::{hupsafe_bin, is_root};
use hupsafe_tests::relay::{
    proc_state, python, python3, shell_line, ticker, vm_kib, wait_child, Terminal, PROMPT,
};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, unique_tag, until, ProcStatus};

/// RLIMIT_FSIZE makes every log write past 4 KiB fail (EFBIG): the program
/// must not notice, the relay must carry every byte, and the record must
/// say how many the log lost.
#[test]
fn a_log_that_cannot_be_written_costs_the_log_not_the_program() {
    let jobs = Sandbox::for_jobs("relay-efbig");
    // The shim is installed beforehand: under the limit it could not be.
    assert_eq!(jobs.run(["shim"]).0, 0);
    let tag = unique_tag("efbig");
    let program = python(
        "for i in range(400):\n    print('line %03d ' % i + 'x' * 40)\nprint('the end')\n",
        &tag,
    );
    let mut cmd = jobs.hupsafe(["--relay"]);
    cmd.args(&program).stdout(Stdio::piped());
    // SAFETY: setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run hupsafe");
    assert_eq!(out.status.code(), Some(0), "the program ended well");
    let shown = String::from_utf8_lossy(&out.stdout);
    for i in 0..400 {
        assert!(
            shown.contains(&format!("line {i:03} ")),
            "line {i} not relayed"
        );
    }
    assert!(shown.ends_with("the end\r\n"));
    let job = jobs.job_tagged(&tag);
    assert_eq!(job.state(), "exited 0");
    let log_len = std::fs::metadata(job.log()).unwrap().len();
    assert_eq!(log_len, 4096, "the log holds what fit");
    assert_eq!(job.bytes_lost(), out.stdout.len() as u64 - 4096);
    let why = job.json["log_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(why.contains("File too large"), "{why}");
    let (_, table, _) = jobs.run(["ps"]);
    assert!(
        table.contains(&format!("exited 0 ({} bytes not logged)", job.bytes_lost())),
        "{table}"
    );
}

/// A client that stops reading (a frozen terminal, a stalled SSH link)
/// slows the program at most briefly: it is dropped, the program runs to
/// the end at full speed, nothing is lost from the log, and the
/// supervisor's memory does not grow with the output.
#[test]
fn a_stuck_client_is_dropped_and_memory_stays_bounded() {
    let jobs = Sandbox::for_jobs("relay-stuck");
    let tag = unique_tag("flood");
    let n: u64 = 10_000_000;
    let script = format!("head -c {n} /dev/zero | base64; echo done {tag}");
    // Its stdout is a pipe nobody reads: after 64 KiB the client blocks.
    let mut client = jobs
        .hupsafe(["--relay", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    let supervisor = jobs.supervisor_pid(&id);
    let mut peak_kib = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        if let Some(kib) = vm_kib(supervisor, "VmRSS") {
            peak_kib = peak_kib.max(kib);
        }
        let j = jobs.job(&id).unwrap();
        if j.state() != "running" {
            break j;
        }
        assert!(Instant::now() < deadline, "the flood never ended: {j:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(done.state(), "exited 0");
    assert_eq!(done.attached(), 0);
    let b64 = n.div_ceil(3) * 4;
    let lines = b64.div_ceil(76);
    let expected = b64 + 2 * lines + format!("done {tag}\r\n").len() as u64;
    assert_eq!(std::fs::metadata(done.log()).unwrap().len(), expected);
    assert_eq!(done.bytes_lost(), 0);
    assert!(
        peak_kib < 16 * 1024,
        "the supervisor grew to {peak_kib} KiB relaying {expected} bytes"
    );
    // The dropped client notices when it next reads, says so, and still
    // ends with the program's status.
    let mut stdout = client.stdout.take().unwrap();
    let mut sink = Vec::new();
    stdout.read_to_end(&mut sink).unwrap();
    assert_eq!(wait_child(&mut client), 0);
    let mut said = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(said.contains("stopped relaying to this terminal"), "{said}");
}

#[test]
fn hangups_aimed_at_the_supervisor_are_ignored() {
    let jobs = Sandbox::for_jobs("relay-sighup");
    let tag = unique_tag("hup");
    let (_c, job) = jobs.start(&ticker(1200, 50, &tag), &tag);
    let supervisor = jobs.supervisor_pid(&job.id());
    let program = job.pid().unwrap();
    for pid in [supervisor, program] {
        let s = ProcStatus::of(pid).unwrap();
        assert!(s.ignores(libc::SIGHUP), "pid {pid} does not ignore SIGHUP");
    }
    // SAFETY: signalling the supervisor this test started, by pid.
    unsafe { libc::kill(supervisor, libc::SIGHUP) };
    until("the hangup to settle", || {
        procfs::signal_settled(supervisor, libc::SIGHUP).then_some(())
    });
    assert!(procfs::is_alive(supervisor));
    let before = jobs.log(&job.id()).len();
    until("more output after the hangup", || {
        (jobs.log(&job.id()).len() > before).then_some(())
    });
}

/// Under bash, a job left stopped when the terminal goes away gets SIGTERM
/// (docs/HANGUPS.md, "Who sends SIGHUP"). The relayed program is not in
/// bash's job: it stays stopped, and attaching continues it.
#[test]
fn a_stopped_job_survives_the_hangup_and_attach_continues_it() {
    let jobs = Sandbox::for_jobs("relay-stopped-hup");
    let tag = unique_tag("stopped");
    let mut term = Terminal::bash(&jobs);
    let mut cmd = vec![hupsafe_bin().to_string_lossy().into_owned()];
    cmd.extend(ticker(40, 50, &tag));
    term.type_line(&shell_line(&cmd));
    term.expect("tick 2\r\n");
    let job = jobs.job_tagged(&tag);
    let id = job.id();
    term.send(b"\x1a");
    term.expect("Stopped");
    term.expect(PROMPT);
    term.hang_up();
    term.wait();
    until("the job to have nobody attached", || {
        (jobs.job(&id)?.attached() == 0).then_some(())
    });
    let program = job.pid().unwrap();
    assert_eq!(proc_state(program), Some('T'), "still stopped, not killed");
    assert_eq!(jobs.job(&id).unwrap().state(), "stopped");

    let mut other = Terminal::bash(&jobs);
    other.type_line(&format!(
        "{} attach {id}; echo attach-rc=$?",
        hupsafe_bin().display()
    ));
    other.expect("tick 39\r\n");
    other.expect("attach-rc=0");
    assert_eq!(jobs.job(&id).unwrap().state(), "exited 0");
}

/// Only the job's owner may attach: the directories are private, and even
/// a socket opened up by hand is refused after SO_PEERCRED.
#[test]
fn another_user_cannot_attach() {
    if !is_root() {
        eprintln!("skipped: acting as another user needs root (CI runs as root)");
        return;
    }
    let jobs = Sandbox::for_jobs("relay-uid");
    let tag = unique_tag("uid");
    let (_c, job) = jobs.start(&ticker(1200, 50, &tag), &tag);
    let id = job.id();
    let sock = jobs.job_dir(&id).join("sock");
    let nobody = |cmd: &mut Command| {
        // SAFETY: dropping privileges between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };

    // Through the CLI: the state directory is not theirs.
    let mut attach = jobs.hupsafe(["attach", &id]);
    attach.env("HOME", "/tmp");
    nobody(&mut attach);
    let out = attach.output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("owned by uid 0") || err.contains("Permission denied"),
        "{err}"
    );

    // Straight at the socket, with every directory opened up: refused by
    // the supervisor itself.
    for dir in [
        jobs.root().to_path_buf(),
        jobs.state_dir(),
        jobs.state_dir().join("jobs"),
        jobs.job_dir(&id),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut connect = Command::new(python3());
    connect
        .args([
            "-c",
            "import socket, struct, sys\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
             s.connect(sys.argv[1])\n\
             s.sendall(b'h' + struct.pack('>III', 8, 1, 0))\n\
             data = b''\n\
             while True:\n    chunk = s.recv(4096)\n    if not chunk: break\n    data += chunk\n\
             sys.stdout.write(data[5:].decode())\n",
        ])
        .arg(&sock);
    nobody(&mut connect);
    let out = connect.output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "job {id} belongs to uid 0; uid 65534 may not attach"
        )),
        "the supervisor said {said:?}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for dir in [jobs.state_dir(), jobs.state_dir().join("jobs")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let j = jobs.job(&id).unwrap();
    assert_eq!((j.state().as_str(), j.attached()), ("running", 1));
}
