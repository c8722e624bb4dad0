//! `hupsafe logs [-f] [-n N] ID`: a job's output, byte for byte as the
//! program wrote it to its terminal (so colours and `\r` progress bars
//! replay), optionally followed until the job ends, then exiting with its
//! status (as `hupsafe wait`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Duration;

use crate::error::{os_words, Error, Result, EXIT_BAD_INPUT};
use crate::registry::{find_job, Job};

use crate::args::LogsArgs;

/// How often `-f` looks for more output.
const FOLLOW_EVERY: Duration = Duration::from_millis(50);

pub fn run(args: &LogsArgs) -> Result<()> {
    let (registry, job) = find_job(&args.id)?;
    if args.follow && crate::registry::inside(&registry, &job) {
        return Err(Error::new(
            EXIT_BAD_INPUT,
            format!(
                "cannot follow job {} from inside it: what it prints would be \
                 printed again, forever (without -f, the log so far is printed)",
                job.id
            ),
        ));
    }
    // A capped log (`--log-max`) may have an older part, `log.1`: read
    // first, whole. Opened after the log, so a rotation in between shows
    // as `log.1` being the file just opened as the log.
    let mut log = job.open_log()?;
    let mut older = job.open_older_log();
    if let Some(o) = &older {
        if same_file(o, &log) {
            older = Some(std::mem::replace(&mut log, job.open_log()?));
        }
    }
    // Without -f, the log as it is now: printed from inside the job, it
    // grows as it is read.
    let end = log.metadata().map_err(|e| read_error(&job, &e))?.len();
    let mut older_end = match &older {
        Some(o) => o.metadata().map_err(|e| read_error(&job, &e))?.len(),
        None => 0,
    };
    if let Some(n) = args.lines {
        let (at, found) = start_of_last_lines(&mut log, n).map_err(|e| read_error(&job, &e))?;
        log.seek(SeekFrom::Start(at))
            .map_err(|e| read_error(&job, &e))?;
        match older.as_mut() {
            Some(o) if found < n => {
                // A line cut by the rotation is one line, not two.
                let split = found > 0 && !ends_with_newline(o);
                let more = n - found + u64::from(split);
                let (at, _) = start_of_last_lines(o, more).map_err(|e| read_error(&job, &e))?;
                o.seek(SeekFrom::Start(at))
                    .map_err(|e| read_error(&job, &e))?;
            }
            _ => older_end = 0,
        }
    }
    // Like cat: a closed pipe (`| head`) ends us quietly.
    crate::sys::startup::restore_sigpipe();
    let mut out = io::stdout().lock();
    let copied = |log: &mut File, limit: u64, out: &mut io::StdoutLock| {
        copy(log, limit, out).map_err(|e| match e.kind() {
            io::ErrorKind::Other => read_error(&job, &e),
            _ => Error::failure(format!("write error: {}", os_words(&e))),
        })
    };
    if let Some(o) = older.as_mut() {
        copied(o, older_end, &mut out)?;
    }
    loop {
        // Whether the job was over before this read: then this read gets
        // everything it will ever write.
        let over = !args.follow || job_is_over(&job);
        let limit = if args.follow { u64::MAX } else { end };
        copied(&mut log, limit, &mut out)?;
        if args.follow {
            // Rotated: the file we read is done growing; on to the new log
            // (what two rotations between looks carried away is not shown).
            if let Ok(now) = job.open_log() {
                if !same_file(&now, &log) {
                    copied(&mut log, u64::MAX, &mut out)?;
                    log = now;
                    continue;
                }
            }
            if over {
                // Ends like `hupsafe wait`: with the job's status.
                let end = super::ending::end_of(&job);
                let status = end.map_or(0, |end| {
                    if let Some(why) = &end.why {
                        say!("{why}");
                    }
                    end.status
                });
                std::process::exit(status);
            }
        }
        if over {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

fn ends_with_newline(f: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let len = f.metadata().map_or(0, |m| m.len());
    let mut last = [0u8];
    len == 0 || (f.read_at(&mut last, len - 1).is_ok() && last[0] == b'\n')
}

fn same_file(a: &File, b: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Forgotten meanwhile, or damaged, counts as over: nothing more will come.
fn job_is_over(job: &Job) -> bool {
    super::ending::end_of(job).is_some()
}

fn read_error(job: &Job, e: &io::Error) -> Error {
    Error::failure(format!(
        "cannot read '{}': {}",
        crate::sys::trusted::shown(&job.log_path()).display(),
        os_words(e)
    ))
}

/// Copies the log from where it is to its current end. Read errors come
/// back as `ErrorKind::Other`, write errors as themselves.
fn copy(log: &mut File, end: u64, out: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let at = log
            .stream_position()
            .map_err(|e| io::Error::other(os_words(&e)))?;
        let want = (end.saturating_sub(at)).min(buf.len() as u64) as usize;
        if want == 0 {
            break;
        }
        let n = match log.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io::Error::other(os_words(&e))),
        };
        out.write_all(&buf[..n])?;
    }
    out.flush()
}

/// The offset where the last `n` lines begin (a final line without a
/// newline counts as a line), reading backwards a block at a time; and how
/// many lines there are from there (fewer than `n` when the file has
/// fewer).
fn start_of_last_lines(f: &mut File, n: u64) -> io::Result<(u64, u64)> {
    let len = f.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok((len, 0));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    let mut newlines = 0u64;
    let mut skip_last = true;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] != b'\n' {
                skip_last = false;
                continue;
            }
            if skip_last {
                // The newline that ends the file ends the last line.
                skip_last = false;
                continue;
            }
            newlines += 1;
            if newlines == n {
                return Ok((start + i as u64 + 1, n));
            }
        }
        end = start;
    }
    // The first line has no newline before it.
    Ok((0, if len > 0 { newlines + 1 } else { 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str, n: u64) -> String {
        let dir = std::env::temp_dir().join(format!("hupsafe-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("t{n}-{}", text.len()));
        std::fs::write(&p, text).unwrap();
        let mut f = File::open(&p).unwrap();
        let (at, _) = start_of_last_lines(&mut f, n).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        text[at as usize..].to_string()
    }

    #[test]
    fn last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 5), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc\n", 0), "");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("\n\n", 1), "\n");
    }
}
