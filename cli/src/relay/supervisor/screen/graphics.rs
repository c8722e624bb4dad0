//! Line drawing as the program sent it. Curses draws boxes on xterm-like
//! terminals with the DEC special graphics set (`ESC ( 0`, then `lqqk`);
//! avt turns those letters into the Unicode box characters they look
//! like, and a drawing made from its cells would show `┌──┐` where the
//! program sent `ESC ( 0 lqqk ESC ( B`. Both look the same on xterm, tmux
//! or VTE, but not on a terminal that ignores charsets in UTF-8 (as
//! Markus Kuhn's UTF-8 FAQ advises, and pyte does): there the program
//! itself shows `lqqk`, and so must its reattached screen. So, before the
//! text reaches avt, each character printed while the graphics set is in
//! use becomes a stand-in of its own, which avt keeps as is; the drawing
//! writes it back as the program sent it (docs/SCREEN-MODEL.md, §5).

use super::escapes::{State, Step};

/// The stand-ins: the last page of Supplementary Private Use Area-B, past
/// the clusters' stand-ins (`cluster.rs` uses its first 4096), one per
/// character the graphics set changes (0x60-0x7e, as avt's table).
const FIRST: u32 = 0x10_FF00;
const LOW: u8 = 0x60;
const HIGH: u8 = 0x7e;

#[derive(Default, Debug)]
pub struct Graphics {
    /// G0 and G1 hold the graphics set.
    sets: [bool; 2],
    /// Shifted out (SO): G1 is in use.
    shifted: bool,
    state: State,
    /// A stand-in was ever made (a drawing must be written back).
    used: bool,
}

/// The character the program sent for stand-in `c`, if `c` is one.
pub fn original(c: char) -> Option<u8> {
    let b = (c as u32).checked_sub(FIRST)?;
    (LOW as u32..=HIGH as u32).contains(&b).then_some(b as u8)
}

impl Graphics {
    pub fn used(&self) -> bool {
        self.used
    }

    /// Rewrites `text` (the next stretch of output, escape sequences
    /// included, in order after the last) for avt: characters printed
    /// while the graphics set is in use become stand-ins. `designates`:
    /// the stretch chooses the graphics set ([`super::Notable`]).
    pub fn map(&mut self, text: &mut String, designates: bool) {
        // Most output never chooses the graphics set (curses' `ESC ( B`
        // with every change of colour keeps it out): nothing to walk,
        // unless the last stretch ended in an escape this one makes a
        // designation of. Where a stretch not walked ends matters only if
        // it ends in such an escape; inside a sequence, the next walk
        // starts in the ground state (a designation inside a string cut
        // by a read's end would be misread: rare).
        if !self.sets[0] && !self.sets[1] && !designates {
            let completes = match self.state {
                State::Escape(None) => text.starts_with(['(', ')']),
                State::Escape(Some('(' | ')')) => text.starts_with('0'),
                _ => false,
            };
            if !completes {
                self.state = match text.as_bytes() {
                    [.., 0x1b] => State::Escape(None),
                    [.., 0x1b, c @ (b'(' | b')')] => State::Escape(Some(*c as char)),
                    _ => State::Ground,
                };
                return;
            }
        }
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            out.push(self.next(c));
        }
        *text = out;
    }

    /// One character of the stream: what avt gets in its place.
    fn next(&mut self, c: char) -> char {
        match self.state.next(c) {
            Step::Printed => {
                let set = self.sets[usize::from(self.shifted)];
                if set && (LOW as char..=HIGH as char).contains(&c) {
                    self.used = true;
                    return char::from_u32(FIRST + c as u32).unwrap_or(c);
                }
            }
            Step::Control => match c {
                '\x0e' => self.shifted = true,
                '\x0f' => self.shifted = false,
                _ => {}
            },
            Step::Escape(Some('('), f) => self.sets[0] = f == '0',
            Step::Escape(Some(')'), f) => self.sets[1] = f == '0',
            // RIS, and DECSTR (the soft reset).
            Step::Escape(None, 'c') | Step::Csi(true, 'p') => self.reset(),
            _ => {}
        }
        c
    }

    fn reset(&mut self) {
        self.sets = [false, false];
        self.shifted = false;
    }
}

/// Writes `c` to `out` if it is a stand-in, as the program sent it: the
/// graphics set chosen before the first of a run, and left after its last
/// (`run` says whether a run is open).
pub fn write_back(c: char, run: &mut bool, out: &mut Vec<u8>) -> bool {
    match original(c) {
        Some(b) => {
            if !*run {
                out.extend_from_slice(b"\x1b(0");
                *run = true;
            }
            out.push(b);
            true
        }
        None => {
            end_run(run, out);
            false
        }
    }
}

/// Closes an open run of graphics characters.
pub fn end_run(run: &mut bool, out: &mut Vec<u8>) {
    if std::mem::take(run) {
        out.extend_from_slice(b"\x1b(B");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(g: &mut Graphics, s: &str) -> String {
        let mut t = s.to_string();
        let designates = super::super::Notable::of(&t).designation;
        g.map(&mut t, designates);
        t.chars()
            .map(|c| match original(c) {
                Some(b) => format!("<{}>", b as char),
                None => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn only_what_is_printed_in_the_graphics_set_is_stood_in_for() {
        let mut g = Graphics::default();
        assert_eq!(mapped(&mut g, "lqk"), "lqk");
        assert!(!g.used());
        assert_eq!(
            mapped(&mut g, "\x1b(0lq\x1b[1;31mk\x1b(Bx"),
            "\x1b(0<l><q>\x1b[1;31m<k>\x1b(Bx"
        );
        assert!(g.used());
        // G1 with shift out and in.
        assert_eq!(
            mapped(&mut g, "\x1b)0a\x0eqA~\x0fq"),
            "\x1b)0a\x0e<q>A<~>\x0fq"
        );
    }

    #[test]
    fn sequences_and_strings_are_left_alone() {
        let mut g = Graphics::default();
        assert_eq!(
            mapped(&mut g, "\x1b(0\x1b]2;title q\x07\x1b[38;5;100mq"),
            "\x1b(0\x1b]2;title q\x07\x1b[38;5;100m<q>"
        );
    }

    #[test]
    fn the_set_survives_a_stretch_cut_in_its_designation() {
        let mut g = Graphics::default();
        assert_eq!(mapped(&mut g, "ab\x1b"), "ab\x1b");
        assert_eq!(mapped(&mut g, "(0qq"), "(0<q><q>");
        assert_eq!(mapped(&mut g, "q"), "<q>", "still in the set");
    }

    #[test]
    fn a_walk_ending_inside_a_sequence_does_not_make_the_next_stretches_walked() {
        let mut g = Graphics::default();
        // Walked (a designation), ending inside a CSI.
        assert_eq!(mapped(&mut g, "\x1b(B\x1b[1;3"), "\x1b(B\x1b[1;3");
        let mut t = "1mq".to_string();
        g.map(&mut t, false);
        assert_eq!(g.state, State::Ground, "not walked: taken as ground");
        assert_eq!(mapped(&mut g, "\x1b(0q"), "\x1b(0<q>");
    }

    #[test]
    fn resets_leave_the_graphics_set() {
        let mut g = Graphics::default();
        assert_eq!(mapped(&mut g, "\x1b(0q\x1bcq"), "\x1b(0<q>\x1bcq");
        assert_eq!(mapped(&mut g, "\x1b(0q\x1b[!pq"), "\x1b(0<q>\x1b[!pq");
    }

    #[test]
    fn a_run_is_written_back_in_the_graphics_set() {
        let mut g = Graphics::default();
        let mut t = "\x1b(0lqk\x1b(B!".to_string();
        g.map(&mut t, true);
        // As avt's cells would give them back: the designations are gone.
        let cells: String = t.replace("\x1b(0", "").replace("\x1b(B", "");
        let (mut out, mut run) = (Vec::new(), false);
        for c in cells.chars() {
            if !write_back(c, &mut run, &mut out) {
                out.extend_from_slice(c.to_string().as_bytes());
            }
        }
        end_run(&mut run, &mut out);
        assert_eq!(out, b"\x1b(0lqk\x1b(B!");
    }
}
