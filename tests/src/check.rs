//! The `check` and `doctor` tests' harness: python programs in each
//! situation docs/HANGUPS.md describes (SIGHUP ignored, caught, default,
//! blocked and read with sigwait, output on the terminal), each writing a
//! ready file once its signal set-up is done; `hupsafe check --json` run on
//! them and its verdicts read back; and the reality that proves a verdict:
//! after a real hangup, what `check` said survives is still alive, what it
//! said dies is gone.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::hupsafe_bin;
use crate::procfs;
use crate::relay::exit_code;
use crate::sandbox::Sandbox;
use crate::shell::{quote, Tagged};
use crate::wait::{poll, until, PATIENCE};

/// SIGHUP back at its default action (what many programs do), then sleeps.
pub const PY_DEFAULT: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
open(sys.argv[2], 'w').close()
while True:
    time.sleep(1)
";

/// SIGHUP ignored by the program itself (no shim), then sleeps.
pub const PY_IGNORE: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
open(sys.argv[2], 'w').close()
while True:
    time.sleep(1)
";

/// A SIGHUP handler that exits 3 (torchrun's kind: the handler ends it).
pub const PY_CATCH: &str = "\
import signal, sys, time
def bye(*_):
    sys.exit(3)
signal.signal(signal.SIGHUP, bye)
open(sys.argv[2], 'w').close()
while True:
    time.sleep(1)
";

/// SIGHUP ignored but blocked, and read with sigwait: the kernel queues a
/// blocked signal even when it is ignored (docs/HANGUPS.md, "Blocked
/// SIGHUP is queued"), so the hangup reaches it anyway; it exits 4 when it
/// does.
pub const PY_BLOCK: &str = "\
import signal, sys
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
open(sys.argv[2], 'w').close()
signal.sigwait({signal.SIGHUP})
sys.exit(4)
";

/// SIGHUP ignored and blocked, and never read: a SIGHUP stays queued.
pub const PY_HOLD: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
open(sys.argv[2], 'w').close()
while True:
    time.sleep(1)
";

/// SIGHUP ignored, printing a line every 100 ms: on a terminal that went
/// away, print raises EIO and python exits (docs/HANGUPS.md, "EIO after a
/// hangup").
pub const PY_PRINTER: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
open(sys.argv[2], 'w').close()
i = 0
while True:
    print('tick %d' % i, flush=True)
    i += 1
    time.sleep(0.1)
";

/// For a session leader on a pty: its output away from the terminal,
/// SIGHUP at its default.
pub const PY_LEADER: &str = "\
import os, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
null = os.open('/dev/null', os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
open(sys.argv[2], 'w').close()
while True:
    time.sleep(1)
";

/// Writes the programs above into the world's root, as `default.py`,
/// `ignore.py`, `catch.py`, `block.py`, `hold.py`, `printer.py` and
/// `leader.py`.
pub fn write_programs(world: &Sandbox) {
    for (name, code) in [
        ("default.py", PY_DEFAULT),
        ("ignore.py", PY_IGNORE),
        ("catch.py", PY_CATCH),
        ("block.py", PY_BLOCK),
        ("hold.py", PY_HOLD),
        ("printer.py", PY_PRINTER),
        ("leader.py", PY_LEADER),
    ] {
        world.write(name, code);
    }
}

/// One program of a story: found by its tag (and killed by pid when the
/// story ends), ready once its ready file exists.
pub struct Subject {
    pub tagged: Tagged,
    pub ready: PathBuf,
}

impl Subject {
    pub fn new(world: &Sandbox, label: &str) -> Subject {
        let tagged = Tagged::new(label);
        let ready = world.root().join(format!("{}.ready", tagged.tag));
        Subject { tagged, ready }
    }

    /// The program's two arguments, quoted for the shell: tag, ready file.
    pub fn args(&self) -> String {
        format!(
            "{} {}",
            quote(&self.tagged.tag),
            quote(&self.ready.to_string_lossy())
        )
    }

    /// Waits until the program has set up its signals; its pid.
    #[track_caller]
    pub fn wait_ready(&self) -> i32 {
        until(&format!("{} to be ready", self.tagged.tag), || {
            self.ready.exists().then_some(())
        });
        self.tagged.wait_program()
    }
}

/// What `hupsafe check --json` said.
#[derive(Debug)]
pub struct Verdicts {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: serde_json::Value,
}

impl Verdicts {
    /// The rows, in the order printed.
    pub fn rows(&self) -> Vec<serde_json::Value> {
        self.json["processes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The pids reported.
    pub fn pids(&self) -> Vec<i32> {
        self.rows()
            .iter()
            .filter_map(|r| r["pid"].as_i64().map(|p| p as i32))
            .collect()
    }

    #[track_caller]
    pub fn row(&self, pid: i32) -> serde_json::Value {
        self.rows()
            .into_iter()
            .find(|r| r["pid"].as_i64() == Some(pid as i64))
            .unwrap_or_else(|| panic!("check reported nothing for pid {pid}:\n{}", self.stdout))
    }

    #[track_caller]
    pub fn verdict(&self, pid: i32) -> String {
        self.row(pid)["verdict"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The reasons shown for `pid`, joined with "; ".
    #[track_caller]
    pub fn reasons(&self, pid: i32) -> String {
        self.row(pid)["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// The fixes suggested for `pid`, joined with "; ".
    #[track_caller]
    pub fn fixes(&self, pid: i32) -> String {
        self.row(pid)["fixes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// Asserts `pid`'s verdict, and that its reasons mention `needle`.
    #[track_caller]
    pub fn expect(&self, pid: i32, verdict: &str, needle: &str) {
        let got = self.verdict(pid);
        let reasons = self.reasons(pid);
        assert!(
            got == verdict && reasons.contains(needle),
            "pid {pid}: expected `{verdict}` with a reason mentioning {needle:?}, got `{got}`: \
             {reasons}\nwhole report:\n{}",
            self.stdout
        );
    }
}

/// Runs `hupsafe ARGS...` with `env` (only), stdin /dev/null: (status,
/// stdout, stderr).
pub fn hupsafe(env: &[(String, String)], args: &[String]) -> (i32, String, String) {
    let out = Command::new(hupsafe_bin())
        .env_clear()
        .envs(env.iter().cloned())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run hupsafe");
    (
        exit_code(out.status),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `hupsafe check --json PIDS...`, parsed.
pub fn check(env: &[(String, String)], pids: &[i32]) -> Verdicts {
    let mut args = vec!["check".to_string(), "--json".to_string()];
    args.extend(pids.iter().map(|p| p.to_string()));
    let (status, stdout, stderr) = hupsafe(env, &args);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("check --json is not JSON ({e}), status {status}:\n{stdout}\nstderr: {stderr}")
    });
    Verdicts {
        status,
        stdout,
        stderr,
        json,
    }
}

/// Whether `pid` is gone (dead, or a zombie) within [`PATIENCE`].
pub fn dies(pid: i32) -> bool {
    poll(PATIENCE, || (!procfs::is_alive(pid)).then_some(())).is_some()
}

/// Whether `pid` is alive and stays so: any SIGHUP sent to it has been
/// dealt with by the kernel (discarded, or delivered to a handler), and it
/// is still there half a second later.
pub fn stays_alive(pid: i32) -> bool {
    if poll(PATIENCE, || {
        procfs::signal_settled(pid, libc::SIGHUP).then_some(())
    })
    .is_none()
    {
        return false;
    }
    let end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < end {
        if !procfs::is_alive(pid) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    procfs::is_alive(pid)
}

/// Reads a file the story had a command write, waiting until it is
/// complete JSON.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    until(&format!("{} to hold JSON", path.display()), || {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    })
}
