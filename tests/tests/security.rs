//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use hupsafe_tests::require_other_user;

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

// ---- directories and files ----
//
// Every directory hupsafe trusts (the shim's, the job state, the wrap
// directory, the marks file's) is reached from `/` one component at a time
// and refused when someone else could change what lies below a component:
// a directory another user owns, or one others can write without the
// sticky bit, or a symbolic link another user owns. Then it is used through
// the open directory, never by its path again. Temporary files have random
// names and are created exclusively.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use hupsafe_tests::cli::{hupsafe_bin, nohup_link};
use hupsafe_tests::sandbox::finish;
use hupsafe_tests::users::Other;
use hupsafe_tests::{require_tool, Sandbox};

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
        c.current_dir(s.root());
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
