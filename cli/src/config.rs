//! The config file, `$XDG_CONFIG_HOME/hupsafe/config` (the directory as
//! for the marks file: `HUPSAFE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hupsafe`,
//! else `~/.config/hupsafe`): defaults for job options, written by hand.
//!
//! ```text
//! # hupsafe's defaults
//! log_max = 100M        # keep about this much of each job's log (K, M, G)
//! keep_finished = 7d    # remove finished jobs older than this (s, m, h, d)
//! notify = on           # announce each job's end at the shells' prompts
//! scrollback = 10000     # lines `attach` draws above a job's screen
//! ```
//!
//! One `key = value` a line; `#` starts a comment; blank lines are fine. A
//! line that cannot be used (an unknown key, a bad value) is named on
//! stderr and skipped, the rest of the file still applies: a broken config
//! file never fails a run. An unreadable one gets one note; a missing one
//! is the same as an empty one.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file's name in the config directory.
pub const FILE: &str = "config";

/// What the config file sets; `None` where it says nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Config {
    /// `log_max`: the default cap on each job's log, in bytes.
    pub log_max: Option<u64>,
    /// `keep_finished`: finished jobs older than this are removed when a
    /// job starts.
    pub keep_finished: Option<Duration>,
    /// `notify`: announce every relayed job's end (as `--notify`).
    pub notify: Option<bool>,
    /// `scrollback`: lines of a job's screen model kept above its screen,
    /// drawn on attach (else [`SCROLLBACK`]).
    pub scrollback: Option<usize>,
}

/// The default `scrollback`.
pub const SCROLLBACK: usize = 10_000;
/// The largest `scrollback` (the ring is also bounded in bytes).
pub const SCROLLBACK_MAX: usize = 100_000;

/// The config file's path, if there is a place for it.
pub fn path() -> Option<PathBuf> {
    crate::sys::dirs::CONFIG
        .resolve()
        .ok()
        .map(|d| d.join(FILE))
}

impl Config {
    /// Reads the config file, printing what is wrong with it on stderr.
    pub fn load() -> Config {
        let Some(path) = path() else {
            return Config::default();
        };
        let (config, complaints) = Config::read(&path);
        for c in complaints {
            say!("{c}");
        }
        config
    }

    /// The config file at `path`, and what is wrong with it (each a line
    /// for stderr).
    pub fn read(path: &Path) -> (Config, Vec<String>) {
        match std::fs::read(path) {
            Ok(bytes) => Config::parse(&String::from_utf8_lossy(&bytes), path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), Vec::new()),
            Err(e) => (
                Config::default(),
                vec![format!(
                    "note: ignoring the config file '{}': {}",
                    path.display(),
                    crate::error::os_words(&e)
                )],
            ),
        }
    }

    /// Parses the text of the file at `path` (named in the complaints).
    pub fn parse(text: &str, path: &Path) -> (Config, Vec<String>) {
        let mut config = Config::default();
        let mut complaints = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{}:{}", path.display(), n + 1);
            let Some((key, value)) = line.split_once('=') else {
                complaints.push(format!(
                    "{at}: ignored: expected `key = value`, got '{}'",
                    crate::sys::words::visible(line)
                ));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let done = match key {
                "log_max" => parse_size(value).map(|v| config.log_max = Some(v)),
                "keep_finished" => parse_age(value).map(|v| config.keep_finished = Some(v)),
                "notify" => parse_switch(value).map(|v| config.notify = Some(v)),
                "scrollback" => parse_lines(value).map(|v| config.scrollback = Some(v)),
                _ => Err(format!(
                    "unknown key '{}' (known: log_max, keep_finished, notify, scrollback)",
                    crate::sys::words::visible(key)
                )),
            };
            if let Err(why) = done {
                complaints.push(format!("{at}: ignored: {why}"));
            }
        }
        (config, complaints)
    }
}

/// `12h` as (12, "h"): the leading whole number and what follows it,
/// white space around either ignored; None without a number (or one too
/// large for u64).
fn number_and_unit(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let digits = t.bytes().take_while(|b| b.is_ascii_digit()).count();
    let n = t[..digits].parse().ok()?;
    Some((n, t[digits..].trim()))
}

/// A size: a whole number of bytes, or with a suffix K, M, G or T (powers
/// of 1024; `KB`, `KiB`, `k` mean the same). Zero is refused: a log of no
/// bytes is no log.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "'{}' is not a size: give a number of bytes with K, M or G, e.g. 500K, 10M, 1G",
            crate::sys::words::visible(s)
        )
    };
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let unit = unit.to_ascii_uppercase();
    let shift = match unit.as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    let v = n.checked_mul(1u64 << shift).ok_or_else(bad)?;
    if v == 0 {
        return Err(
            "a size of 0 would keep no log; give at least 1K (e.g. 10M), or leave the option out"
                .into(),
        );
    }
    Ok(v)
}

/// An age: a whole number with s, m, h or d (seconds, minutes, hours,
/// days), e.g. 90m, 7d.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "'{}' is not an age: give a number with s, m, h or d, e.g. 12h, 7d",
            crate::sys::words::visible(s)
        )
    };
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).map(Duration::from_secs).ok_or_else(bad)
}

/// A number of scrollback lines, 0 to [`SCROLLBACK_MAX`].
pub fn parse_lines(s: &str) -> Result<usize, String> {
    match number_and_unit(s) {
        Some((n, "")) if n <= SCROLLBACK_MAX as u64 => Ok(n as usize),
        _ => Err(format!(
            "'{}' is not a number of lines: give 0 to {SCROLLBACK_MAX}, e.g. 10000",
            crate::sys::words::visible(s)
        )),
    }
}

/// `on` or `off` (also yes/no, true/false, 1/0).
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!(
            "'{}' is not on or off",
            crate::sys::words::visible(s)
        )),
    }
}

/// A byte count for people: `1.2 GB`, `512 KB`, `37 bytes`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ];
    for (name, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if v < 10.0 {
                format!("{v:.1} {name}")
            } else {
                format!("{v:.0} {name}")
            };
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500K"), Ok(500 << 10));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "M", "10X", "-1M", "1.5M", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let zero = parse_size("0M").unwrap_err();
        assert!(zero.contains("size of 0"), "{zero}");
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        for bad in ["", "7", "d", "7w", "1.5h"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_line_is_named_and_the_rest_applies() {
        let text = "# defaults\n\nlog_max = 2M  # small\nfrobnicate = yes\nkeep_finished=3d\n\
                    log_max = lots\njust words\n";
        let (c, complaints) = Config::parse(text, Path::new("/c/config"));
        assert_eq!(
            c.log_max,
            Some(2 << 20),
            "the bad later line does not undo it"
        );
        assert_eq!(c.keep_finished, Some(Duration::from_secs(3 * 86400)));
        assert_eq!(complaints.len(), 3, "{complaints:?}");
        assert!(complaints[0].starts_with("/c/config:4: "), "{complaints:?}");
        assert!(complaints[0].contains("frobnicate"), "{complaints:?}");
        assert!(complaints[1].starts_with("/c/config:6: "), "{complaints:?}");
        assert!(complaints[2].starts_with("/c/config:7: "), "{complaints:?}");
    }

    #[test]
    fn missing_is_empty_and_unreadable_is_one_note() {
        let dir = tempfile::tempdir().unwrap();
        let (c, complaints) = Config::read(&dir.path().join("none"));
        assert_eq!((c, complaints.len()), (Config::default(), 0));
        // A directory cannot be read as a file.
        let (c, complaints) = Config::read(dir.path());
        assert_eq!(c, Config::default());
        assert_eq!(complaints.len(), 1, "{complaints:?}");
        assert!(complaints[0].starts_with("note: ignoring the config file"));
    }

    #[test]
    fn scrollback_lines() {
        assert_eq!(parse_lines("10000"), Ok(10_000));
        assert_eq!(parse_lines(" 0 "), Ok(0));
        for bad in ["", "lots", "10k", "-1", "100001"] {
            let why = parse_lines(bad).unwrap_err();
            assert!(why.contains("0 to 100000"), "{why}");
        }
        let (c, complaints) = Config::parse("scrollback = 500\n", Path::new("c"));
        assert_eq!((c.scrollback, complaints.len()), (Some(500), 0));
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(37), "37 bytes");
        assert_eq!(human_bytes(1288490188), "1.2 GB");
        assert_eq!(human_bytes(100 << 20), "100 MB");
    }
}
