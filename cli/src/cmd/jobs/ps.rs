//! `hupsafe ps`: every job of this user, live and finished, from the
//! records alone (no lock, no supervisor asked), so it is fast and works
//! with supervisors gone.

use serde::Serialize;

use crate::error::{write_stdout, Result};
use crate::registry::{now_ms, Job, Record, Registry, Status};
use crate::relay::supervisor::ended::duration;
use crate::sys::words::visible;

use crate::args::PsArgs;

/// One line of `ps`.
#[derive(Serialize)]
struct Row {
    id: String,
    name: Option<String>,
    pid: Option<i32>,
    state: String,
    /// Lost, but the program still runs (its supervisor was killed).
    program_running: bool,
    /// The state as the table shows it.
    #[serde(skip)]
    described: String,
    /// The command as the table shows it (a protected line as typed).
    #[serde(skip)]
    shown: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    started_ms: u64,
    ended_ms: Option<u64>,
    elapsed_ms: u64,
    attached: u32,
    command: Vec<String>,
    cwd: String,
    log: String,
    bytes_logged: u64,
    bytes_lost: u64,
    log_error: Option<String>,
    error: Option<String>,
    log_max: Option<u64>,
    log_dropped: u64,
    notify: bool,
    on_exit: Option<String>,
    /// What `rerun` takes from the job beside `cwd`, `name`, `notify`,
    /// `on_exit` and `log_max`; `None` in the table (it costs two stats).
    #[serde(skip_serializing_if = "Option::is_none")]
    rerun: Option<Rerun>,
}

/// What `rerun` would reuse, as `ps --json` shows it. The environment's
/// values are never shown (they may hold secrets): only whether it is saved.
#[derive(Serialize)]
struct Rerun {
    /// The argv exactly as given is saved (else rerun runs `command` when
    /// it is whole, and refuses a protected command line).
    argv_saved: bool,
    /// The environment is saved (file `env` in the job's directory, 0600);
    /// else rerun uses the current one.
    env_saved: bool,
    /// The run options; `None` for a job that saved none (a protected
    /// command line, a rescued process, an older hupsafe).
    options: Option<Options>,
}

#[derive(Serialize)]
struct Options {
    strict: bool,
    quiet: bool,
    /// `auto` (relayed because a terminal was there) or `always` (`--relay`,
    /// `HUPSAFE_RELAY=1`, `-d`).
    relay: &'static str,
}

impl Row {
    /// `jobs_shown`: the real name of the directory every job is in (found
    /// once for all rows: it costs a readlink).
    /// `json`: with what `rerun` would reuse.
    fn new(job: &Job, r: Record, jobs_shown: Option<&std::path::Path>, json: bool) -> Row {
        let status = r.status();
        let rerun = json.then(|| {
            let (argv_saved, env_saved) = job.saved();
            Rerun {
                argv_saved,
                env_saved,
                options: r.options.map(|o| Options {
                    strict: o.strict,
                    quiet: o.quiet,
                    relay: if o.relay_always { "always" } else { "auto" },
                }),
            }
        });
        let (program_running, described) = (r.orphan().is_some(), r.describe());
        let shown = r.shown_command();
        let end = match status {
            Status::Exited(_) | Status::Killed(_) | Status::Failed => {
                r.ended_ms.unwrap_or(r.started_ms)
            }
            _ => now_ms(),
        };
        let (exit_code, signal) = match status {
            Status::Exited(c) => (Some(c), None),
            Status::Killed(s) => (None, Some(s)),
            Status::Stopped => (None, r.signal),
            _ => (None, None),
        };
        Row {
            id: r.id,
            name: r.name,
            pid: r.program.map(|p| p.pid),
            state: status.to_string(),
            program_running,
            described,
            shown,
            exit_code,
            signal,
            started_ms: r.started_ms,
            ended_ms: r.ended_ms,
            elapsed_ms: end.saturating_sub(r.started_ms),
            attached: if status.is_live() { r.attached } else { 0 },
            command: r.command,
            cwd: r.cwd,
            log: match jobs_shown {
                Some(d) => d.join(&job.id).join("log"),
                None => crate::sys::trusted::shown(&job.log_path()),
            }
            .to_string_lossy()
            .into_owned(),
            bytes_logged: r.bytes_logged,
            bytes_lost: r.bytes_lost,
            log_error: r.log_error,
            error: r.error,
            log_max: r.log_max,
            log_dropped: r.log_dropped,
            notify: r.notify,
            on_exit: r.on_exit,
            rerun,
        }
    }
}

pub fn run(args: &PsArgs) -> Result<()> {
    let mut rows = Vec::new();
    if let Some(registry) = Registry::open()? {
        let jobs = registry.list_reporting();
        let jobs_shown = jobs
            .first()
            .and_then(|j| j.dir.parent())
            .map(crate::sys::trusted::shown);
        for job in jobs {
            match job.read_record() {
                Ok(r) => rows.push(Row::new(&job, r, jobs_shown.as_deref(), args.json)),
                Err(why) => {
                    let hint = if job.is_leftover() {
                        " (left by a start that failed; hupsafe gc removes it)"
                    } else {
                        ""
                    };
                    say!(
                        "{}",
                        visible(&format!(
                            "skipping job {} ('{}'): {why}{hint}",
                            job.id,
                            crate::sys::trusted::shown(&job.dir).display()
                        ))
                    );
                }
            }
        }
    }
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&rows)
            .map_err(|e| crate::error::Error::failure(format!("{e}")))?;
        t.push('\n');
        t
    } else {
        table(&rows)
    };
    write_stdout(text.as_bytes())
}

fn table(rows: &[Row]) -> String {
    let header = [
        "ID", "NAME", "PID", "STATE", "STARTED", "ELAPSED", "ATTACHED", "COMMAND", "LOG",
    ];
    let mut cells: Vec<[String; 9]> = vec![header.map(str::to_string)];
    for r in rows {
        let mut state = r.described.clone();
        if r.bytes_lost > 0 {
            state.push_str(&format!(" ({} bytes not logged)", r.bytes_lost));
        }
        if r.log_dropped > 0 {
            state.push_str(&format!(
                " (log cut: {} dropped)",
                crate::config::human_bytes(r.log_dropped)
            ));
        }
        cells.push([
            r.id.clone(),
            r.name.clone().unwrap_or_else(|| "-".into()),
            r.pid.map_or("-".into(), |p| p.to_string()),
            state,
            local_time(r.started_ms),
            duration(r.elapsed_ms),
            if r.attached > 0 {
                r.attached.to_string()
            } else {
                "-".into()
            },
            shorten(&r.shown, 48),
            r.log.clone(),
        ]);
        // Nothing from the file system or the program reaches the
        // terminal as a control sequence.
        if let Some(row) = cells.last_mut() {
            for cell in row.iter_mut() {
                *cell = visible(cell);
            }
        }
    }
    let mut width = [0usize; 9];
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// `2026-11-23 22:41` in local time.
fn local_time(ms: u64) -> String {
    let t = (ms / 1000) as libc::time_t;
    // SAFETY: localtime_r fills `tm`; strftime writes at most the buffer's
    // length and NUL-terminates.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "-".into();
        }
        let mut buf = [0u8; 32];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%Y-%m-%d %H:%M".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_control_characters_as_escapes() {
        let rows = [Row {
            id: "1".into(),
            name: Some("\u{1b}[2Jname".into()),
            pid: None,
            state: "running".into(),
            program_running: false,
            described: "running".into(),
            shown: "\u{1b}]0;title\u{7}".into(),
            exit_code: None,
            signal: None,
            started_ms: 0,
            ended_ms: None,
            elapsed_ms: 0,
            attached: 0,
            command: vec!["\u{1b}]0;title\u{7}".into()],
            cwd: String::new(),
            log: "/tmp/\u{1b}[2J/\u{9b}31m/log".into(),
            bytes_logged: 0,
            bytes_lost: 0,
            log_error: None,
            error: None,
            log_max: None,
            log_dropped: 0,
            notify: false,
            on_exit: None,
            rerun: None,
        }];
        let t = table(&rows);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("/tmp/\\x1b[2J/\\u{9b}31m/log"), "{t}");
    }
}
