//! What the supervisor does once a job's final record is written: the
//! notification line (`--notify`), and the user's on-exit command
//! (`--on-exit CMD`). Neither can hold the supervisor up or cost the
//! record: the line is one append, the command is started detached and
//! never waited for.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::registry::{Job, Record};
use crate::sys::trusted::shown;

/// The notifications file's name in the state directory.
pub const NOTIFICATIONS: &str = "notifications";

/// Past this size the file starts again (the shells then show what the new
/// one holds: they remember how many lines they have shown).
const NOTIFICATIONS_MAX: u64 = 16 * 1024;

/// The notifications file: `STATE/notifications`, reached from the job's
/// directory (`STATE/jobs/ID`, which may be `/proc/self/fd/N/ID` with N the
/// descriptor of `jobs/`: `..` is resolved on the directories themselves).
pub fn notifications_path(job: &Job) -> PathBuf {
    job.dir.join("..").join("..").join(NOTIFICATIONS)
}

/// The line the shells print: `hupsafe: job 3 (python3 train.py) exited 0
/// after 3h12m`. Nothing from the program or the command line reaches the
/// terminal unescaped.
pub fn line(r: &Record) -> String {
    let command = crate::sys::words::visible(&r.shown_command());
    let command = if command.chars().count() > 60 {
        let mut c: String = command.chars().take(59).collect();
        c.push('…');
        c
    } else {
        command
    };
    let took = r
        .ended_ms
        .unwrap_or(r.started_ms)
        .saturating_sub(r.started_ms);
    let name = r.name.as_deref().map_or(String::new(), |n| {
        format!(" '{}'", crate::sys::words::visible(n))
    });
    format!(
        "hupsafe: job {}{name} ({command}) {} after {}\n",
        r.id,
        r.describe(),
        duration(took)
    )
}

/// `3s`, `3m12s`, `3h12m`, `4d06h`: a job's time in `ps` and in the
/// end-of-job notification.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// Appends the job's line to the notifications file (one `write` on an
/// `O_APPEND` file: lines of several jobs never mix). Errors are ignored:
/// the record says how the job ended whatever becomes of the line.
pub fn notify(job: &Job, r: &Record) {
    let path = notifications_path(job);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() > NOTIFICATIONS_MAX) {
        let _ = std::fs::remove_file(&path);
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path);
    if let Ok(mut f) = file {
        let _ = f.write_all(line(r).as_bytes());
    }
}

/// Starts the on-exit command, detached: `sh -c CMD` in a session of its
/// own, stdin, stdout and stderr on /dev/null, with the job's id, status,
/// log and command in `HUPSAFE_JOB_*`. Never waited for: one that hangs
/// holds nothing up, one that fails costs nothing.
pub fn on_exit(job: &Job, r: &Record, cmd: &str) {
    let status = r
        .shell_status()
        .map_or_else(|| r.describe(), |s| s.to_string());
    let log: PathBuf = shown(&job.log_path());
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .env("HUPSAFE_JOB_ID", &r.id)
        .env("HUPSAFE_JOB_STATUS", status)
        .env("HUPSAFE_JOB_STATE", r.describe())
        .env("HUPSAFE_JOB_LOG", log)
        .env("HUPSAFE_JOB_COMMAND", r.command.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Where the job ran, if it is still there.
    if std::path::Path::new(&r.cwd).is_dir() {
        c.current_dir(&r.cwd);
    }
    // SAFETY: setsid is async-signal-safe; the supervisor is single-threaded.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    // Dropped without a wait: the supervisor exits soon, and init reaps it.
    let _ = c.spawn();
}

/// Checks an on-exit command before the job starts: not empty, short
/// enough for the record, and when it starts with a plain word (no shell
/// syntax), that word names a program on PATH or a shell builtin, so a
/// typo is caught now rather than when the job ends, hours later.
pub fn check_command(cmd: &str) -> Result<(), String> {
    let cmd = cmd.trim();
    if cmd.is_empty() {
        return Err("the command is empty; give one, e.g. --on-exit 'notify-send done'".into());
    }
    if crate::registry::clip(cmd, crate::registry::MESSAGE_MAX_JSON) != cmd {
        return Err(format!(
            "the command is longer than {} bytes; put it in a script and give the script",
            crate::registry::MESSAGE_MAX_JSON
        ));
    }
    let first = cmd.split_whitespace().next().unwrap_or("");
    let plain = first
        .chars()
        .all(|c| c.is_alphanumeric() || "-_./+,@%:".contains(c));
    if !plain || crate::sys::words::is_shell_word(first) {
        return Ok(());
    }
    use crate::sys::exec::{find_program, Lookup};
    match find_program(std::ffi::OsStr::new(first)) {
        Lookup::Program(_) => Ok(()),
        Lookup::Missing => Err(format!(
            "'{}' not found (not a program on PATH): the command would fail when the job ends",
            crate::sys::words::visible(first)
        )),
        Lookup::NotRunnable(p, why) => Err(format!("cannot run '{}': {why}", p.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::State;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(192_000), "3m12s");
        assert_eq!(duration(7_500_000), "2h05m");
        assert_eq!(duration(370_000_000), "4d06h");
    }

    #[test]
    fn the_line_says_which_job_how_it_ended_and_after_how_long() {
        let mut r = Record::new("3", &["python3".into(), "train.py".into()]);
        r.state = State::Exited;
        r.exit_code = Some(0);
        r.started_ms = 1_000;
        r.ended_ms = Some(1_000 + (3 * 3600 + 12 * 60) * 1000);
        assert_eq!(
            line(&r),
            "hupsafe: job 3 (python3 train.py) exited 0 after 3h12m\n"
        );
        // Words quoted as a shell would, and the name.
        r.command = vec!["sh".into(), "-c".into(), "exit 3".into()];
        r.name = Some("train".into());
        assert_eq!(
            line(&r),
            "hupsafe: job 3 'train' (sh -c 'exit 3') exited 0 after 3h12m\n"
        );
        r.name = None;
        r.command = vec!["evil\u{1b}]0;x\u{7}".into(), "x".repeat(100)];
        let l = line(&r);
        assert!(!l.trim_end().chars().any(|c| c.is_control()), "{l:?}");
        assert!(l.contains('…'), "{l}");
    }

    #[test]
    fn on_exit_commands_are_checked_before_the_job_starts() {
        assert_eq!(check_command("true"), Ok(()));
        assert_eq!(check_command("echo \"$HUPSAFE_JOB_ID\" >> /tmp/x"), Ok(()));
        assert_eq!(
            check_command("X=1 sh -c 'true'"),
            Ok(()),
            "shell syntax: sh decides"
        );
        let e = check_command("no-such-program-hupsafe x").unwrap_err();
        assert!(e.contains("'no-such-program-hupsafe' not found"), "{e}");
        assert!(check_command("  ").unwrap_err().contains("empty"));
        assert!(check_command(&"x".repeat(2000))
            .unwrap_err()
            .contains("script"));
    }
}
