//! xterm.js (`@xterm/headless`, run by node) as a second independent
//! terminal emulator, beside tmux (`tmux.rs`): it keeps what tmux
//! normalises away (a colour's 16- or 256-colour form, a written space
//! against a cell never written) and, unlike pyte, reads charsets, colons
//! and the alternate screen as xterm does. `tests/js/screen.js` feeds it a
//! byte stream and prints the screen; `.ci/run` installs the package
//! (`npm ci` in tests/js).

use std::path::PathBuf;
use std::process::Command;

use crate::tools::{require_tool, skip_because};

pub struct Xterm {
    node: PathBuf,
    script: PathBuf,
}

/// A screen as xterm.js shows it.
#[derive(Debug, PartialEq)]
pub struct XScreen {
    /// Each row's text, trailing empty cells left out.
    pub text: Vec<String>,
    /// Each cell: character (an empty one as a space), width, colour modes
    /// and values, attributes.
    pub cells: Vec<Vec<serde_json::Value>>,
    pub cursor: (u64, u64),
    /// "normal" or "alternate".
    pub buffer: String,
    pub modes: serde_json::Value,
}

impl Xterm {
    /// Node and the package, or the skip line (a panic under
    /// `HUPSAFE_TEST_REQUIRE_ALL=1`) and None.
    pub fn require() -> Option<Xterm> {
        let node = require_tool("node", "nodejs")?;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
        if !dir.join("node_modules/@xterm/headless").is_dir() {
            skip_because("xterm.js not installed", "cd tests/js && npm ci");
            return None;
        }
        Some(Xterm {
            node,
            script: dir.join("screen.js"),
        })
    }

    /// What a terminal of `cols` x `rows` shows after `bytes`.
    pub fn screen(&self, bytes: &[u8], cols: u16, rows: u16) -> XScreen {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), bytes).expect("write the stream");
        let out = Command::new(&self.node)
            .arg(&self.script)
            .arg(file.path())
            .arg(cols.to_string())
            .arg(rows.to_string())
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "screen.js failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("screen.js JSON");
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        XScreen {
            text: strings(&v["text"]),
            cells: v["cells"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|r| r.as_array().cloned().unwrap_or_default())
                        .collect()
                })
                .unwrap_or_default(),
            cursor: (
                v["cursor"][0].as_u64().unwrap_or(0),
                v["cursor"][1].as_u64().unwrap_or(0),
            ),
            buffer: v["buffer"].as_str().unwrap_or("").to_string(),
            modes: v["modes"].clone(),
        }
    }
}

impl XScreen {
    /// The first difference from `other` (rows' text, then cells, cursor,
    /// buffer, modes), if any.
    pub fn diff(&self, other: &XScreen) -> Option<String> {
        // Trailing blanks aside: a space a program wrote at a row's end and
        // a cell it never wrote are the same to the user, and the model
        // cannot tell them apart (the cells below take them alike).
        for (i, (a, b)) in self.text.iter().zip(&other.text).enumerate() {
            if a.trim_end() != b.trim_end() {
                return Some(format!("row {i}: {a:?} against {b:?}"));
            }
        }
        for (y, (a, b)) in self.cells.iter().zip(&other.cells).enumerate() {
            if let Some(x) = a.iter().zip(b).position(|(p, q)| p != q) {
                return Some(format!("cell {y},{x}: {} against {}", a[x], b[x]));
            }
        }
        if self.cursor != other.cursor {
            return Some(format!(
                "cursor {:?} against {:?}",
                self.cursor, other.cursor
            ));
        }
        if self.buffer != other.buffer {
            return Some(format!("buffer {} against {}", self.buffer, other.buffer));
        }
        if self.modes != other.modes {
            return Some(format!("modes {} against {}", self.modes, other.modes));
        }
        None
    }
}
