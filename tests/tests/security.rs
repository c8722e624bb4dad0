//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use hupsafe_tests::cli::{hupsafe_bin, is_root, nohup_link};
use hupsafe_tests::procfs;
use hupsafe_tests::relay::{python, python3, ticker, wait_child, Terminal};
use hupsafe_tests::sandbox::finish;
use hupsafe_tests::shell::{Session, Shell, Tagged};
use hupsafe_tests::users::Other;
use hupsafe_tests::wait::poll;
use hupsafe_tests::{
    require_other_user, require_tool, unique_tag, until, CProgram, ProcStatus, Sandbox,
};

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

// ---- directories and files ----
//
// Every directory hupsafe trusts (the shim's, the job state, the wrap
// directory, the marks file's) is reached from `/` one component at a time
// and refused when someone else could change what lies below a component:
// a directory another user owns, or one others can write without the
// sticky bit, or a symbolic link another user owns. Then it is used through
// the open directory, never by its path again. Temporary files have random
// names and are created exclusively.

/// A sandbox the other user can pass through (search, not list).
fn shared_sandbox(label: &str) -> Sandbox {
    let s = Sandbox::for_jobs(label);
    fs::set_permissions(s.root(), fs::Permissions::from_mode(0o711)).unwrap();
    s
}

/// A directory of the other user's that anyone may write (mode 0777): a
/// careless "shared" directory.
fn others_open_dir(s: &Sandbox, other: &Other, name: &str) -> PathBuf {
    let d = s.root().join(name);
    fs::create_dir(&d).unwrap();
    std::os::unix::fs::chown(&d, Some(other.uid), Some(other.gid)).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    d
}

#[test]
fn a_state_directory_below_one_others_can_write_is_refused() {
    let other = require_other_user!();
    let s = shared_sandbox("sec-state");
    let shared = others_open_dir(&s, &other, "shared");
    // The state directory itself is ours and private: only its parent is
    // not, so the other user can rename it away and put theirs in its
    // place between a check and a use.
    let state = shared.join("state");
    fs::create_dir(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let env = s.env_with(&[("HUPSAFE_STATE_DIR", state.to_str().unwrap())]);
    let hs = |args: &[&str]| {
        let mut c = Command::new(hupsafe_bin());
        c.env_clear()
            .envs(env.clone())
            .args(args)
            .stdin(Stdio::null());
        finish(&mut c)
    };
    let (code, _, err) = hs(&["ps"]);
    assert_eq!(
        code, 125,
        "ps used a state directory below {shared:?}: {err}"
    );
    assert!(
        err.contains("refusing to use")
            && err.contains(&format!("sits under '{}'", shared.display()))
            && err.contains("HUPSAFE_STATE_DIR"),
        "{err}"
    );
    // doctor says so too.
    let (_, out, _) = hs(&["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let jobs = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["topic"] == "jobs")
        .unwrap();
    assert_eq!(jobs["level"], "at_risk", "{out}");

    // The control: the same state directory below a directory of our own.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&shared, Some(0), Some(0)).unwrap();
    let (code, _, err) = hs(&["ps"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_wrap_directory_others_can_write_is_refused_and_kept_off_path() {
    let other = require_other_user!();
    let s = shared_sandbox("sec-wrap");
    let shared = others_open_dir(&s, &other, "shared");
    let wrap = shared.join("bin");
    fs::create_dir(&wrap).unwrap();
    fs::set_permissions(&wrap, fs::Permissions::from_mode(0o755)).unwrap();
    let run = |wrap: &Path, args: &[&str]| {
        let mut c = Command::new(hupsafe_bin());
        c.env_clear()
            .envs(s.env_with(&[("HUPSAFE_WRAP_DIR", wrap.to_str().unwrap())]))
            .args(args)
            .stdin(Stdio::null());
        finish(&mut c)
    };
    let (code, _, err) = run(&wrap, &["wrap", "true"]);
    assert_ne!(code, 0, "wrap wrote into {wrap:?}: {err}");
    assert!(
        err.contains("refusing to use") && err.contains("HUPSAFE_WRAP_DIR"),
        "{err}"
    );
    assert!(!wrap.join("true").exists());
    // init does not put it first on PATH (whatever the other user puts
    // there would run instead of the user's commands).
    let (code, script, err) = run(&wrap, &["init", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !script.contains(wrap.to_str().unwrap()),
        "init puts {wrap:?} on PATH:\n{script}"
    );
    assert!(
        err.contains("not putting the wrap directory on PATH"),
        "{err}"
    );
    // Nor one that is not there yet: the other user could make it.
    let (code, script, err) = run(&shared.join("later"), &["init", "bash"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !script.contains(shared.join("later").to_str().unwrap()),
        "init puts a directory the other user can make on PATH:\n{script}"
    );
    // doctor reports it.
    let (_, out, _) = run(&wrap, &["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["topic"] == "wrap")
        .unwrap_or_else(|| panic!("doctor says nothing about the wrap directory: {out}"));
    assert_eq!(finding["level"], "at_risk", "{out}");

    // The control: a wrap directory of our own is used.
    let own = s.dir("ownbin");
    let (code, _, err) = run(&own, &["wrap", "true"]);
    assert_eq!(code, 0, "{err}");
    assert!(own.join("true").exists());
    let (_, script, _) = run(&own, &["init", "bash"]);
    assert!(script.contains(own.to_str().unwrap()), "{script}");
}

#[test]
fn embed_never_writes_through_a_link_at_its_temporary_name() {
    let other = require_other_user!();
    require_tool!("patchelf", "patchelf");
    // Two unprivileged users: the victim (the other user) writes an
    // embedded copy into a sticky drop directory that nobody (65534) owns;
    // nobody has planted links there, which the kernel lets the victim
    // follow (the link's owner owns the directory).
    let s = shared_sandbox("sec-embed");
    let drop = s.root().join("drop");
    fs::create_dir(&drop).unwrap();
    fs::set_permissions(&drop, fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(&drop, Some(65534), Some(65534)).unwrap();
    let precious = other
        .home
        .join(format!("hs-precious-{}", std::process::id()));
    fs::write(&precious, "the victim's file\n").unwrap();
    std::os::unix::fs::chown(&precious, Some(other.uid), Some(other.gid)).unwrap();
    fs::set_permissions(&precious, fs::Permissions::from_mode(0o644)).unwrap();
    let out = drop.join("true.hupsafe");

    // Started stopped at a shell whose pid the hupsafe will have (exec), so
    // that the links can be planted at the name an old hupsafe would use.
    let mut c = other.command("/bin/sh");
    c.arg("-c")
        .arg("echo $$; read go; exec \"$@\"")
        .arg("sh")
        .arg(hupsafe_bin())
        .args(["wrap", "--embed", "/bin/true", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line.trim().parse().unwrap();
    let planted = drop.join(format!(".true.hupsafe.hupsafe-{pid}.tmp"));
    std::os::unix::fs::symlink(&precious, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(65534), Some(65534)).unwrap();
    // Links at names like tempfile's too (they must be avoided, not hit).
    for i in 0..64 {
        let p = drop.join(format!(".true.hupsafe.{i:06}.hupsafe.tmp"));
        std::os::unix::fs::symlink(&precious, &p).unwrap();
        std::os::unix::fs::lchown(&p, Some(65534), Some(65534)).unwrap();
    }
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    let _ = fs::remove_dir_all(&drop);
    let after = fs::read(&precious).unwrap();
    let mode = fs::metadata(&precious).unwrap().mode() & 0o7777;
    let _ = fs::remove_file(&precious);
    assert_eq!(
        after, b"the victim's file\n",
        "the victim's file was overwritten through the planted link: {err}"
    );
    assert_eq!(mode, 0o644, "its mode was changed");
    assert!(done.status.success(), "{err}");
}

#[test]
fn a_shim_directory_below_a_link_someone_else_owns_is_refused() {
    let other = require_other_user!();
    let s = shared_sandbox("sec-shimlink");
    let real = s.dir("real");
    // The link is the other user's: they can point it anywhere later, at a
    // directory of their own with their library in it.
    let link = s.root().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(other.uid), Some(other.gid)).unwrap();
    let run = |lib: &Path| {
        let mut c = Command::new(hupsafe_bin());
        c.env_clear()
            .envs(s.env_with(&[("HUPSAFE_LIB_DIR", lib.to_str().unwrap())]))
            .args(["/bin/true"])
            .stdin(Stdio::null());
        finish(&mut c)
    };
    let (code, _, err) = run(&link.join("lib"));
    assert_eq!(code, 125, "a shim below {link:?} was accepted: {err}");
    assert!(
        err.contains("refusing to use")
            && err.contains(&format!("'{}'", link.display()))
            && err.contains(&format!("symbolic link owned by uid {}", other.uid)),
        "{err}"
    );
    // The control: the same link, ours, is followed.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    let (code, _, err) = run(&link.join("lib"));
    assert_eq!(code, 0, "{err}");
    assert!(real.join("lib").is_dir());
}

#[test]
fn an_embedded_copy_made_by_root_runs_for_every_user() {
    let other = require_other_user!();
    require_tool!("patchelf", "patchelf");
    let s = shared_sandbox("sec-embed-all");
    let outdir = s.dir("out");
    fs::set_permissions(&outdir, fs::Permissions::from_mode(0o755)).unwrap();
    // A program of the other user's (not root's, not set-id: a private
    // shim would be allowed), embedded by root for everybody.
    let prog = outdir.join("true");
    fs::copy("/bin/true", &prog).unwrap();
    std::os::unix::fs::chown(&prog, Some(other.uid), Some(other.gid)).unwrap();
    let out = outdir.join("true.hupsafe");
    let (code, _, err) = s.run([
        "wrap",
        "--embed",
        prog.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // As root it runs (the control: the copy itself works).
    let st = Command::new(&out).status().unwrap();
    assert!(st.success());
    // As another user it must run too, and quietly.
    let o = other.command(&out).output().unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "the copy fails for uid {}: {:?} {}",
        other.uid,
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_program_that_becomes_another_user_loads_the_shim_quietly() {
    let other = require_other_user!();
    let setpriv = require_tool!("setpriv", "util-linux");
    let s = Sandbox::for_jobs("sec-setpriv");
    let (uid, gid) = (other.uid.to_string(), other.gid.to_string());
    let drop_to = |tail: &[&str]| {
        let mut args: Vec<String> = vec![
            setpriv.to_string_lossy().into_owned(),
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
        ];
        args.extend(tail.iter().map(|a| a.to_string()));
        args
    };
    // hupsafe CMD (run in place: no terminal) and the nohup drop-in.
    let nohup = nohup_link(&s.root().join("nohup-bin"), hupsafe_bin());
    for form in ["run", "nohup"] {
        let mut c = s.hupsafe(drop_to(&["cat", "/proc/self/maps"]));
        if form == "nohup" {
            let mut n = Command::new(&nohup);
            n.env_clear()
                .envs(s.env())
                .args(drop_to(&["cat", "/proc/self/maps"]))
                .stdin(Stdio::null());
            c = n;
        }
        // Root's own environment, as in the finding: no HUPSAFE_LIB_DIR
        // (an explicit one is root's choice, used as given).
        c.env_remove("HUPSAFE_LIB_DIR").current_dir(s.root());
        let (code, out, err) = finish(&mut c);
        assert_eq!(code, 0, "{form:?}: {err}");
        assert!(
            !err.contains("ld.so") && !err.contains("cannot be preloaded"),
            "{form:?}: the loader complained as uid {uid}: {err}"
        );
        let maps = if out.is_empty() {
            fs::read_to_string(s.root().join("nohup.out")).unwrap_or_default()
        } else {
            out
        };
        assert!(
            maps.lines().any(|l| l.contains("/libnohup-")),
            "{form:?}: the shim is not loaded in the process of uid {uid}:\n{maps}"
        );
        let _ = fs::remove_file(s.root().join("nohup.out"));
    }
}

/// The stories below share `/var/tmp/hupsafe-UID` and `/tmp/hupsafe-UID`
/// of the other user.
static SHARED_PLACES: Mutex<()> = Mutex::new(());

/// The other user's fallback shim directories, taken by nobody (65534)
/// first; `which` says which ones. They are removed again on drop.
struct Taken(Vec<PathBuf>);

impl Taken {
    fn new(other: &Other, which: &[&str]) -> Taken {
        let mut v = Vec::new();
        for base in ["/var/tmp", "/tmp"] {
            let d = PathBuf::from(format!("{base}/hupsafe-{}", other.uid));
            let _ = fs::remove_dir_all(&d);
            if which.contains(&base) {
                fs::create_dir(&d).unwrap();
                fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
                std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
                v.push(d);
            }
        }
        Taken(v)
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// `hupsafe ARGS` as the other user with an unusable HOME.
fn homeless(other: &Other, args: &[&str]) -> (i32, String, String) {
    let mut c = other.command(hupsafe_bin());
    c.env("HOME", "/nonexistent")
        .args(args)
        .stdin(Stdio::null());
    finish(&mut c)
}

#[test]
fn a_var_tmp_place_taken_by_another_user_is_passed_over() {
    let other = require_other_user!();
    let _one = SHARED_PLACES.lock().unwrap_or_else(|e| e.into_inner());
    let _taken = Taken::new(&other, &["/var/tmp"]);
    let (code, out, err) = homeless(&other, &["cat", "/proc/self/maps"]);
    assert_eq!(code, 0, "{err}");
    let tmp = format!("/tmp/hupsafe-{}/libnohup-", other.uid);
    assert!(
        out.lines().any(|l| l.contains(&tmp)),
        "the shim is not loaded from {tmp}: {err}\n{out}"
    );
}

#[test]
fn without_any_usable_place_the_command_still_runs() {
    let other = require_other_user!();
    let _one = SHARED_PLACES.lock().unwrap_or_else(|e| e.into_inner());
    let _taken = Taken::new(&other, &["/var/tmp", "/tmp"]);
    let (code, out, err) = homeless(&other, &["echo", "it ran"]);
    assert_eq!((code, out.as_str()), (0, "it ran\n"), "{err}");
    assert!(err.contains("note: running without the shim"), "{err}");
}

#[test]
fn a_state_directory_swapped_after_the_start_changes_nothing() {
    // Opened once, used through the open directory: a job's supervisor
    // keeps writing where the job started, whatever is put at the path
    // later (what someone who can swap a directory on the way would do,
    // done here by the test itself).
    let jobs = Sandbox::for_jobs("sec-swap");
    let tag = hupsafe_tests::unique_tag("swap");
    let (mut client, job) = jobs.start(&hupsafe_tests::relay::ticker(100_000, 50, &tag), &tag);
    let id = job.id();
    let state = jobs.state_dir();
    let moved = jobs.root().join("state-moved");
    fs::rename(&state, &moved).unwrap();
    let decoy_job = state.join("jobs").join(&id);
    fs::create_dir_all(&decoy_job).unwrap();
    for d in [&state, &state.join("jobs"), &decoy_job] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let program = job.pid().expect("the job has a pid");
    // SAFETY: killing the program this test started, by pid.
    unsafe { libc::kill(program, libc::SIGKILL) };
    let status = hupsafe_tests::relay::wait_child(&mut client);
    let written: Vec<_> = fs::read_dir(&decoy_job)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    fs::remove_dir_all(&state).unwrap();
    fs::rename(&moved, &state).unwrap();
    assert!(
        written.is_empty(),
        "the supervisor wrote {written:?} into the directory put in place after its start"
    );
    assert_eq!(status, 137);
    jobs.wait_state(&id, "killed", |s| s == "killed by SIGKILL");
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

// ---- wait and rerun ----

/// `rerun` reads the saved environment and argv only from files of the
/// job itself: a link planted in their place (which could point at any
/// file the user can read, or feed the job someone else's variables) is
/// refused, and nothing runs. The control: the same text as the job's own
/// file is used.
#[test]
fn rerun_never_reads_a_saved_environment_through_a_link() {
    let jobs = Sandbox::for_jobs("sec-rerun-env");
    let (code, _, err) = jobs.run(["--relay", "sh", "-c", "echo \"marker=$RERUN_MARKER\""]);
    assert_eq!(code, 0, "{err}");
    let env = jobs.job_dir("1").join("env");
    let mut text = String::from("RERUN_MARKER=planted\0");
    for (k, v) in jobs.env() {
        text.push_str(&format!("{k}={v}\0"));
    }
    let planted = jobs.write("planted", &text);
    fs::remove_file(&env).unwrap();
    std::os::unix::fs::symlink(&planted, &env).unwrap();
    let (code, out, err) = jobs.run(["rerun", "1"]);
    assert_eq!(code, 125, "{out}");
    assert!(
        err.contains("cannot read job 1's saved environment"),
        "{err}"
    );
    assert!(!out.contains("marker=planted"), "{out}");
    assert_eq!(jobs.ps().len(), 1, "nothing ran");
    // The control: the same text in the job's own file is the environment.
    fs::remove_file(&env).unwrap();
    fs::copy(&planted, &env).unwrap();
    let (code, out, err) = jobs.run(["rerun", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("marker=planted"), "{out}");
    // The file a job saves is private.
    assert_eq!(
        fs::metadata(jobs.job_dir("2").join("env")).unwrap().mode() & 0o777,
        0o600
    );
}
