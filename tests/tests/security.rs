//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use std::fs;

use hupsafe_tests::relay::{python3, ticker, wait_child};
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
