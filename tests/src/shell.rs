//! The shell-integration tests' harness: bash and zsh on real ptys with
//! `hupsafe init` sourced the way a user's rc file does, marks in a
//! private config directory, the test programs (a python and a node ticker
//! that print one numbered line at a time and do not ignore SIGHUP), and a
//! throwaway sshd on 127.0.0.1 whose `ssh -tt` client can be killed.
//!
//! Every process a story starts carries a unique tag in its arguments, is
//! found through `/proc` by it, and is killed by pid when the story ends.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cli::{hupsafe_bin, is_root};
use crate::procfs;
use crate::relay::{proc_state, Terminal, PROMPT};
use crate::sandbox::Sandbox;
use crate::wait::{poll, until, PATIENCE};

/// The shells the integration supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
}

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
        }
    }

    /// The shell's program, found on PATH (see [`crate::tools`]); None,
    /// after the skip line, when it is missing. Its Debian package has
    /// its name.
    #[track_caller]
    pub fn require(self) -> Option<PathBuf> {
        crate::tools::require_tool(self.name(), self.name())
    }

    /// The shell's program as found on PATH (its bare name when it is
    /// missing: running it then fails).
    pub fn program(self) -> PathBuf {
        which(self.name()).unwrap_or_else(|| PathBuf::from(self.name()))
    }

    /// The arguments of an interactive shell that reads no rc file.
    pub fn interactive_args(self) -> &'static [&'static str] {
        match self {
            Shell::Bash => &["--norc", "--noprofile", "-i"],
            Shell::Zsh => &["-f", "-i"],
        }
    }

    /// The strict, non-interactive way zoxide sources its scripts in tests.
    pub fn strict_args(self) -> &'static [&'static str] {
        match self {
            Shell::Bash => &["--noprofile", "--norc", "-e", "-u", "-o", "pipefail", "-c"],
            Shell::Zsh => &["-f", "-e", "-u", "-c"],
        }
    }
}

pub use crate::tools::which;

/// Python 3 for the test programs: the system one.
pub fn python3() -> &'static str {
    crate::relay::python3()
}

/// A python program that resets SIGHUP to its default (as many programs
/// do: plain nohup cannot save it), then prints `tick N` every 100 ms,
/// flushing each line (so a dead terminal's EIO kills it, as it does a
/// real program's print).
pub const PY_TICKER: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
for i in range(3000):
    print('tick %d' % i, flush=True)
    time.sleep(0.1)
";

/// `count.py TAG N LABEL`, for the protected-line stories: SIGHUP back to
/// its default, `tick 0` to `tick N-1` every 50 ms (flushed), then `done
/// LABEL`. TAG only marks its command line, so its process can be found.
pub const PY_COUNT: &str = "\
import signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)
n = int(sys.argv[2])
for i in range(n):
    print('tick %d' % i, flush=True)
    time.sleep(0.05)
print('done %s' % sys.argv[3], flush=True)
";

/// The same in node, which resets every inherited signal disposition at
/// start-up and dies of SIGHUP by default.
pub const NODE_TICKER: &str = "\
let i = 0;
const t = setInterval(() => {
  process.stdout.write('tick ' + i + '\\n');
  if (++i >= 3000) clearInterval(t);
}, 100);
";

/// A python program that copies its input to its output, prefixing each
/// line with `got `.
pub const PY_SINK: &str = "\
import signal, sys
signal.signal(signal.SIGHUP, signal.SIG_DFL)
for line in sys.stdin:
    print('got ' + line, end='', flush=True)
";

/// The shell stories' side of a [`Sandbox`]: its test programs, marks,
/// and interactive shells on ptys.
impl Sandbox {
    /// A sandbox for shell stories: `home/`, `lib/`, `config/` (marks),
    /// and `bin/` (first on PATH) with the interpreters by the names the
    /// stories type, whatever PATH the test runner had them on; the test
    /// programs `ticker.py`, `ticker.js` and `sink.py` in the root.
    pub fn with_programs(label: &str) -> Sandbox {
        let mut w = Sandbox::for_jobs(label);
        fs::create_dir_all(w.config_dir()).unwrap();
        fs::create_dir_all(w.bin_dir()).unwrap();
        w.set_programs();
        let python = which(python3()).unwrap_or_else(|| PathBuf::from(python3()));
        for (name, target) in [("python3", Some(python)), ("node", which("node"))] {
            if let Some(t) = target {
                std::os::unix::fs::symlink(t, w.bin_dir().join(name)).unwrap();
            }
        }
        w.write("ticker.py", PY_TICKER);
        w.write("ticker.js", NODE_TICKER);
        w.write("sink.py", PY_SINK);
        w
    }

    /// `hupsafe mark NAMES...`, which must succeed.
    #[track_caller]
    pub fn mark(&self, names: &[&str]) {
        let mut args = vec!["mark"];
        args.extend_from_slice(names);
        let (code, _, err) = self.run(&args);
        assert_eq!(code, 0, "hupsafe mark {names:?} failed: {err}");
    }

    /// The init script for `shell` as this world's hupsafe renders it.
    pub fn init_script(&self, shell: Shell, extra: &[&str]) -> String {
        let mut args = vec!["init", shell.name()];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run(&args);
        assert_eq!(code, 0, "hupsafe init {} failed: {err}", shell.name());
        out
    }

    /// The line a user's rc file has: `eval "$(hupsafe init SHELL)"`.
    pub fn init_line(&self, shell: Shell) -> String {
        format!(
            "eval \"$({} init {})\"",
            quote(&hupsafe_bin().to_string_lossy()),
            shell.name()
        )
    }

    /// An interactive `shell` on a new pty, in this world, with the init
    /// line run and its prompt showing.
    pub fn open(&self, shell: Shell) -> Session {
        let mut s = self.open_plain(shell);
        let line = self.init_line(shell);
        s.run(&line);
        s
    }

    /// [`Sandbox::open`] after writing [`PY_COUNT`] as `count.py` and
    /// marking `python3`: where most protected-line stories start.
    pub fn open_counting(&self, shell: Shell) -> Session {
        self.open_counting_or_plain(shell, true)
    }

    /// With `count.py` written: [`Sandbox::open_counting`] when
    /// `protected`, else the control, [`Sandbox::open_plain`] (no
    /// integration, nothing marked).
    pub fn open_counting_or_plain(&self, shell: Shell, protected: bool) -> Session {
        self.write("count.py", PY_COUNT);
        if protected {
            self.mark(&["python3"]);
            self.open(shell)
        } else {
            self.open_plain(shell)
        }
    }

    /// An interactive `shell` on a new pty without the integration.
    pub fn open_plain(&self, shell: Shell) -> Session {
        let mut cmd = Command::new(shell.program());
        cmd.args(shell.interactive_args())
            .env_clear()
            .envs(self.env())
            .env("PS1", PROMPT)
            .env("PS2", "")
            .env("HISTFILE", "/dev/null")
            .current_dir(self.root());
        Session::on(Terminal::spawn(cmd), shell)
    }

    /// The relay job of the program tagged `tag` (its log keeps the output).
    pub fn job_log(&self, tag: &str) -> PathBuf {
        let id = self.job_tagged(tag).id();
        self.job_dir(&id).join("log")
    }
}

/// Quotes a word for bash and zsh.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// An interactive shell on a pty, and the test typing into it.
pub struct Session {
    pub term: Terminal,
    pub shell: Shell,
    syncs: u32,
}

impl Session {
    pub fn on(mut term: Terminal, shell: Shell) -> Session {
        term.expect(PROMPT);
        Session {
            term,
            shell,
            syncs: 0,
        }
    }

    /// Types `line` and waits until the shell is back at its prompt. Never
    /// types ahead: a relayed command takes whatever is typed while it runs
    /// as its own input.
    pub fn run(&mut self, line: &str) {
        self.term.type_line(line);
        self.term.expect(PROMPT);
    }

    /// Types `line` (a job) without waiting for anything.
    pub fn start(&mut self, line: &str) {
        self.term.type_line(line);
    }

    /// Waits until the shell has run everything typed so far: it echoes a
    /// marker that only its output (not the echo of the typed line) shows.
    pub fn sync(&mut self) {
        self.syncs += 1;
        let n = self.syncs;
        self.term
            .type_line(&format!("echo hupsafe-sync-\"{n}\"-done"));
        self.term.expect(&format!("hupsafe-sync-{n}-done"));
        self.term.expect(PROMPT);
    }

    /// Output shown since the last expectation, up to and including `needle`.
    pub fn expect(&mut self, needle: &str) -> String {
        self.term.expect(needle)
    }

    /// Runs `line` and returns `$?` as the shell reports it.
    pub fn status_of(&mut self, line: &str) -> i32 {
        let s = self.term.status_of(line);
        self.term.expect(PROMPT);
        s
    }

    /// Ctrl-Z, then waits for the shell's prompt.
    pub fn suspend(&mut self) {
        self.term.send(b"\x1a");
        self.term.expect(PROMPT);
    }

    /// Closes the master (the terminal window closes, or sshd drops the
    /// connection) and waits for the shell to end.
    pub fn hang_up(&mut self) -> i32 {
        self.term.hang_up();
        self.term.wait()
    }

    pub fn transcript(&self) -> String {
        self.term.transcript()
    }
}

/// The live processes carrying `tag`, killed by pid when dropped.
pub struct Tagged {
    pub tag: String,
}

impl Tagged {
    pub fn new(label: &str) -> Tagged {
        Tagged {
            tag: crate::unique_tag(label),
        }
    }

    /// Live (non-zombie) processes whose arguments carry the tag.
    pub fn pids(&self) -> Vec<i32> {
        procfs::find_by_tag(&self.tag)
    }

    /// The tagged program itself (not a hupsafe carrying the tag in its
    /// own arguments): the process whose argv[0] is not hupsafe's.
    pub fn programs(&self) -> Vec<i32> {
        let me = hupsafe_bin().to_string_lossy().into_owned();
        self.pids()
            .into_iter()
            .filter(|p| procfs::cmdline(*p).is_some_and(|a| a.first().is_some_and(|a0| *a0 != me)))
            .collect()
    }

    /// Waits until the tagged program runs; its pid.
    #[track_caller]
    pub fn wait_program(&self) -> i32 {
        until(&format!("a program tagged {}", self.tag), || {
            self.programs().first().copied()
        })
    }

    /// Whether every process carrying the tag is gone within `PATIENCE`.
    pub fn all_gone(&self) -> bool {
        poll(PATIENCE, || self.pids().is_empty().then_some(())).is_some()
    }
}

impl Drop for Tagged {
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: kill by pid of a process found by our unique tag.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The highest `tick N` in `text`.
pub fn last_tick(text: &str) -> Option<u32> {
    text.split("tick ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            // A number cut short by the end of the text is not a tick yet.
            (digits.len() < rest.len())
                .then(|| digits.parse().ok())
                .flatten()
        })
        .max()
}

/// Waits until the file at `path` shows a tick beyond `after`: the program
/// writing it is alive and its output is kept.
#[track_caller]
pub fn wait_tick_beyond(path: &Path, after: u32) -> u32 {
    let mut last = None;
    poll(PATIENCE, || {
        let text = String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned();
        last = last_tick(&text);
        last.filter(|&t| t > after)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} never went beyond tick {after} (last seen: {last:?})",
            path.display()
        )
    })
}

/// Whether `pid` is stopped (state T).
pub fn is_stopped(pid: i32) -> bool {
    proc_state(pid) == Some('T')
}

/// Sends SIGCONT to `pid`.
pub fn cont(pid: i32) {
    // SAFETY: kill(2) to a process the test started, found by its tag.
    unsafe { libc::kill(pid, libc::SIGCONT) };
}

/// The OpenSSH programs, as the test found them with
/// [`crate::tools::require_tool`].
pub struct SshTools {
    pub sshd: PathBuf,
    pub ssh: PathBuf,
    pub keygen: PathBuf,
}

impl SshTools {
    /// sshd, ssh and ssh-keygen from PATH; None, after the skip line for
    /// the first one missing, when one is.
    pub fn require() -> Option<SshTools> {
        use crate::tools::require_tool;
        Some(SshTools {
            sshd: require_tool("sshd", "openssh-server")?,
            ssh: require_tool("ssh", "openssh-client")?,
            keygen: require_tool("ssh-keygen", "openssh-client")?,
        })
    }
}

/// A throwaway sshd on 127.0.0.1: its own host key, an authorized key for
/// the current user, a free port; started and stopped by the test, by pid.
pub struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Child,
    ssh: PathBuf,
}

impl Sshd {
    /// Starts sshd in `dir` (which must exist) and waits until it accepts
    /// connections.
    pub fn start(tools: &SshTools, dir: &Path) -> Sshd {
        let keygen = |name: &str| {
            let out = Command::new(&tools.keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "hupsafe-test", "-f"])
                .arg(dir.join(name))
                .stdin(Stdio::null())
                .output()
                .expect("cannot run ssh-keygen");
            assert!(
                out.status.success(),
                "ssh-keygen failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        keygen("host_key");
        keygen("user_key");
        fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys")).unwrap();
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile none\n\
             UsePAM no\n\
             StrictModes no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\n\
             PermitUserEnvironment no\n\
             LogLevel DEBUG1\n",
            dir = dir.display()
        );
        fs::write(dir.join("sshd_config"), config).unwrap();
        // sshd needs its privilege-separation directory; CI creates it.
        if is_root() {
            let _ = fs::create_dir_all("/run/sshd");
        }
        let child = Command::new(&tools.sshd)
            .arg("-D")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start sshd");
        let mut sshd = Sshd {
            dir: dir.to_path_buf(),
            port,
            child,
            ssh: tools.ssh.clone(),
        };
        let ready = poll(PATIENCE, || {
            if let Ok(Some(s)) = sshd.child.try_wait() {
                panic!("sshd exited ({s}); its log:\n{}", sshd.log());
            }
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        assert!(
            ready.is_some(),
            "sshd never listened on port {port}:\n{}",
            sshd.log()
        );
        sshd
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// `ssh -tt` to this sshd as the current user, running `remote` (a
    /// shell command line), with the test's throwaway key.
    pub fn ssh(&self, remote: &str) -> Command {
        self.ssh_with("-tt", remote)
    }

    /// [`Sshd::ssh`] with `ssh -T`: no terminal on the remote side (what
    /// `ssh host cmd` does when the local side is not a terminal).
    pub fn ssh_without_tty(&self, remote: &str) -> Command {
        self.ssh_with("-T", remote)
    }

    fn ssh_with(&self, tty: &str, remote: &str) -> Command {
        let mut c = Command::new(&self.ssh);
        c.arg(tty)
            .args(["-F", "/dev/null"])
            .arg("-i")
            .arg(self.dir.join("user_key"))
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "BatchMode=yes",
                "-p",
            ])
            .arg(self.port.to_string())
            .arg(format!("{}@127.0.0.1", current_user()))
            .arg(remote)
            .env("TERM", "dumb");
        c
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // SAFETY: terminating the sshd we started, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if poll(Duration::from_secs(5), || {
            self.child.try_wait().ok().flatten().map(|_| ())
        })
        .is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The login name of the current user (from the password database).
pub fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; the
    // name is copied out at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        assert!(!pw.is_null(), "the current user has no passwd entry");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("cannot bind 127.0.0.1:0")
        .port()
}

/// Writes an executable script.
pub fn write_script(path: &Path, text: &str) {
    let mut f = fs::File::create(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs a story and its control at the same time (each hangs up its own
/// shell), then fails with the first one's failure, if any: the two take
/// the time of one.
pub fn side_by_side(story: impl FnOnce() + Send, control: impl FnOnce() + Send) {
    std::thread::scope(|scope| {
        let a = scope.spawn(story);
        let b = scope.spawn(control);
        let (ra, rb) = (a.join(), b.join());
        for r in [ra, rb] {
            if let Err(e) = r {
                std::panic::resume_unwind(e);
            }
        }
    });
}
