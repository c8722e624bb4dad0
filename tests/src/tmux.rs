//! tmux as the independent terminal emulator of the screen stories (issue
//! 16): a private tmux server whose windows run a job's raw log (the
//! reference) and `hupsafe attach` (what the model drew), compared cell by
//! cell from `capture-pane -e` and by the flags `display -p` shows (cursor,
//! alternate screen, keypad, mouse, scroll region, title). Captures are
//! read back into cells first: equal screens can be captured as different
//! bytes (DEC line drawing as SO/SI or as Unicode, `38;5;1` or `31`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::sandbox::Sandbox;

pub struct Tmux {
    bin: PathBuf,
    sock: PathBuf,
    env: Vec<(String, String)>,
}

/// What `display -p` shows of a pane's terminal state.
pub const FLAGS: &str = "cursor #{cursor_x},#{cursor_y} alt #{alternate_on} cursor-shown #{cursor_flag} \
decckm #{keypad_cursor_flag} keypad #{keypad_flag} \
mouse #{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_all_flag}#{mouse_sgr_flag} \
region #{scroll_region_upper},#{scroll_region_lower} insert #{insert_flag} wrap #{wrap_flag} \
origin #{origin_flag} title #{pane_title}";

impl Tmux {
    /// A tmux server private to `jobs` (its socket in the sandbox, no
    /// config file), with the sandbox's environment for its windows.
    pub fn new(bin: PathBuf, jobs: &Sandbox) -> Tmux {
        Tmux {
            bin,
            sock: jobs.root().join("tmux.sock"),
            env: jobs.env(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("-S")
            .arg(&self.sock)
            .arg("-f")
            .arg("/dev/null")
            .stdin(Stdio::null());
        c
    }

    /// Runs a tmux command; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .cmd()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux: {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A window of its own (a detached session `name`) of `cols` x `rows`
    /// running the shell command `command`.
    pub fn window(&self, name: &str, cols: u16, rows: u16, command: &str) {
        let (c, r) = (cols.to_string(), rows.to_string());
        self.run(&["new-session", "-d", "-s", name, "-x", &c, "-y", &r, command]);
        // Windows stay when their command ends, to be looked at.
        self.run(&["set-option", "-t", name, "remain-on-exit", "on"]);
    }

    /// A window showing the raw log at `log` as it grows: the reference.
    pub fn reference(&self, name: &str, cols: u16, rows: u16, log: &Path) {
        // tail's notes (no inotify left on a busy machine: it polls then)
        // must not land on the screen.
        let cmd = format!(
            "stty raw -echo; exec tail -c +1 -s 0.1 -f '{}' 2>/dev/null",
            log.display()
        );
        self.window(name, cols, rows, &cmd);
    }

    pub fn resize(&self, name: &str, cols: u16, rows: u16) {
        let (c, r) = (cols.to_string(), rows.to_string());
        self.run(&["resize-window", "-t", name, "-x", &c, "-y", &r]);
    }

    /// Types tmux key names into window `name`.
    pub fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend(keys);
        self.run(&args);
    }

    pub fn flags(&self, name: &str) -> String {
        self.run(&["display-message", "-p", "-t", name, FLAGS])
            .trim_end()
            .to_string()
    }

    /// The visible screen of window `name`, as cells.
    pub fn screen(&self, name: &str) -> Screen {
        Screen::parse(&self.run(&["capture-pane", "-p", "-e", "-N", "-t", name]))
    }

    /// The plain text of window `name`.
    pub fn text(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", name])
    }
}

/// The server ends with its windows (their programs get SIGHUP). It must
/// be dropped before the sandbox that holds its socket.
impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colour {
    #[default]
    Default,
    Index(u8),
    Rgb(u8, u8, u8),
}

/// A cell's rendition, whatever SGR spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pen {
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub blink: bool,
    pub reverse: bool,
    pub hidden: bool,
    pub strike: bool,
    pub fg: Colour,
    pub bg: Colour,
}

impl Pen {
    fn sgr(&mut self, params: &str) {
        let p: Vec<u32> = params
            .split([';', ':'])
            .map(|s| s.parse().unwrap_or(0))
            .collect();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                0 => *self = Pen::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                5 => self.blink = true,
                7 => self.reverse = true,
                8 => self.hidden = true,
                9 => self.strike = true,
                21 | 22 => (self.bold, self.dim) = (false, false),
                23 => self.italic = false,
                24 => self.underline = false,
                25 => self.blink = false,
                27 => self.reverse = false,
                28 => self.hidden = false,
                29 => self.strike = false,
                n @ 30..=37 => self.fg = Colour::Index((n - 30) as u8),
                n @ 40..=47 => self.bg = Colour::Index((n - 40) as u8),
                n @ 90..=97 => self.fg = Colour::Index((n - 90 + 8) as u8),
                n @ 100..=107 => self.bg = Colour::Index((n - 100 + 8) as u8),
                39 => self.fg = Colour::Default,
                49 => self.bg = Colour::Default,
                n @ (38 | 48) => {
                    let c = match p.get(i + 1) {
                        Some(5) => {
                            i += 2;
                            Colour::Index(p.get(i).copied().unwrap_or(0) as u8)
                        }
                        Some(2) => {
                            let c = |k: usize| p.get(i + k).copied().unwrap_or(0) as u8;
                            let rgb = Colour::Rgb(c(2), c(3), c(4));
                            i += 4;
                            rgb
                        }
                        _ => Colour::Default,
                    };
                    if n == 38 {
                        self.fg = c;
                    } else {
                        self.bg = c;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// A screen: per row, its cells (a character with any combining marks,
/// and its pen), trailing default blanks left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Screen {
    pub rows: Vec<Vec<(String, Pen)>>,
}

/// DEC special graphics, as terminals draw them.
fn dec_graphics(c: char) -> char {
    match c {
        'j' => '┘',
        'k' => '┐',
        'l' => '┌',
        'm' => '└',
        'n' => '┼',
        'q' => '─',
        't' => '├',
        'u' => '┤',
        'v' => '┴',
        'w' => '┬',
        'x' => '│',
        'a' => '▒',
        '`' => '◆',
        '~' => '·',
        other => other,
    }
}

fn combining(c: char) -> bool {
    matches!(c as u32, 0x300..=0x36f | 0x200d | 0xfe0f | 0x20d0..=0x20ff)
}

impl Screen {
    /// Reads `capture-pane -p -e` output.
    pub fn parse(capture: &str) -> Screen {
        let mut rows = Vec::new();
        let mut pen = Pen::default();
        for line in capture.split('\n') {
            let mut row: Vec<(String, Pen)> = Vec::new();
            let mut graphics = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\x0e' => graphics = true,
                    '\x0f' => graphics = false,
                    '\x1b' => {
                        let mut seq = String::new();
                        match chars.next() {
                            Some('[') => {
                                for c in chars.by_ref() {
                                    if c.is_ascii_alphabetic() {
                                        if c == 'm' {
                                            pen.sgr(&seq);
                                        }
                                        break;
                                    }
                                    seq.push(c);
                                }
                            }
                            Some('(') => {
                                graphics = chars.next() == Some('0');
                            }
                            _ => {}
                        }
                    }
                    c if combining(c) => match row.last_mut() {
                        Some(cell) => cell.0.push(c),
                        None => row.push((c.to_string(), pen)),
                    },
                    c => {
                        let c = if graphics { dec_graphics(c) } else { c };
                        row.push((c.to_string(), pen));
                    }
                }
            }
            while row
                .last()
                .is_some_and(|(c, p)| c == " " && *p == Pen::default())
            {
                row.pop();
            }
            rows.push(row);
        }
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        Screen { rows }
    }

    pub fn text(&self) -> String {
        self.rows
            .iter()
            .map(|r| r.iter().map(|(c, _)| c.as_str()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The top-left `cols` x `rows` of the screen (cells, not columns:
    /// for screens without wide characters).
    pub fn crop(&self, cols: usize, rows: usize) -> Screen {
        let mut s = Screen {
            rows: self
                .rows
                .iter()
                .take(rows)
                .map(|r| r.iter().take(cols).cloned().collect())
                .collect(),
        };
        while s.rows.last().is_some_and(|r| r.is_empty()) {
            s.rows.pop();
        }
        s
    }

    /// Where two screens differ, for a failure message; None if equal.
    pub fn diff(&self, other: &Screen) -> Option<String> {
        let n = self.rows.len().max(other.rows.len());
        for i in 0..n {
            let (a, b) = (self.rows.get(i), other.rows.get(i));
            if a != b {
                let show = |r: Option<&Vec<(String, Pen)>>| {
                    r.map(|r| r.iter().map(|(c, _)| c.as_str()).collect::<String>())
                        .unwrap_or_default()
                };
                let col = match (a, b) {
                    (Some(a), Some(b)) => a.iter().zip(b).position(|(x, y)| x != y),
                    _ => None,
                };
                let pens = col.map(|c| (a.and_then(|a| a.get(c)), b.and_then(|b| b.get(c))));
                return Some(format!(
                    "row {i} differs (first at cell {col:?}: {pens:?}):\n  {:?}\n  {:?}",
                    show(a),
                    show(b)
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_screens_captured_differently_read_the_same() {
        let a = Screen::parse("\x0elqk\x0f x\x1b[38;5;1mred\x1b[39m e\u{301}   \n\n");
        let b = Screen::parse("┌─┐ x\x1b[31mred\x1b[0m e\u{301}");
        assert_eq!(a, b);
        assert_eq!(a.text(), "┌─┐ xred e\u{301}");
        let c = Screen::parse("┌─┐ x\x1b[1;31mred");
        assert!(a.diff(&c).is_some());
    }
}
