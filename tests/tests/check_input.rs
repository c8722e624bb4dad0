//! `hupsafe check` on what is not a plain live process of the user's:
//! a zombie, a pid nobody has, another user's process, words that are not
//! pids; and on a family (descendants follow their parent). Exit statuses:
//! 0 when everything survives, 1 when not, 2 for bad input.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use hupsafe_tests::check::{check, hupsafe};
use hupsafe_tests::cli::{hupsafe_bin, is_root};
use hupsafe_tests::relay::{exit_code, proc_state};
use hupsafe_tests::until;
use hupsafe_tests::Sandbox;

/// No pid is this high (pid_max is at most 2^22).
const NO_SUCH_PID: i32 = i32::MAX;

fn env() -> Vec<(String, String)> {
    vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())]
}

/// A command in a session of its own (no controlling terminal, so no
/// hangup reaches it: check says it survives), killed by pid on drop.
struct Detached(Child);

impl Detached {
    fn start(program: &str, args: &[&str]) -> Detached {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        Detached(cmd.spawn().expect("cannot start a detached program"))
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        // SAFETY: kill(2) of the session (process group) we started.
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

#[test]
fn a_family_that_survives_exits_0() {
    let family = Detached::start("sh", &["-c", "sleep 600 & sleep 600 & wait"]);
    let children = until("both sleeps", || {
        let v = check(&env(), &[family.pid()]);
        (v.rows().len() == 3).then_some(v)
    });
    let rows = children.rows();
    assert_eq!(rows[0]["pid"], family.pid());
    assert_eq!(rows[0]["depth"], 0);
    for r in &rows[1..] {
        assert_eq!(r["depth"], 1, "{}", children.stdout);
        assert_eq!(r["comm"], "sleep");
    }
    for r in &rows {
        let pid = r["pid"].as_i64().unwrap() as i32;
        children.expect(pid, "survives", "no controlling terminal");
    }
    assert_eq!(children.status, 0, "{}", children.stdout);
}

#[test]
fn a_zombie_has_exited() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    until("the child to be a zombie", || {
        (proc_state(pid) == Some('Z')).then_some(())
    });
    let v = check(&env(), &[pid]);
    v.expect(pid, "exited", "a zombie: it has already exited");
    assert_eq!(v.status, 1);
    let (status, text, _) = hupsafe(&env(), &["check".into(), pid.to_string()]);
    assert_eq!(status, 1);
    assert!(
        text.starts_with(&format!("{pid} true: exited: a zombie")),
        "{text}"
    );
    child.wait().unwrap();
}

#[test]
fn a_pid_nobody_has_is_bad_input() {
    let alive = Detached::start("sleep", &["600"]);
    let v = check(&env(), &[alive.pid(), NO_SUCH_PID]);
    assert_eq!(v.verdict(NO_SUCH_PID), "no such process");
    assert_eq!(v.verdict(alive.pid()), "survives");
    assert_eq!(v.status, 2, "{}", v.stdout);
    let (status, text, _) = hupsafe(&env(), &["check".into(), NO_SUCH_PID.to_string()]);
    assert_eq!(status, 2);
    assert_eq!(text, format!("{NO_SUCH_PID}: no such process\n"));
}

#[test]
fn words_that_are_not_pids_are_bad_input() {
    let alive = Detached::start("sleep", &["600"]);
    for bad in ["abc", "0", "-3", "12x", "%1", ""] {
        let (status, out, err) = hupsafe(
            &env(),
            &["check".into(), alive.pid().to_string(), bad.into()],
        );
        assert_eq!(status, 2, "{bad:?}: {out}{err}");
        assert!(out.is_empty(), "{bad:?}: nothing is checked: {out}");
        assert!(
            err.contains(&format!("'{bad}' is not a process id")),
            "{bad:?}: {err}"
        );
    }
    let (_, _, err) = hupsafe(&env(), &["check".into(), "%1".into()]);
    assert!(err.contains("jobs -p %1"), "{err}");
}

#[test]
fn another_users_process_is_judged_on_what_can_be_read() {
    if !is_root() {
        // pid 1 belongs to root; its status is readable, its fds are not.
        let owner = fs::read_to_string("/proc/1/status").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
        });
        // SAFETY: getuid cannot fail.
        if owner.is_none() || owner == Some(unsafe { libc::getuid() }) {
            eprintln!("pid 1 is not another user's here: skipped");
            return;
        }
        let v = check(&env(), &[1]);
        v.expect(1, "at risk", "cannot see where its output goes");
        assert_eq!(v.status, 1);
        return;
    }
    // As root: the check runs as nobody, on a process of root's. The
    // binary is copied where nobody may run it.
    let dir = Sandbox::new("check-other-user");
    fs::set_permissions(dir.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.root().join("hupsafe");
    fs::copy(hupsafe_bin(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let target = Detached::start("sleep", &["600"]);
    let mut cmd = Command::new(&bin);
    cmd.args(["check", "--json"])
        .arg(target.pid().to_string())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null());
    let out = hupsafe_tests::process::output_of_fresh_binary(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    let row = &json["processes"][0];
    assert_eq!(row["pid"], target.pid());
    assert_eq!(row["verdict"], "at risk", "{text}");
    let reasons = row["reasons"].to_string();
    assert!(
        reasons.contains("cannot see where its output goes (a process of uid 0"),
        "{text}"
    );
    // What is readable is still reported.
    assert_eq!(row["facts"]["uid"], 0);
    assert_eq!(row["facts"]["session_leader"], true);
    assert!(row["facts"]["shim"].is_null(), "{text}");
    assert!(row["facts"]["stdout"].is_null(), "{text}");
    assert_eq!(exit_code(out.status), 1);
}
