//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use std::fs;

use hupsafe_tests::relay::{python, python3, ticker, wait_child};
use hupsafe_tests::{require_other_user, unique_tag, until, Sandbox};

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

// ---- jobs and records ----

/// A directory the other user owns, beside the sandboxes (same file
/// system, so a socket made there can be moved into a job directory).
fn den_of(other: &hupsafe_tests::users::Other, label: &str) -> tempfile::TempDir {
    let den = tempfile::Builder::new()
        .prefix(&format!("hupsafe-{label}-"))
        .tempdir()
        .unwrap();
    std::os::unix::fs::chown(den.path(), Some(other.uid), Some(other.gid)).unwrap();
    den
}

/// Another user's server takes the place of a job's socket (below a
/// directory it could write, or in a race with the lookup): `attach` must
/// see that the process at the other end is not the user's and send it
/// nothing, not even the hello, let alone keys.
#[test]
fn attach_sends_nothing_to_a_server_of_another_user() {
    let other = require_other_user!();
    let jobs = Sandbox::for_jobs("sec-peer");
    let tag = unique_tag("peer");
    let (mut starter, job) = jobs.start(&ticker(600, 50, &tag), &tag);
    let den = den_of(&other, "sec-peer-den");
    let fake = den.path().join("sock");
    let heard = den.path().join("heard");
    // Listens, then writes down everything a client sends until it
    // closes the connection (or 3 s of silence pass).
    let server = "import socket, sys\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.bind(sys.argv[1]); s.listen(1)\n\
        open(sys.argv[2] + '.ready', 'w').close()\n\
        c, _ = s.accept(); c.settimeout(3)\n\
        out = open(sys.argv[2], 'wb')\n\
        try:\n\
        \x20   while True:\n\
        \x20       d = c.recv(65536)\n\
        \x20       if not d: break\n\
        \x20       out.write(d); out.flush()\n\
        except OSError: pass\n\
        out.close(); open(sys.argv[2] + '.done', 'w').close()\n";
    let mut fake_server = other
        .command(python3())
        .args(["-c", server])
        .arg(&fake)
        .arg(&heard)
        .spawn()
        .unwrap();
    until("the other user's server to listen", || {
        den.path().join("heard.ready").exists().then_some(())
    });
    // The swap, done directly: the other user's socket at the job's path.
    let sock = jobs.job_dir(&job.id()).join("sock");
    fs::remove_file(&sock).unwrap();
    fs::rename(&fake, &sock).unwrap();

    let (code, _, err) = jobs.run(["attach", &job.id()]);
    until("the other user's server to finish", || {
        den.path().join("heard.done").exists().then_some(())
    });
    let _ = fake_server.wait();
    let heard = fs::read(&heard).unwrap();
    assert!(
        heard.is_empty(),
        "attach sent {} bytes to another user's server: {:?}",
        heard.len(),
        String::from_utf8_lossy(&heard)
    );
    assert_ne!(code, 0, "attach must fail: {err}");
    assert!(
        err.contains(&format!("uid {}", other.uid)) && err.contains(&job.id()),
        "the refusal names the job and the stranger's uid: {err}"
    );
    // Control: the real supervisor was there all along (the job lives),
    // so the refusal came from the peer check, not from a dead job.
    assert_eq!(jobs.job(&job.id()).unwrap().state(), "running");
    jobs.run(["stop", &job.id()]);
    wait_child(&mut starter);
}

/// A small tmpfs mounted over a sandbox's state directory, for the full
/// disk stories; unmounted (lazily: supervisors may still hold files in
/// it) when dropped.
struct SmallDisk {
    at: std::path::PathBuf,
}

impl SmallDisk {
    /// `size=2m` over `at`, or None after the skip line naming why.
    fn mount(at: &std::path::Path) -> Option<SmallDisk> {
        fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { at: at.into() }),
            other => {
                hupsafe_tests::skip(
                    &format!(
                        "a full disk: mounting a 2 MiB tmpfs failed ({:?}); needs root \
                         where mounting is allowed",
                        other.map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
                    ),
                    "mount",
                );
                None
            }
        }
    }

    /// Fills it: a file grows until the disk refuses a byte more.
    fn fill(&self) {
        use std::io::Write;
        let mut f = fs::File::create(self.at.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        while f.write_all(&block[..1]).is_ok() {}
        let e = f.write_all(&block[..1]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    }

    /// Makes room again.
    fn empty(&self) {
        fs::remove_file(self.at.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .status();
    }
}

/// A program for the full disk stories: says `ready`, waits for the file
/// `go`, writes 64 KiB (more than any page the log already holds), waits
/// for the file `end`, and exits 7.
fn writes_when_told(jobs: &Sandbox, tag: &str) -> Vec<String> {
    let go = jobs.root().join("go");
    let end = jobs.root().join("end");
    python(
        &format!(
            "import os, sys, time\n\
             print('ready')\n\
             while not os.path.exists({go:?}): time.sleep(0.02)\n\
             sys.stdout.write('x' * 65536 + '\\n')\n\
             while not os.path.exists({end:?}): time.sleep(0.02)\n\
             sys.exit(7)\n",
            go = go.display().to_string(),
            end = end.display().to_string(),
        ),
        tag,
    )
}

/// The disk fills up while a job runs: the bytes the log could not take
/// are counted in the record while the job runs, and its exit status
/// reaches the record when it ends, although the disk is still full (the
/// records are written into room reserved when the job started).
#[test]
fn a_full_disk_loses_log_bytes_but_never_the_record() {
    let jobs = Sandbox::for_jobs("sec-full");
    let Some(disk) = SmallDisk::mount(&jobs.state_dir()) else {
        return;
    };
    let tag = unique_tag("full");
    let (mut starter, job) = jobs.start(&writes_when_told(&jobs, &tag), &tag);
    until("the program to start writing", || {
        jobs.log(&job.id()).contains("ready").then_some(())
    });
    disk.fill();
    fs::write(jobs.root().join("go"), "").unwrap();
    let running = until("ps to count the bytes the log lost", || {
        jobs.job(&job.id()).filter(|j| j.bytes_lost() > 0)
    });
    assert_eq!(running.state(), "running");
    let (_, table, _) = jobs.run(["ps"]);
    assert!(table.contains("bytes not logged"), "{table}");

    fs::write(jobs.root().join("end"), "").unwrap();
    assert_eq!(wait_child(&mut starter), 7, "the status passes through");
    let ended = jobs.wait_state(&job.id(), "exited 7", |s| s != "running");
    assert_eq!(ended.state(), "exited 7", "{:?}", ended.json);
    let logged = ended.json["bytes_logged"].as_u64().unwrap();
    assert!(
        logged + ended.bytes_lost() > 65536,
        "every byte logged or counted: {:?}",
        ended.json
    );
    // Control: the disk is still full.
    let e = fs::write(jobs.state_dir().join("more"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    jobs.kill_all();
    drop(disk);
}

/// Without the reserved room (a job directory that lost its spare, or a
/// file system that cannot exchange names), a record the full disk refuses
/// stays due: the supervisor tries again until the disk takes it, and the
/// job's exit status arrives once room comes back, never `lost`.
#[test]
fn a_record_the_disk_refused_is_written_when_room_comes_back() {
    let jobs = Sandbox::for_jobs("sec-room");
    let Some(disk) = SmallDisk::mount(&jobs.state_dir()) else {
        return;
    };
    let tag = unique_tag("room");
    let (mut starter, job) = jobs.start(&writes_when_told(&jobs, &tag), &tag);
    until("the program to start writing", || {
        jobs.log(&job.id()).contains("ready").then_some(())
    });
    let _ = fs::remove_file(jobs.job_dir(&job.id()).join(".record.spare"));
    disk.fill();
    fs::write(jobs.root().join("go"), "").unwrap();
    fs::write(jobs.root().join("end"), "").unwrap();
    assert_eq!(wait_child(&mut starter), 7, "the status passes through");
    // Control: the disk refused the final record, as it refuses anything.
    let refused = jobs.job(&job.id()).unwrap();
    assert_eq!(refused.state(), "running", "{:?}", refused.json);
    disk.empty();
    let ended = jobs.wait_state(&job.id(), "exited 7", |s| s != "running");
    assert_eq!(ended.state(), "exited 7", "{:?}", ended.json);
    assert!(ended.bytes_lost() > 0, "{:?}", ended.json);
    jobs.kill_all();
    drop(disk);
}

/// A legal but huge command line (about 1.1 MB, nine arguments of 125,000
/// bytes, control bytes among them: six bytes each in JSON) must not make
/// a record too large to read: the job shows in `ps`, every verb reaches
/// it, and `gc` removes it once it is over.
#[test]
fn a_huge_command_line_leaves_the_job_manageable() {
    let jobs = Sandbox::for_jobs("sec-argv");
    let tag = unique_tag("argv");
    let mut program = python(
        "import os, sys, time\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.02)\n",
        &tag,
    );
    let end = jobs.root().join("end");
    program.push(end.display().to_string());
    for i in 0..9 {
        let fill = if i % 2 == 0 { "\u{1}" } else { "x" };
        program.push(fill.repeat(125_000));
    }
    let total: usize = program.iter().map(|a| a.len() + 1).sum();
    assert!(total > 1_100_000, "{total}");
    let (mut starter, job) = jobs.start(&program, &tag);
    let record = fs::metadata(jobs.job_dir(&job.id()).join("record.json")).unwrap();
    assert!(record.len() < 64 * 1024, "a {} byte record", record.len());
    let (code, table, err) = jobs.run(["ps"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "ps skips nothing: {err}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().next() == Some(job.id().as_str())),
        "{table}"
    );
    let (code, _, err) = jobs.run(["logs", &job.id()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = jobs.run(["signal", "CONT", &job.id()]);
    assert_eq!(code, 0, "{err}");
    fs::write(&end, "").unwrap();
    assert_eq!(wait_child(&mut starter), 0);
    jobs.wait_state(&job.id(), "exited 0", |s| s == "exited 0");
    let (code, out, err) = jobs.run(["gc"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"), "{err}");
    assert!(!jobs.job_dir(&job.id()).exists());
}

/// `kill -9` of a job's supervisor leaves its program running: `ps` says
/// the job is lost *and* that its program still runs, and `gc` keeps its
/// record and log (the only trace of it) until the program is gone.
#[test]
fn a_job_whose_supervisor_was_killed_is_kept_while_its_program_runs() {
    let jobs = Sandbox::for_jobs("sec-orphan");
    let tag = unique_tag("orphan");
    let end = jobs.root().join("end");
    let mut program = python(
        "import os, sys, time\nprint('hello')\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.02)\n",
        &tag,
    );
    program.push(end.display().to_string());
    let (mut starter, job) = jobs.start(&program, &tag);
    let id = job.id();
    let pid = job.pid().unwrap();
    until("the program to print", || {
        jobs.log(&id).contains("hello").then_some(())
    });
    let supervisor = jobs.supervisor_pid(&id);
    // SAFETY: kill(2) of the supervisor this test started, by pid.
    assert_eq!(unsafe { libc::kill(supervisor, libc::SIGKILL) }, 0);
    wait_child(&mut starter);
    let lost = jobs.wait_state(&id, "lost", |s| s == "lost");
    assert_eq!(lost.json["program_running"], true, "{:?}", lost.json);
    let (_, table, _) = jobs.run(["ps"]);
    assert!(
        table.contains(&format!("lost (program {pid} still running)")),
        "{table}"
    );
    let (code, out, err) = jobs.run(["gc"]);
    assert_eq!((code, out.as_str()), (0, "removed 0 jobs\n"), "{err}");
    assert!(jobs.job_dir(&id).join("log").exists(), "gc kept the log");
    let (code, _, err) = jobs.run(["forget", &id]);
    assert_ne!(code, 0, "forget keeps it too");
    assert!(err.contains("hupsafe stop"), "{err}");
    let (code, _, err) = jobs.run(["attach", &id]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("pid {pid}")), "{err}");

    // Control: once the program is gone, the lost job is collected.
    fs::write(&end, "").unwrap();
    until("the program to end", || {
        (!hupsafe_tests::procfs::is_alive(pid)).then_some(())
    });
    let (code, out, err) = jobs.run(["gc"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"), "{err}");
}

/// Connections that never say hello (anyone of the user's can open them,
/// by mistake or not) are nobody: they must not lock `attach` out, however
/// many there are.
#[test]
fn silent_connections_do_not_lock_attach_out() {
    let jobs = Sandbox::for_jobs("sec-idle");
    let tag = unique_tag("idle");
    let end = jobs.root().join("end");
    let mut program = python(
        "import os, sys, time\nprint('hello from the job')\n\
         while not os.path.exists(sys.argv[2]): time.sleep(0.02)\n",
        &tag,
    );
    program.push(end.display().to_string());
    let (mut starter, job) = jobs.start(&program, &tag);
    let sock = jobs.job_dir(&job.id()).join("sock");
    let silent: Vec<std::os::unix::net::UnixStream> = (0..16)
        .map(|_| std::os::unix::net::UnixStream::connect(&sock).unwrap())
        .collect();
    assert_eq!(
        jobs.job(&job.id()).unwrap().attached(),
        1,
        "only the starter"
    );
    let mut attach = jobs
        .hupsafe(["attach", &job.id()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let attached = until("attach to be attached, or to end", || {
        if let Ok(Some(_)) = attach.try_wait() {
            return Some(false);
        }
        (jobs.job(&job.id()).unwrap().attached() == 2).then_some(true)
    });
    if !attached {
        let out = attach.wait_with_output().unwrap();
        panic!(
            "attach ended: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::write(&end, "").unwrap();
    let out = attach.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from the job"),
        "the replay came: {out:?}"
    );
    assert_eq!(wait_child(&mut starter), 0);
    drop(silent);
}

/// A start the file system refuses half-way (here the id counter cannot be
/// updated: a one-byte RLIMIT_FSIZE stands in for a disk that refuses the
/// write once the job's directory is made) leaves no empty job directory
/// for `ps` to warn about for ever; and one left by an older hupsafe or a
/// start killed half-way is removed by `gc`.
#[test]
fn a_start_refused_half_way_leaves_no_job_behind() {
    use std::os::unix::process::CommandExt;
    let jobs = Sandbox::for_jobs("sec-halfway");
    // The shim in place first (it is a file too).
    let (code, _, err) = jobs.run(["--no-relay", "true"]);
    assert_eq!(code, 0, "{err}");
    let mut limited = jobs.hupsafe(["--relay", "true"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        limited.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let one = libc::rlimit {
                rlim_cur: 1,
                rlim_max: 1,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &one) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (code, _, err) = hupsafe_tests::sandbox::finish(&mut limited);
    assert_eq!(code, 125, "the start fails: {err}");
    assert!(err.contains("File too large"), "{err}");
    let left: Vec<String> = fs::read_dir(jobs.state_dir().join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // A leftover of an older start: gc removes it, ps no longer warns.
    let old = jobs.state_dir().join("jobs").join("41");
    fs::create_dir(&old).unwrap();
    fs::write(old.join("log"), "").unwrap();
    let status = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    let (_, _, warned) = jobs.run(["ps"]);
    assert!(warned.contains("41"), "control: ps sees it: {warned}");
    let (code, out, err) = jobs.run(["gc"]);
    assert_eq!((code, out.as_str()), (0, "removed 1 jobs\n"), "{err}");
    assert!(!old.exists());
    let (_, _, err) = jobs.run(["ps"]);
    assert!(err.is_empty(), "{err}");
}

/// Names from the file system reach the terminal as text, never as
/// control sequences: a state directory (or an entry of `jobs/`) named
/// with escapes that would retitle the terminal, clear it, or recolour
/// it.
#[test]
fn ps_shows_escapes_from_directory_names_instead_of_obeying_them() {
    let jobs = Sandbox::for_jobs("sec-escape");
    let state = jobs.root().join("st\u{1b}]0;pwned\u{7}\u{1b}[2Jate");
    let env = jobs.env_with(&[("HUPSAFE_STATE_DIR", state.to_str().unwrap())]);
    let run = |args: &[&str]| {
        hupsafe_tests::sandbox::finish(jobs.hupsafe(args).env_clear().envs(env.clone()))
    };
    let (code, _, err) = run(&["--relay", "true"]);
    assert_eq!(code, 0, "{err}");
    fs::create_dir(state.join("jobs").join("\u{1b}[31mred")).unwrap();
    let (code, out, err) = run(&["ps"]);
    assert_eq!(code, 0, "{err}");
    for text in [&out, &err] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
    }
    // Control: the names are there, as text.
    assert!(out.contains("st\\x1b]0;pwned\\x07\\x1b[2Jate"), "{out}");
    assert!(err.contains("\\x1b[31mred"), "{err}");
    let (_, out, err) = run(&["gc"]);
    for text in [&out, &err] {
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
}
