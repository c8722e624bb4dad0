//! What the model becomes on the wire: a ring line as SGR text, the
//! attach render (reset, scrollback, screen, modes, title) and the restore
//! sequence a leaving client's terminal gets (docs/SCREEN-MODEL.md, §4).

use std::io::Write;

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
/// connection dropped). Leaving an alternate screen that is not there can
/// move the cursor in some terminals; staying in one is worse. Origin
/// mode is left alone: resetting it moves the cursor home (the note and
/// the prompt would land on the job's first rows), and with the margins
/// reset it places nothing differently.
pub const GENERIC_RESTORE: &[u8] = b"\x1b[?1049l\x1b7\x1b[r\x1b8\x1b[4l\x1b[?7h\x1b(B\x0f\
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
/// characters, GNU screen and the Linux console not at all.
pub fn expand_rep(dump: &str, out: &mut Vec<u8>) {
    let mut prev = ' ';
    let mut rest = dump;
    while let Some(at) = rest.find("\x1b[") {
        let (before, seq) = rest.split_at(at);
        out.extend_from_slice(before.as_bytes());
        if let Some(c) = before.chars().last() {
            prev = c;
        }
        let digits = seq[2..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && seq.as_bytes().get(2 + digits) == Some(&b'b') {
            let n: usize = seq[2..2 + digits].parse().unwrap_or(0);
            let mut utf8 = [0u8; 4];
            let ch = prev.encode_utf8(&mut utf8).as_bytes();
            for _ in 0..n {
                out.extend_from_slice(ch);
            }
            rest = &seq[3 + digits..];
        } else {
            out.extend_from_slice(b"\x1b[");
            rest = &seq[2..];
            // avt writes 256 and RGB colours with colons (`38:5:n`,
            // `38:2:r:g:b`, ITU T.416); the Linux console, pyte and
            // older terminals read only semicolons (`38;5;n`, as xterm
            // and most programs write them), and show the rest as text.
            let params = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b';' || *b == b':')
                .count();
            if rest.as_bytes().get(params) == Some(&b'm') && rest[..params].contains(':') {
                for (i, group) in rest[..params].split(';').enumerate() {
                    if i > 0 {
                        out.push(b';');
                    }
                    if ["38:", "48:", "58:"].iter().any(|c| group.starts_with(c)) {
                        let parts: Vec<&str> = group.split(':').collect();
                        let n = |k: usize| parts.get(k).and_then(|s| s.parse::<u8>().ok());
                        let kept = match (parts.get(1), n(2), n(3), n(4)) {
                            (Some(&"2"), Some(r), Some(g), Some(b)) if parts.len() == 5 => {
                                palette::original(r, g, b)
                            }
                            _ => None,
                        };
                        match kept {
                            Some(i) => {
                                let _ = write!(out, "{};5;{i}", parts[0]);
                            }
                            None => {
                                out.extend(group.bytes().map(|b| if b == b':' { b';' } else { b }))
                            }
                        }
                    } else {
                        out.extend_from_slice(group.as_bytes());
                    }
                }
                rest = &rest[params..];
            }
            // A sequence is not a character to repeat.
            prev = ' ';
        }
    }
    out.extend_from_slice(rest.as_bytes());
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
        expand_rep("a─\x1b[5bx\x1b[1;2Hy\x1b[2b", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a──────x\x1b[1;2Hyyy");
    }

    #[test]
    fn colours_are_written_with_semicolons() {
        let mut out = Vec::new();
        expand_rep(
            "\x1b[38:5:9;48:2:1:2:3mx\x1b[1;2H\x1b[0m\x1b[4:3m",
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
