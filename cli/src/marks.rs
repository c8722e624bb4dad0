//! The marks file: the commands that run protected when typed at an
//! interactive prompt (edited by `hupsafe mark`, `unmark`; read by `init`,
//! `check` and `doctor`). They live in a plain,
//! hand-editable file, one command name per line, that the shell hooks
//! (`hupsafe init`) read at every prompt.
//!
//! The file is the single source of truth: no cache, no database. Edits
//! keep the user's comments and order; writes go to a temporary file that
//! is renamed over the old one, so a shell reading it at its prompt never
//! sees half a file.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{os_words, Error, Result};

/// What a new marks file starts with: it documents itself.
pub const HEADER: &str = "\
# hupsafe marks: commands that run protected (through `hupsafe run`) when
# you type them at an interactive bash or zsh prompt, once the shell has
# `eval \"$(hupsafe init bash)\"` (or zsh) in its rc file.
#
# One command name per line, as you type it (python, torchrun, make).
# Lines starting with # and blank lines are ignored. Edit this file by hand
# or with `hupsafe mark NAME` / `hupsafe unmark NAME`; every open shell
# picks up the change at its next prompt.
";

/// Words a mark can never be: the shells' keywords and builtins (a
/// function of that name would change the shell itself, and hupsafe can
/// only run programs), and hupsafe's own name (its shell function and
/// one-off prefix).
fn reserved(name: &str) -> bool {
    crate::sys::words::is_shell_word(name) || name == "hupsafe"
}

/// Why a word cannot be a mark, if it cannot.
pub fn invalid_reason(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an empty name".into());
    }
    if name.contains('/') {
        return Some(
            "a path: marks are command names as typed (e.g. python); \
             use the prefix (hs ./train.sh) for a program run by path"
                .into(),
        );
    }
    if reserved(name) {
        return Some("a shell keyword or builtin (or hupsafe's own name)".into());
    }
    if name.starts_with('-') {
        return Some("starts with '-'".into());
    }
    // Letters, digits and _ . + - only: the shells define a function of
    // this name, and the hooks refuse anything else in a hand-edited file,
    // so nothing in it can be shell syntax.
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
    {
        return Some("not a plain command name (letters, digits, and _ . + - only)".into());
    }
    None
}

/// One line of the marks file as the hooks read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A comment or a blank line, kept as written.
    Other(String),
    /// A command name (the whole line, surrounding blanks allowed).
    Mark(String),
    /// A line the hooks ignore because it is not a valid name.
    Invalid(String),
}

/// Splits the file into lines, as the shell hooks do: `#` starts a
/// comment only at the start of a line (after blanks); a name is the line
/// with surrounding blanks removed.
pub fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .map(|raw| {
            let t = raw.trim_matches([' ', '\t']);
            if t.is_empty() || t.starts_with('#') {
                Line::Other(raw.to_string())
            } else if invalid_reason(t).is_none() {
                Line::Mark(t.to_string())
            } else {
                Line::Invalid(raw.to_string())
            }
        })
        .collect()
}

/// The marked names, in file order, without duplicates.
pub fn names(lines: &[Line]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        if let Line::Mark(n) = l {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
    }
    out
}

/// The configuration directory: `$HUPSAFE_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/hupsafe`, else `$HOME/.config/hupsafe` (relative or
/// empty values are ignored, as the XDG spec says).
pub fn config_dir() -> Result<PathBuf> {
    crate::sys::dirs::CONFIG.resolve()
}

/// The names marked now (none when there is no marks file yet), or `None`
/// when the marks file cannot be found or read (no HOME, no permission).
/// Bytes that are not UTF-8 (a Latin-1 comment) do not hide the names.
pub fn load_names() -> Option<Vec<String>> {
    let text = read(&marks_path().ok()?).ok()?;
    Some(names(&parse(&text)))
}

/// The marks file: `marks` in [`config_dir`].
pub fn marks_path() -> Result<PathBuf> {
    Ok(config_dir()?.join("marks"))
}

/// The file's text; empty when it does not exist yet.
pub fn read(path: &Path) -> Result<String> {
    match fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::failure(format!(
            "cannot read the marks file '{}': {}",
            path.display(),
            os_words(&e)
        ))),
    }
}

/// Writes `text` to `path` through a temporary file and a rename, keeping
/// the old file's permissions.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        Error::io(format_args!("{what} '{}'", p.display()), &e)
    };
    let dir = path.parent().expect("the marks file lives in a directory");
    // Checked with its parents and opened once; the file is replaced
    // through the open directory.
    let w = CONFIG_DIR.open_checked(dir, Some(0o700), 0o022)?;
    let at = crate::sys::trusted::through(&w.fd, path.file_name().unwrap_or_default());
    // Keep the mode the user gave the file; a new one is private.
    let mode = fs::symlink_metadata(&at).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    crate::sys::private_dir::replace_file(&at, text.as_bytes(), mode, true)
        .map_err(|e| fail("write the marks file", path, e))
}

/// The configuration directory: whoever can write it chooses which
/// commands the shell runs through hupsafe.
const CONFIG_DIR: crate::sys::private_dir::Private = crate::sys::private_dir::Private {
    what: "the marks file",
    stakes: "whoever can change it chooses what your shell runs and how",
    fix: "remove it, or set HUPSAFE_CONFIG_DIR to a directory of your own",
};

pub fn render(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        match l {
            Line::Other(t) | Line::Invalid(t) => s.push_str(t),
            Line::Mark(n) => s.push_str(n),
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_words() {
        for ok in [
            "python",
            "python3.11",
            "g++",
            "x86_64-linux-gnu-gcc",
            "7z",
            "_x",
        ] {
            assert_eq!(invalid_reason(ok), None, "{ok}");
        }
        for bad in [
            "", "a b", "a/b", "./x", "-x", "$(x)", "a;b", "cd", "time", "hupsafe", "x=1", "a'b",
            "é",
        ] {
            assert!(invalid_reason(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn parse_keeps_comments_and_flags_garbage() {
        let lines = parse("# c\n  python  \n\nrm -rf /\nmake\npython\n");
        assert_eq!(names(&lines), ["python", "make"]);
        assert_eq!(lines[3], Line::Invalid("rm -rf /".into()));
        assert_eq!(render(&lines), "# c\npython\n\nrm -rf /\nmake\npython\n");
    }
}
