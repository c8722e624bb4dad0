//! Characters that take no cell of their own (combining marks such as the
//! accent of `e` + U+0301, zero-width joiners, variation selectors): a
//! terminal adds them to the cell before, but an avt cell holds one
//! character, and avt gives each of them a cell, which moves everything
//! after them on the line one column right. Before the text reaches avt, a
//! base character and the marks that follow it become one stand-in
//! character from a private-use plane, and the drawing writes the cluster
//! back in its place (docs/SCREEN-MODEL.md, "Limits and open items").

use std::collections::HashMap;

use unicode_width::UnicodeWidthChar;

use super::escapes::{State, Step};
use super::graphics::{self, Graphics};

/// The stand-ins: Supplementary Private Use Area-B, which fonts and
/// programs leave alone (Nerd Fonts use the BMP's area and plane 15).
const FIRST: u32 = 0x10_0000;
/// Distinct clusters kept; past it, marks are dropped (the columns stay
/// right, an accent is lost). Text is small: a cluster is a few bytes.
const MAX: usize = 4096;

#[derive(Default)]
pub struct Clusters {
    /// The line drawing characters' stand-ins, in the same text.
    graphics: Graphics,
    texts: Vec<String>,
    ids: HashMap<String, char>,
    /// Scratch: the text being rewritten.
    out: String,
}

/// Whether `c` takes no cell of its own on a terminal.
fn is_mark(c: char) -> bool {
    c.width() == Some(0) && c != '\0'
}

fn is_stand_in(c: char) -> bool {
    (FIRST..=FIRST + 0xFFFD).contains(&(c as u32))
}

impl Clusters {
    /// Rewrites `text` (the next stretch of the job's output, escape
    /// sequences included) for avt: a printed character followed at once
    /// by marks becomes one stand-in; a mark with no such character before
    /// it in this stretch (after a control, a sequence, a wide character,
    /// or at its start) is dropped. So is a stand-in the program itself
    /// wrote, unless it is a cluster of its own (never mistaken for ours).
    /// Then the line drawing characters become [`graphics`]' stand-ins
    /// (`designates`: the stretch may choose their set).
    pub fn fold(&mut self, text: &mut String, designates: bool) {
        self.fold_marks(text);
        self.graphics.map(text, designates);
    }

    fn fold_marks(&mut self, text: &mut String) {
        // (ASCII holds neither: a byte scan first, for floods of it.)
        if text.is_ascii() || !text.chars().any(|c| is_mark(c) || is_stand_in(c)) {
            return;
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        // Each stretch is taken to start in the ground state: a mark inside
        // a sequence cut by the end of the last one is rare, and costs at
        // most that mark.
        let mut state = State::Ground;
        // The last printed character's offset in `out`, if nothing has
        // been written since and it may take marks.
        let mut base: Option<usize> = None;
        for c in text.chars() {
            // (The final byte of a sequence is no character to mark.)
            let printed = state.next(c) == Step::Printed;
            if printed && is_mark(c) {
                if let Some(at) = base {
                    let before = out[at..].chars().next().expect("a base");
                    let mut cluster = String::new();
                    match self.text_of(before) {
                        Some(t) => cluster.push_str(t),
                        None => cluster.push(before),
                    }
                    cluster.push(c);
                    if let Some(id) = self.intern(cluster) {
                        out.truncate(at);
                        out.push(id);
                    }
                }
                // Dropped when there is no base (or no room for one more).
                continue;
            }
            if printed && is_stand_in(c) {
                match self.intern(c.to_string()) {
                    Some(id) => {
                        base = Some(out.len());
                        out.push(id);
                    }
                    None => base = None,
                }
                continue;
            }
            // Only a one-cell character takes marks: a stand-in is one cell.
            base = (printed && c.width() == Some(1)).then_some(out.len());
            out.push(c);
        }
        std::mem::swap(text, &mut out);
        self.out = out;
    }

    /// The cluster `c` stands for, if it is a stand-in of ours.
    pub(super) fn text_of(&self, c: char) -> Option<&str> {
        let i = (c as u32).wrapping_sub(FIRST) as usize;
        self.texts
            .get(i)
            .filter(|_| is_stand_in(c))
            .map(String::as_str)
    }

    /// The stand-in for `cluster`, a new one if needed (none when full).
    fn intern(&mut self, cluster: String) -> Option<char> {
        if let Some(&id) = self.ids.get(&cluster) {
            return Some(id);
        }
        if self.texts.len() >= MAX {
            return None;
        }
        let id = char::from_u32(FIRST + self.texts.len() as u32)?;
        self.texts.push(cluster.clone());
        self.ids.insert(cluster, id);
        Some(id)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether no stand-in was ever made (nothing to unfold).
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty() && !self.graphics.used()
    }

    /// Writes `text` (from avt: a dump or a line) to `out`, each stand-in
    /// as its cluster, and each of [`graphics`]' as the program sent it.
    pub fn unfold(&self, text: &[u8], out: &mut Vec<u8>) {
        let s = String::from_utf8_lossy(text);
        let mut utf8 = [0u8; 4];
        let mut run = false;
        for c in s.chars() {
            if graphics::write_back(c, &mut run, out) {
                continue;
            }
            match self.text_of(c) {
                Some(t) => out.extend_from_slice(t.as_bytes()),
                None => out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
            }
        }
        graphics::end_run(&mut run, out);
    }
}
