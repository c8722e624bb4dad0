//! `hupsafe doctor [CMD]`: is this environment ready to keep programs
//! alive through a hangup, and, given a command, what protection it would
//! get. Checks the shim (installed privately, and really loadable: a child
//! runs with it and comes out with SIGHUP ignored), the shell integration
//! and the marks, the relay's job registry, logind (KillUserProcesses,
//! linger) and ptrace's Yama scope (for rescue).

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::args::DoctorArgs;
use crate::error::{write_stdout, Error, Result, EXIT_BAD_INPUT, EXIT_NOT_SAFE};
use crate::sys::elf::{self, Concern, Format};
use crate::sys::logind::{self, Settings};
use crate::sys::proc::{self, Table};

/// How a finding weighs.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    /// Advice: nothing is at risk because of it.
    Note,
    /// Programs are at risk because of it.
    AtRisk,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Note => "note",
            Level::AtRisk => "at risk",
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Finding {
    pub topic: &'static str,
    pub level: Level,
    pub text: String,
    /// What to do about it.
    pub fix: Option<String>,
}

fn finding(topic: &'static str, level: Level, text: impl Into<String>) -> Finding {
    Finding {
        topic,
        level,
        text: text.into(),
        fix: None,
    }
}

impl Finding {
    fn fix(mut self, f: impl Into<String>) -> Finding {
        self.fix = Some(f.into());
        self
    }
}

/// `hupsafe doctor [CMD]`.
pub fn run(args: &DoctorArgs) -> Result<()> {
    // The command first: a name that is not there is bad input, reported
    // before anything else is done.
    let predicted = args.command.first().map(command).transpose()?;
    let mut found = vec![
        shim(),
        shell(),
        marks_finding(),
        wrap_finding(),
        jobs(),
        logind_finding(),
        ptrace(),
    ];
    found.extend(predicted);
    let status = if found.iter().any(|f| f.level == Level::AtRisk) {
        EXIT_NOT_SAFE
    } else {
        0
    };
    let text = if args.json {
        #[derive(Serialize)]
        struct Report<'a> {
            findings: &'a [Finding],
            status: i32,
        }
        let mut s = serde_json::to_string_pretty(&Report {
            findings: &found,
            status,
        })
        .map_err(|e| Error::failure(format!("cannot write JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        let mut s = String::new();
        for f in &found {
            s.push_str(&format!("{:<8} {:<8} {}", f.topic, f.level.word(), f.text));
            if let Some(fix) = &f.fix {
                s.push_str(&format!(". Fix: {fix}"));
            }
            s.push('\n');
        }
        s
    };
    write_stdout(text.as_bytes())?;
    if status != 0 {
        std::process::exit(status);
    }
    Ok(())
}

/// The shim: installed where it should be, private, and loadable.
fn shim() -> Finding {
    let path = match crate::sys::preload::install() {
        Ok(p) => p,
        Err(e) => {
            return finding(
                "shim",
                Level::AtRisk,
                format!("cannot be used: {}", e.message),
            )
        }
    };
    let shown = path.display();
    // A loader that cannot load or link the shim says so on stderr, or the program dies
    // (docs/HANGUPS.md, "Interposer rules"): run a trivial one with it.
    match run_preloaded(&path, Path::new("/bin/true"), &[]) {
        Ok((0, _, err)) if err.is_empty() => {}
        Ok((code, _, err)) => {
            return finding(
                "shim",
                Level::AtRisk,
                format!(
                    "{shown} is installed but does not load cleanly: /bin/true with it \
                     exited {code}{}",
                    if err.is_empty() {
                        String::new()
                    } else {
                        format!(" saying: {}", err.trim())
                    }
                ),
            )
            .fix(format!("remove {shown}; hupsafe writes it again"))
        }
        Err(e) => {
            return finding(
                "shim",
                Level::AtRisk,
                format!("{shown}: cannot run /bin/true to try it: {e}"),
            )
        }
    }
    // Loaded is not enough: its constructor must leave SIGHUP ignored in
    // a program that started with it at the default.
    let cat = ["/bin/cat", "/usr/bin/cat"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let armed = cat.map(|cat| {
        run_preloaded(&path, cat, &["/proc/self/status"]).map(|(_, out, _)| {
            out.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .is_some_and(|m| m & proc::sigbit(libc::SIGHUP) != 0)
        })
    });
    match armed {
        Some(Ok(false)) => finding(
            "shim",
            Level::AtRisk,
            format!(
                "{shown} loads, but a program started with it (cat) did not have SIGHUP \
                 ignored"
            ),
        ),
        _ => finding(
            "shim",
            Level::Ok,
            format!(
                "{shown}: {}, and it loads (a child started with it has SIGHUP ignored)",
                if path.starts_with(crate::sys::preload::SYSTEM_LIB_DIR) {
                    "root's, readable by every user a program of root's may become"
                } else {
                    "private to you"
                }
            ),
        ),
    }
}

/// Runs `program ARGS` with the shim preloaded and SIGHUP at its default:
/// (status, stdout, stderr).
fn run_preloaded(
    shim: &Path,
    program: &Path,
    args: &[&str],
) -> std::io::Result<(i32, String, String)> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LD_PRELOAD", shim)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only signal() and sigprocmask(), both
    // async-signal-safe, on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGHUP);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait()?;
    Ok((status.code().unwrap_or(128), out, err))
}

/// The shell that ran us, if one did: the nearest ancestor that is a
/// shell.
fn calling_shell() -> Option<(i32, String)> {
    let table = Table::read();
    table
        .ancestors(std::process::id() as i32)
        .into_iter()
        .filter_map(|p| {
            table
                .get(p)
                .map(|s| (p, s.comm.trim_start_matches('-').to_string()))
        })
        .find(|(_, c)| matches!(c.as_str(), "bash" | "zsh" | "sh" | "dash" | "fish" | "ksh"))
}

/// The shell integration. Its script exports HUPSAFE_SHELL_PID=$$, so a
/// child can tell whether the shell that started it loaded it; otherwise
/// look at the rc file a new shell reads, and say how to check this one.
fn shell() -> Finding {
    let Some((pid, name)) = calling_shell() else {
        return finding(
            "shell",
            Level::Note,
            "not started from a shell, so there is no shell integration to check",
        )
        .fix("run `hupsafe doctor` at your shell's prompt");
    };
    if std::env::var("HUPSAFE_SHELL_PID").is_ok_and(|v| v == pid.to_string()) {
        return finding(
            "shell",
            Level::Ok,
            format!(
                "this {name} (pid {pid}) has loaded the integration: marked commands typed at \
                 its prompt run protected"
            ),
        );
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (rc, probe) = match name.as_str() {
        "bash" => (
            home.map(|h| h.join(".bashrc")),
            "declare -F __hupsafe_prompt",
        ),
        "zsh" => (
            std::env::var_os("ZDOTDIR")
                .map(PathBuf::from)
                .or(home)
                .map(|h| h.join(".zshrc")),
            "whence -w __hupsafe_prompt",
        ),
        _ => {
            return finding(
                "shell",
                Level::Note,
                format!(
                    "your shell is {name} (pid {pid}); the integration exists for bash and zsh \
                     only: prefix commands with `hupsafe` yourself"
                ),
            )
        }
    };
    let init_line = format!("eval \"$(hupsafe init {name})\"");
    let Some(rc) = rc else {
        return finding(
            "shell",
            Level::Note,
            format!("{name} (pid {pid}): HOME is not set, so no rc file to look at"),
        );
    };
    let has_init = std::fs::read_to_string(&rc).is_ok_and(|t| {
        t.lines().any(|l| {
            !l.trim_start().starts_with('#') && l.contains("hupsafe") && l.contains(" init")
        })
    });
    if has_init {
        finding(
            "shell",
            Level::Ok,
            format!(
                "{} runs `hupsafe init {name}`, so new interactive {name} shells load the \
                 integration (this one, pid {pid}, has it if `{probe}` prints a name)",
                rc.display()
            ),
        )
    } else {
        finding(
            "shell",
            Level::Note,
            format!(
                "{} does not run `hupsafe init {name}`: marked commands typed at the prompt \
                 are not protected (this shell, pid {pid}, has it only if `{probe}` prints a \
                 name)",
                rc.display()
            ),
        )
        .fix(format!("add {init_line} to the end of {}", rc.display()))
    }
}

fn marks_finding() -> Finding {
    let path = match crate::marks::marks_path() {
        Ok(p) => p,
        Err(e) => return finding("marks", Level::Note, e.message),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let names = crate::marks::names(&crate::marks::parse(&text));
            if names.is_empty() {
                finding(
                    "marks",
                    Level::Note,
                    format!("{}: no command is marked", path.display()),
                )
                .fix("hupsafe mark NAME (e.g. hupsafe mark python3 torchrun)")
            } else {
                finding(
                    "marks",
                    Level::Ok,
                    format!("{}: {}", path.display(), names.join(", ")),
                )
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => finding(
            "marks",
            Level::Note,
            format!("no marks file ({}): no command is marked", path.display()),
        )
        .fix("hupsafe mark NAME (e.g. hupsafe mark python3 torchrun)"),
        Err(e) => finding(
            "marks",
            Level::Note,
            format!(
                "{}: cannot be read: {}",
                path.display(),
                crate::error::os_words(&e)
            ),
        ),
    }
}

/// The wrap directory, which `hupsafe init` puts first on PATH: the
/// user's own and writable by nobody else, with every directory above it.
fn wrap_finding() -> Finding {
    let dir = match crate::sys::dirs::WRAP.resolve() {
        Ok(d) => d,
        Err(e) => return finding("wrap", Level::Note, e.message),
    };
    if std::fs::symlink_metadata(&dir).is_err() {
        return finding(
            "wrap",
            Level::Ok,
            format!("no wrap directory yet ('{}')", dir.display()),
        );
    }
    match crate::sys::private_dir::wrap_dir_checked(&dir, false) {
        Ok(_) => finding(
            "wrap",
            Level::Ok,
            format!("'{}' is yours and only you can write it", dir.display()),
        ),
        Err(e) => finding(
            "wrap",
            Level::AtRisk,
            format!("{} (`hupsafe init` leaves it off PATH)", e.message),
        ),
    }
}

/// The relay's registry: usable, and how many jobs live.
fn jobs() -> Finding {
    match crate::registry::Registry::open() {
        Err(e) => finding(
            "jobs",
            Level::AtRisk,
            format!("{} (the relay cannot keep output without it)", e.message),
        ),
        Ok(None) => finding(
            "jobs",
            Level::Ok,
            "no relayed job yet (the job directory is created on first use)",
        ),
        Ok(Some(reg)) => {
            let (list, skipped) = reg.list();
            let live = list
                .iter()
                .filter_map(|j| j.read_record().ok())
                .filter(|r| r.status().is_live())
                .count();
            let mut text = format!("{} job(s) recorded, {live} alive", list.len());
            if !skipped.is_empty() {
                text.push_str(&format!(
                    "; {} entr{} skipped (see hupsafe ps)",
                    skipped.len(),
                    if skipped.len() == 1 { "y" } else { "ies" }
                ));
            }
            finding("jobs", Level::Ok, text)
        }
    }
}

fn logind_finding() -> Finding {
    let settings = Settings::read();
    let uid = rustix::process::getuid().as_raw();
    let user = proc::user_name(uid).unwrap_or_else(|| uid.to_string());
    let lingers = logind::lingers(&user);
    let linger = if lingers {
        format!("linger for {user}: on")
    } else {
        format!("linger for {user}: off")
    };
    let running = Path::new("/run/systemd/system").exists();
    let mut text = format!("{}; {linger}", settings.describe());
    if !running {
        text.push_str(" (systemd is not running here, so logind kills nothing)");
        return finding("logind", Level::Ok, text);
    }
    match settings.kills(&user) {
        Some(false) => finding("logind", Level::Ok, text),
        kills => {
            if kills.is_none() {
                text.push_str(": logind may kill your session's processes when you log out");
            } else {
                text.push_str(": logind kills your session's processes when you log out");
            }
            finding("logind", Level::AtRisk, text).fix(
                "start long jobs outside the session scope: `systemd-run --user --scope CMD`, \
                 plus `loginctl enable-linger` to outlive your last login",
            )
        }
    }
}

/// Yama's ptrace_scope decides whether `rescue` can reach a process.
fn ptrace() -> Finding {
    let scope = crate::sys::proc::ptrace_scope();
    let root = rustix::process::geteuid().is_root();
    match scope {
        None => finding(
            "ptrace",
            Level::Ok,
            "no Yama ptrace restrictions: rescue can reach your processes",
        ),
        Some(0) => finding(
            "ptrace",
            Level::Ok,
            "ptrace_scope=0: rescue can reach your processes",
        ),
        Some(1) if root => finding(
            "ptrace",
            Level::Ok,
            "ptrace_scope=1, and you are root: rescue can reach any process",
        ),
        Some(1) => finding(
            "ptrace",
            Level::Note,
            "ptrace_scope=1: only a process's ancestors may trace it, so rescue \
             will need sudo (or CAP_SYS_PTRACE) for a program started elsewhere",
        ),
        Some(n) => finding(
            "ptrace",
            Level::Note,
            format!(
                "ptrace_scope={n}: {}, so rescue will not be able to reach running \
                 programs",
                if n == 2 {
                    "only root may trace"
                } else {
                    "no process may trace another"
                }
            ),
        ),
    }
}

/// What protection `cmd` would get under hupsafe.
fn command(cmd: &OsString) -> Result<Finding> {
    let name = cmd.to_string_lossy().into_owned();
    let path = match crate::sys::exec::find_program(cmd) {
        crate::sys::exec::Lookup::Program(p) => p,
        crate::sys::exec::Lookup::Missing => {
            return Err(Error::new(
                EXIT_BAD_INPUT,
                format!("doctor: '{name}': command not found"),
            ))
        }
        crate::sys::exec::Lookup::NotRunnable(p, why) => {
            return Err(Error::new(
                EXIT_BAD_INPUT,
                format!("doctor: '{}' cannot be run: {why}", p.display()),
            ))
        }
    };
    let target = elf::inspect(&path).map_err(|e| {
        Error::new(
            EXIT_BAD_INPUT,
            format!(
                "doctor: cannot read '{}': {}",
                path.display(),
                crate::error::os_words(&e)
            ),
        )
    })?;
    let (ruid, rgid) = crate::sys::elf::real_ids();
    let concerns = target.concerns(ruid, rgid);
    let what = describe(&target);
    let base = Path::new(&name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let marked = crate::marks::load_names().is_some_and(|names| names.contains(&base));
    let mark_note = if marked {
        "; marked, so typed at a prompt with the integration it runs protected"
    } else {
        ""
    };
    if concerns.is_empty() {
        let mut f = finding(
            "command",
            Level::Ok,
            format!(
                "{what}: the shim loads into it, so SIGHUP stays ignored whatever it does; \
                 with its output on a terminal, hupsafe relays it and the output outlives \
                 the terminal too{mark_note}"
            ),
        );
        if !marked && !name.contains('/') && crate::marks::invalid_reason(&base).is_none() {
            f = f.fix(format!(
                "run it as `hupsafe {name} ...`, or `hupsafe mark {base}` to have it \
                 protected when typed at the prompt"
            ));
        }
        return Ok(f);
    }
    let reasons: Vec<String> = concerns.iter().map(|c| c.to_string()).collect();
    let strict = concerns.iter().any(|c| matches!(c, Concern::Static));
    let mut fix = format!(
        "`HUPSAFE_RELAY=1 hupsafe {name}` runs it on a terminal of its own, which no hangup \
         of yours reaches"
    );
    if strict {
        fix.push_str(&format!(
            "; `hupsafe run --strict -- {name}` (seccomp) makes the kernel turn the change \
             into a no-op"
        ));
    }
    Ok(finding(
        "command",
        Level::AtRisk,
        format!(
            "{what}: it {}: only the inherited SIG_IGN protects it, and the program can take \
             SIGHUP back by setting its own handler{mark_note}",
            reasons.join(", and it ")
        ),
    )
    .fix(fix))
}

/// "/usr/bin/python3.11 (64-bit ELF, dynamically linked, glibc)".
fn describe(t: &elf::Target) -> String {
    let mut s = t.path.display().to_string();
    let mut cur = t;
    while let Format::Script(sc) = &cur.format {
        match sc.runs.as_deref() {
            Some(next) => {
                s.push_str(&format!(" (a script run by {})", next.path.display()));
                cur = next;
            }
            None => {
                s.push_str(&format!(
                    " (a script for {}, which cannot be inspected)",
                    sc.interpreter.display()
                ));
                return s;
            }
        }
    }
    if let Format::Elf(e) = &cur.format {
        let link = if e.is_static() {
            "statically linked".to_string()
        } else if e.is_musl() {
            "dynamically linked, musl".to_string()
        } else {
            "dynamically linked".to_string()
        };
        s.push_str(&format!(" ({}-bit ELF, {link})", e.class.bits()));
    }
    let mut bits = Vec::new();
    if cur.setuid {
        bits.push("setuid");
    }
    if cur.setgid {
        bits.push("setgid");
    }
    if cur.capabilities {
        bits.push("file capabilities");
    }
    if !bits.is_empty() {
        s.push_str(&format!(" [{}]", bits.join(", ")));
    }
    s
}
