//! What the model becomes on the wire: a ring line as SGR text, the
//! attach render (reset, scrollback, screen, modes, title) and the restore
//! sequence a leaving client's terminal gets (docs/SCREEN-MODEL.md, §4).

use std::io::Write;

use super::escapes::{self, State, Step};
use super::palette;
use super::track::{Tracker, MODES};

/// Puts any terminal into a known state before a render: main screen,
/// default pen, no scroll region, origin, insert and wrap modes as at
/// power-on, ASCII charset, cursor visible, every input mode off.
pub const RESET: &[u8] =
    b"\x1b[?1049l\x1b[0m\x1b[r\x1b[?6l\x1b[4l\x1b[?7h\x1b(B\x1b)B\x0f\x1b[?25h\
\x1b[?1l\x1b>\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1005l\x1b[?1006l\
\x1b[?1015l\x1b[?1016l\x1b[?2004l";

/// Saves the user's title (xterm's title stack) before the job's is set.
pub const PUSH_TITLE: &[u8] = b"\x1b[22;0t";

/// Everything a job may have left set, undone, whatever the model says:
/// what a client writes when the supervisor could not tell it (the
/// connection dropped). Leaving an alternate screen that is not there
/// restores a saved cursor in xterm and xterm.js (home if none saved): the
/// cursor is saved first, which, on the main screen, that restore finds,
/// and on the alternate one goes to the alternate screen's own slot. Origin
/// mode is left alone: resetting it moves the cursor home (the note and
/// the prompt would land on the job's first rows), and with the margins
/// reset it places nothing differently.
pub const GENERIC_RESTORE: &[u8] = b"\x1b7\x1b[?1049l\x1b7\x1b[r\x1b8\x1b[4l\x1b[?7h\x1b(B\x0f\
\x1b[?25h\x1b[?1l\x1b>\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1005l\x1b[?1006l\
\x1b[?1015l\x1b[?1016l\x1b[?2004l\x1b[0m\x1b[23;0t\r\n";

/// The SGR sequence that sets `pen` from nothing.
pub fn sgr(pen: &avt::Pen, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\x1b[0");
    for (on, code) in [
        (pen.is_bold(), &b";1"[..]),
        (pen.is_faint(), b";2"),
        (pen.is_italic(), b";3"),
        (pen.is_underline(), b";4"),
        (pen.is_blink(), b";5"),
        (pen.is_inverse(), b";7"),
        (pen.is_strikethrough(), b";9"),
    ] {
        if on {
            out.extend_from_slice(code);
        }
    }
    for (colour, base, bright, long) in [
        (pen.foreground(), 30, 90, 38),
        (pen.background(), 40, 100, 48),
    ] {
        let _ = match colour {
            None => Ok(()),
            Some(avt::Color::Indexed(n)) if n < 8 => write!(out, ";{}", base + n as u32),
            Some(avt::Color::Indexed(n)) if n < 16 => write!(out, ";{}", bright + n as u32 - 8),
            Some(avt::Color::Indexed(n)) => write!(out, ";{long};5;{n}"),
            Some(avt::Color::RGB(c)) => match palette::original(c.r, c.g, c.b) {
                Some(n) => write!(out, ";{long};5;{n}"),
                None => write!(out, ";{long};2;{};{};{}", c.r, c.g, c.b),
            },
        };
    }
    out.push(b'm');
}

/// A screen row as text with SGR changes, trailing blanks left out; it
/// ends in the default pen only if its last cell has it.
pub fn format_line(line: &avt::Line, out: &mut Vec<u8>) {
    let cells = line.cells();
    let end = cells
        .iter()
        .rposition(|c| !c.is_default())
        .map_or(0, |i| i + 1);
    let default = avt::Pen::default();
    let mut pen = &default;
    let mut utf8 = [0u8; 4];
    for c in &cells[..end] {
        if c.width() == 0 {
            // The right half of a wide character.
            continue;
        }
        if c.pen() != pen {
            pen = c.pen();
            sgr(pen, out);
        }
        out.extend_from_slice(c.char().encode_utf8(&mut utf8).as_bytes());
    }
}

/// avt's dump with REP (`CSI n b`) written out: tmux repeats only ASCII
/// characters, GNU screen and the Linux console not at all. Colours are
/// written with semicolons, and blanks that end a row in the default pen
/// are left out: the screen was cleared, so they are blank anyway, and
/// left unwritten, as in the program's own output (an emulator such as
/// xterm.js tells a written space from a cell never written).
pub fn expand_rep(dump: &str, cols: usize, cursor: (usize, usize), out: &mut Vec<u8>) {
    let mut prev = ' ';
    let mut rest = dump;
    let mut pen = Sgr::default();
    let mut rows = Rows::new(cols, cursor);
    while let Some(at) = rest.find("\x1b[") {
        let (before, seq) = rest.split_at(at);
        rows.text(before, pen.is_default(), out);
        if let Some(c) = before.chars().last() {
            prev = c;
        }
        let digits = seq[2..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && seq.as_bytes().get(2 + digits) == Some(&b'b') {
            let n: usize = seq[2..2 + digits].parse().unwrap_or(0);
            let mut utf8 = [0u8; 4];
            let ch = prev.encode_utf8(&mut utf8);
            let repeated: String = std::iter::repeat_n(&*ch, n).collect();
            rows.text(&repeated, pen.is_default(), out);
            rest = &seq[3 + digits..];
        } else {
            rest = &seq[2..];
            let sgr = escapes::sgr_params(rest.as_bytes());
            if let Some(params) = sgr {
                let was_default = pen.is_default();
                pen.apply(&rest[..params]);
                if was_default && pen.is_default() && rows.blanks.is_some() {
                    // From the default pen to the default pen, after
                    // blanks that may go: nothing to say, and left out so
                    // that the blanks stay one run.
                    rest = &rest[params + 1..];
                    prev = ' ';
                    continue;
                }
                // Blanks in another pen are cells of their own.
                rows.blanks = None;
            } else {
                // The row's cells end here (the cursor is placed, a mode
                // set): its blanks in the default pen are left out.
                rows.row_end(pen.is_default(), out);
                rows.moved(cup(rest));
            }
            out.extend_from_slice(b"\x1b[");
            // Colours with semicolons, stand-ins in their own form.
            if let Some(params) = sgr.filter(|&n| rest[..n].contains(':')) {
                palette::write_back(&rest[..params], out);
                rest = &rest[params..];
            }
            // The rest of the sequence, to its final byte, as it is (its
            // parameters are not text of a row).
            let end = match rest.bytes().position(|b| !(0x20..=0x3f).contains(&b)) {
                Some(i) if (0x40..=0x7e).contains(&rest.as_bytes()[i]) => i + 1,
                // Cut short (not from avt): up to what is not ASCII.
                Some(i) => i,
                None => rest.len(),
            };
            out.extend_from_slice(&rest.as_bytes()[..end]);
            rest = &rest[end..];
            // A sequence is not a character to repeat.
            prev = ' ';
        }
    }
    rows.text(rest, pen.is_default(), out);
}

/// Follows the dump's text across the screen's rows, to leave out the
/// blanks that end a row in the default pen. Rows wrap where the text
/// reaches the last column (avt writes a soft-wrapped row with no CR LF
/// after it): blanks that began on an earlier row, or at the start of a
/// row the text wrapped into, are kept, or the wrap would not happen and
/// every row after would come out one higher.
struct Rows {
    cols: usize,
    row: usize,
    col: usize,
    /// The current row was entered by a wrap, not by CR LF or a move.
    wrapped_into: bool,
    /// Where the blanks `out` ends in begin (in `out`, and their column),
    /// and whether they may go.
    blanks: Option<(usize, usize, bool)>,
    /// The model's cursor (row, column): a blank or two right before it
    /// on its row were written (a prompt's last space), and are kept.
    cursor: (usize, usize),
}

impl Rows {
    fn new(cols: usize, cursor: (usize, usize)) -> Rows {
        Rows {
            cols: cols.max(1),
            row: 0,
            col: 0,
            wrapped_into: false,
            blanks: None,
            cursor,
        }
    }

    /// The row's cells end here (CR LF, or a sequence that is not SGR).
    fn row_end(&mut self, default_pen: bool, out: &mut Vec<u8>) {
        if let Some((from, col, true)) = self.blanks.take() {
            if default_pen {
                // The blanks right before the cursor stay, one or two: a
                // prompt's last space ("name? "), written by the program.
                // Further on, the cursor was more likely parked there
                // (curses leaves it at a row's end, or anywhere).
                let before = self.cursor.1.saturating_sub(col);
                let kept = if self.row == self.cursor.0 && before <= 2 {
                    before
                } else {
                    0
                };
                out.truncate((from + kept).min(out.len()));
            }
        }
    }

    /// The cursor was placed by a sequence: at (`row`, `col`) if it says.
    fn moved(&mut self, to: Option<(usize, usize)>) {
        match to {
            Some((row, col)) => (self.row, self.col) = (row, col),
            None => self.col = 0,
        }
        self.wrapped_into = false;
        self.blanks = None;
    }

    /// Text of the dump (no CSI in it).
    fn text(&mut self, text: &str, default_pen: bool, out: &mut Vec<u8>) {
        let mut utf8 = [0u8; 4];
        let mut chars = text.chars().peekable();
        // (Each piece of text starts in the ground state: the dump is cut
        // before each CSI only.)
        let mut state = State::Ground;
        while let Some(c) = chars.next() {
            if c == '\r' && state == State::Ground && chars.peek() == Some(&'\n') {
                chars.next();
                self.row_end(default_pen, out);
                out.extend_from_slice(b"\r\n");
                self.moved(Some((self.row + 1, 0)));
                continue;
            }
            if state.next(c) == Step::Printed {
                let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if w > 0 && self.col + w > self.cols {
                    self.col = 0;
                    self.row += 1;
                    self.wrapped_into = true;
                    if let Some((_, _, ok)) = self.blanks.as_mut() {
                        *ok = false;
                    }
                }
                if c == ' ' {
                    if self.blanks.is_none() {
                        let ok = self.col > 0 || !self.wrapped_into;
                        self.blanks = Some((out.len(), self.col, ok));
                    }
                } else if w > 0 {
                    self.blanks = None;
                }
                self.col += w;
            } else {
                // A control, or part of ESC 7, ESC ( 0...: no cell. (ESC 8
                // moves the cursor, but avt's dump prints no cell after one.)
                self.blanks = None;
            }
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
}

/// Where a cursor position sequence (`CSI row ; col H`, after its `CSI`)
/// puts the cursor: (row, column) from 0.
fn cup(seq: &str) -> Option<(usize, usize)> {
    let len = seq
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    if !matches!(seq.as_bytes().get(len), Some(b'H' | b'f')) {
        return None;
    }
    let mut n = seq[..len]
        .split(';')
        .map(|p| p.parse::<usize>().unwrap_or(1).max(1) - 1);
    Some((n.next().unwrap_or(0), n.next().unwrap_or(0)))
}

/// Whether the pen is the default one, as SGR sequences leave it: a flag
/// per attribute and colour, cleared by its own reset or by 0.
#[derive(Default)]
struct Sgr(u32);

impl Sgr {
    fn is_default(&self) -> bool {
        self.0 == 0
    }

    fn apply(&mut self, params: &str) {
        let mut words = params.split(';').peekable();
        if params.is_empty() {
            self.0 = 0;
        }
        while let Some(w) = words.next() {
            let code: u16 = w.split(':').next().unwrap_or("").parse().unwrap_or(0);
            let flag = |bit: u32| 1u32 << bit;
            match code {
                0 => self.0 = 0,
                1 => self.0 |= flag(0),
                2 => self.0 |= flag(1),
                22 => self.0 &= !(flag(0) | flag(1)),
                3 => self.0 |= flag(2),
                23 => self.0 &= !flag(2),
                4 if w == "4:0" => self.0 &= !flag(3),
                4 | 21 => self.0 |= flag(3),
                24 => self.0 &= !flag(3),
                5 | 6 => self.0 |= flag(4),
                25 => self.0 &= !flag(4),
                7 => self.0 |= flag(5),
                27 => self.0 &= !flag(5),
                8 => self.0 |= flag(6),
                28 => self.0 &= !flag(6),
                9 => self.0 |= flag(7),
                29 => self.0 &= !flag(7),
                30..=37 | 90..=97 => self.0 |= flag(8),
                39 => self.0 &= !flag(8),
                40..=47 | 100..=107 => self.0 |= flag(9),
                49 => self.0 &= !flag(9),
                38 | 48 | 58 => {
                    self.0 |= flag(match code {
                        38 => 8,
                        48 => 9,
                        _ => 10,
                    });
                    // The colour's own words, in the semicolon form.
                    if !w.contains(':') {
                        let skip = match words.next() {
                            Some("5") => 1,
                            Some("2") => 3,
                            _ => 0,
                        };
                        for _ in 0..skip {
                            words.next();
                        }
                    }
                }
                59 => self.0 &= !flag(10),
                // Anything else (overline, fonts...): not known to be
                // default, and never undone but by 0.
                _ => self.0 |= flag(11),
            }
        }
    }
}

/// The input modes, cursor style and title the tracker holds.
pub fn modes(t: &Tracker, out: &mut Vec<u8>) {
    if t.keypad {
        out.extend_from_slice(b"\x1b=");
    }
    for (i, m) in MODES.iter().enumerate() {
        if t.mode_set(i) {
            let _ = write!(out, "\x1b[?{m}h");
        }
    }
    if let Some(n) = t.cursor_style {
        let _ = write!(out, "\x1b[{n} q");
    }
    if let Some(title) = &t.title {
        out.extend_from_slice(b"\x1b]2;");
        out.extend(title.iter().filter(|&&b| b >= 0x20 && b != 0x7f));
        out.push(0x07);
    }
}

/// Undoes what the job set in a terminal that showed it: the alternate
/// screen (left only if the job is in it), scroll region, modes, cursor,
/// pen, and the title pushed at attach.
///
/// The cursor stays where the job left it (on the main screen: where it
/// was when the job entered the alternate one), so that what follows (the
/// note, the shell's prompt) comes after the job's output, not over its
/// first rows: the margins are reset between a save and a restore of the
/// cursor (DECSTBM moves it home), and origin mode, whose reset moves it
/// home too, is reset only if the job set it, then the cursor put back
/// where the model has it (`cursor`: row, column, on the main screen).
pub fn restore(t: &Tracker, cursor: (usize, usize), out: &mut Vec<u8>) {
    if t.alt {
        out.extend_from_slice(b"\x1b[?1049l");
    }
    out.extend_from_slice(b"\x1b7\x1b[r\x1b8");
    if t.origin && !t.alt {
        let _ = write!(out, "\x1b[?6l\x1b[{};{}H", cursor.0 + 1, cursor.1 + 1);
    }
    out.extend_from_slice(b"\x1b[4l\x1b[?7h\x1b(B\x0f\x1b[?25h");
    if t.cursor_style.is_some() {
        out.extend_from_slice(b"\x1b[0 q");
    }
    out.extend_from_slice(
        b"\x1b[?1l\x1b>\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1005l\x1b[?1006l\
\x1b[?1015l\x1b[?1016l\x1b[?2004l\x1b[0m\x1b[23;0t\r\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rep_is_written_out() {
        let mut out = Vec::new();
        expand_rep("a─\x1b[5bx\x1b[1;2Hy\x1b[2b", 80, (0, 0), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a──────x\x1b[1;2Hyyy");
    }

    fn expanded(dump: &str, cols: usize) -> String {
        let mut out = Vec::new();
        expand_rep(dump, cols, (99, 0), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn blanks_ending_a_row_in_the_default_pen_are_left_out() {
        assert_eq!(
            expanded("ab   \r\n     \r\ncd \x1b[5b\x1b[3;4H", 10),
            "ab\r\n\r\ncd\x1b[3;4H"
        );
        // In another pen they are cells of their own; inside a row, kept.
        assert_eq!(
            expanded("\x1b[44mab   \x1b[0m  \r\na  b\r\n", 10),
            "\x1b[44mab   \x1b[0m\r\na  b\r\n"
        );
    }

    #[test]
    fn a_reset_after_blanks_does_not_keep_them() {
        assert_eq!(expanded("done    \x1b[0m\x1b[3;5H", 10), "done\x1b[3;5H");
        assert_eq!(
            expanded("a\x1b[1mb\x1b[22m   \x1b[0m\r\n", 10),
            "a\x1b[1mb\x1b[22m\r\n"
        );
    }

    #[test]
    fn blanks_before_the_cursor_on_its_row_are_kept() {
        // A prompt's last space: the cursor is after it.
        let mut out = Vec::new();
        expand_rep("a  \r\nname?   \r\nb  \x1b[2;7H", 10, (1, 6), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a\r\nname? \r\nb\x1b[2;7H");
        // A cursor parked further on (curses, at the row's end): none kept.
        let mut out = Vec::new();
        expand_rep("name?    \x1b[1;10H", 10, (0, 9), &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "name?\x1b[1;10H");
        // Rows found by a cursor move too (the alternate screen's start).
        let mut out = Vec::new();
        expand_rep("x \r\n\x1b[1;1Hask \x1b[1;5H", 10, (0, 4), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x\r\n\x1b[1;1Hask \x1b[1;5H"
        );
    }

    #[test]
    fn blanks_a_row_wraps_on_are_kept() {
        // 4 columns: "abcd" fills the row; the blanks after it wrap into
        // the next (avt writes a soft-wrapped row with no CR LF): without
        // them the cursor would not reach that row, and "x" would come
        // one row too high.
        assert_eq!(expanded("abcd    \r\nx", 4), "abcd    \r\nx");
        assert_eq!(expanded("ab    \r\nx", 4), "ab    \r\nx", "across the wrap");
        // A row that wrapped, then blanks after text on it: theirs to lose.
        assert_eq!(expanded("abcdef  \r\nx", 4), "abcdef\r\nx");
        // A wide character that does not fit wraps early.
        assert_eq!(expanded("abc界  \r\n", 4), "abc界\r\n");
        assert_eq!(expanded("abc  界\r\n", 4), "abc  界\r\n");
    }

    #[test]
    fn colours_are_written_with_semicolons() {
        let mut out = Vec::new();
        expand_rep(
            "\x1b[38:5:9;48:2:1:2:3mx\x1b[1;2H\x1b[0m\x1b[4:3m",
            80,
            (0, 0),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[38;5;9;48;2;1;2;3mx\x1b[1;2H\x1b[0m\x1b[4:3m",
            "colours only: an underline style keeps its colon"
        );
    }

    #[test]
    fn lines_keep_their_colours_and_lose_trailing_blanks() {
        let mut vt = avt::Vt::builder().size(20, 2).scrollback_limit(0).build();
        vt.feed_str("a\x1b[1;31mb\x1b[0;48;5;200mc\x1b[0m  \x1b[38;2;1;2;3m界\x1b[0m   \r\n");
        let mut out = Vec::new();
        format_line(vt.line(0), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\x1b[0;1;31mb\x1b[0;48;5;200mc\x1b[0m  \x1b[0;38;2;1;2;3m界"
        );
    }
}
