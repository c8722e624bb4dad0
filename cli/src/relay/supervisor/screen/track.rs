//! What avt 0.18 does not keep or show (docs/SCREEN-MODEL.md, §4): the
//! input modes a reattached terminal must get back (bracketed paste,
//! mouse reporting, keypad), the title, the cursor style, and the few
//! facts the plain-run fast path needs to know it is safe (which screen,
//! scroll region, pen, charset, wrap and insert modes).

use vte::{Params, Perform};

/// DEC private modes kept here and set again on attach (avt keeps DECCKM,
/// origin, wrap and the cursor's visibility itself).
pub const MODES: [u16; 9] = [1000, 1002, 1003, 1004, 1005, 1006, 1015, 1016, 2004];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// One bit per entry of [`MODES`].
    pub modes: u16,
    pub keypad: bool,
    pub title: Option<Vec<u8>>,
    /// DECSCUSR's parameter, if the program chose a cursor style.
    pub cursor_style: Option<u16>,
    /// In the alternate screen (47, 1047, 1049).
    pub alt: bool,
    /// A scroll region narrower than the screen may be set.
    pub region: bool,
    /// The pen may not be the default one.
    pub pen: bool,
    /// `pen` as saved with the cursor (DECSC, 1049h), main and alternate.
    pub saved_pen: [bool; 2],
    pub g0_ascii: bool,
    pub g1_ascii: bool,
    pub shifted: bool,
    pub autowrap: bool,
    pub insert: bool,
    /// Origin mode (DECOM): resetting it moves the cursor home, so the
    /// restore does it only if the job set it.
    pub origin: bool,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker {
            modes: 0,
            keypad: false,
            title: None,
            cursor_style: None,
            alt: false,
            region: false,
            pen: false,
            saved_pen: [false; 2],
            g0_ascii: true,
            g1_ascii: true,
            shifted: false,
            autowrap: true,
            insert: false,
            origin: false,
        }
    }
}

impl Tracker {
    pub fn mode_set(&self, i: usize) -> bool {
        self.modes & (1 << i) != 0
    }

    /// Whether plain text goes on the main screen as written, one row per
    /// short line, in the default pen: what the fast path assumes.
    pub fn plain(&self) -> bool {
        !self.alt
            && !self.region
            && !self.pen
            && self.autowrap
            && !self.insert
            && if self.shifted {
                self.g1_ascii
            } else {
                self.g0_ascii
            }
    }
}

impl Perform for Tracker {
    fn execute(&mut self, byte: u8) {
        match byte {
            0x0e => self.shifted = true,
            0x0f => self.shifted = false,
            _ => {}
        }
    }

    fn osc_dispatch(&mut self, params: &[&[u8]], _bell_terminated: bool) {
        if let [b"0" | b"2", rest @ ..] = params {
            // A title may hold `;`: vte split it.
            self.title = Some(rest.join(&b';'));
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if ignore {
            return;
        }
        let first = |p: &Params| {
            p.iter()
                .next()
                .and_then(|s| s.first().copied())
                .unwrap_or(0)
        };
        match (intermediates, action) {
            (b"?", 'h' | 'l') => {
                let on = action == 'h';
                for p in params.iter() {
                    let m = p.first().copied().unwrap_or(0);
                    if let Some(i) = MODES.iter().position(|&x| x == m) {
                        if on {
                            self.modes |= 1 << i;
                        } else {
                            self.modes &= !(1 << i);
                        }
                    }
                    match m {
                        // 1049 saves and restores the cursor (and so the
                        // pen) around the alternate screen, as avt does: the
                        // saved cursor is the current screen's.
                        1049 if on => {
                            self.saved_pen[self.alt as usize] = self.pen;
                            self.alt = true;
                        }
                        1049 => {
                            self.alt = false;
                            self.pen = self.saved_pen[0];
                        }
                        47 | 1047 => self.alt = on,
                        7 => self.autowrap = on,
                        6 => self.origin = on,
                        _ => {}
                    }
                }
            }
            (b"", 'h' | 'l') if params.iter().any(|p| p.first() == Some(&4)) => {
                self.insert = action == 'h';
            }
            (b"", 'm') => {
                self.pen = params.iter().any(|p| p.iter().any(|&v| v != 0));
            }
            (b"", 'r') => {
                // Full-screen margins are (1, rows) or none; anything else
                // counts as a region (the fast path only needs "maybe").
                let mut it = params.iter();
                let top = it.next().and_then(|p| p.first().copied()).unwrap_or(0);
                let bottom = it.next().and_then(|p| p.first().copied()).unwrap_or(0);
                self.region = top > 1 || bottom != 0;
            }
            (b"", 's') => self.saved_pen[self.alt as usize] = self.pen,
            (b"", 'u') => self.pen = self.saved_pen[self.alt as usize],
            // DECSTR, the soft reset.
            (b"!", 'p') => self.origin = false,
            (b" ", 'q') => {
                let n = first(params);
                self.cursor_style = (n != 0).then_some(n);
            }
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], _ignore: bool, byte: u8) {
        match (intermediates, byte) {
            (b"", b'=') => self.keypad = true,
            (b"", b'>') => self.keypad = false,
            (b"", b'c') => *self = Tracker::default(),
            (b"", b'7') => self.saved_pen[self.alt as usize] = self.pen,
            (b"", b'8') => self.pen = self.saved_pen[self.alt as usize],
            (b"(", b) => self.g0_ascii = b == b'B',
            (b")", b) => self.g1_ascii = b == b'B',
            _ => {}
        }
    }
}

/// Where a byte stream stands between escape sequences: the fast path only
/// skips text that is outside any control string (OSC, DCS, SOS, PM, APC),
/// where a CR LF is data, not a new line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    #[default]
    Ground,
    Esc,
    Csi,
    Str,
    StrEsc,
}

impl Scan {
    pub fn advance(mut self, bytes: &[u8]) -> Scan {
        let mut i = 0;
        while i < bytes.len() {
            match self {
                Scan::Ground => match bytes[i..].iter().position(|&b| b == 0x1b || b == 0xc2) {
                    None => return Scan::Ground,
                    Some(p) => {
                        i += p;
                        if bytes[i] == 0x1b {
                            self = Scan::Esc;
                        } else if matches!(bytes.get(i + 1), Some(0x90 | 0x98 | 0x9d..=0x9f)) {
                            self = Scan::Str;
                            i += 1;
                        }
                    }
                },
                Scan::Esc => {
                    self = match bytes[i] {
                        b']' | b'P' | b'X' | b'^' | b'_' => Scan::Str,
                        b'[' => Scan::Csi,
                        0x1b => Scan::Esc,
                        // Intermediates keep the sequence open.
                        0x20..=0x2f => Scan::Esc,
                        _ => Scan::Ground,
                    }
                }
                Scan::Csi => {
                    self = match bytes[i] {
                        0x1b => Scan::Esc,
                        0x40..=0x7e | 0x18 | 0x1a => Scan::Ground,
                        _ => Scan::Csi,
                    }
                }
                Scan::Str => match bytes[i..]
                    .iter()
                    .position(|&b| matches!(b, 0x07 | 0x1b | 0x18 | 0x1a | 0x9c))
                {
                    None => return Scan::Str,
                    Some(p) => {
                        i += p;
                        self = if bytes[i] == 0x1b {
                            Scan::StrEsc
                        } else {
                            Scan::Ground
                        };
                    }
                },
                Scan::StrEsc => {
                    self = if bytes[i] == b'\\' {
                        Scan::Ground
                    } else {
                        Scan::Str
                    }
                }
            }
            i += 1;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(bytes: &[u8]) -> Tracker {
        let mut t = Tracker::default();
        vte::Parser::new().advance(&mut t, bytes);
        t
    }

    #[test]
    fn modes_title_and_screen_are_tracked() {
        let t = track(b"\x1b[?2004h\x1b[?1002;1006h\x1b=\x1b]2;my; title\x07\x1b[?1049h\x1b[3 q");
        assert!(t.mode_set(8) && t.mode_set(1) && t.mode_set(5) && !t.mode_set(0));
        assert!(t.keypad && t.alt);
        assert_eq!(t.title.as_deref(), Some(&b"my; title"[..]));
        assert_eq!(t.cursor_style, Some(3));
        assert!(!t.plain());
        let t = track(b"\x1b[?2004h\x1b[?1049h\x1b[?2004l\x1b[?1049l\x1b>");
        assert_eq!(t, Tracker::default());
        assert_eq!(track(b"\x1b[?1000h\x1bc"), Tracker::default(), "RIS");
    }

    #[test]
    fn what_the_fast_path_needs_is_tracked() {
        assert!(track(b"plain\r\n").plain());
        assert!(!track(b"\x1b[31m").plain());
        assert!(track(b"\x1b[31mred\x1b[0m").plain());
        assert!(track(b"\x1b[1m\x1b[m").plain());
        assert!(!track(b"\x1b[3;20r").plain());
        assert!(track(b"\x1b[3;20r\x1b[r").plain());
        assert!(!track(b"\x1b(0").plain());
        assert!(track(b"\x1b(0\x1b(B").plain());
        assert!(!track(b"\x1b)0\x0e").plain());
        assert!(!track(b"\x1b[?7l").plain());
        assert!(!track(b"\x1b[4h").plain());
        assert!(
            !track(b"\x1b[44m\x1b7\x1b[0m\x1b8").plain(),
            "DECRC brings the pen back"
        );
        assert!(!track(b"\x1b[44m\x1b[?1049h\x1b[0m\x1b[?1049l").plain());
        assert!(track(b"\x1b7\x1b[44m\x1b8").plain());
    }

    #[test]
    fn control_strings_are_seen_across_feeds() {
        assert_eq!(Scan::Ground.advance(b"text\x1b[1mmore"), Scan::Ground);
        assert_eq!(Scan::Ground.advance(b"\x1b]0;title\r\n"), Scan::Str);
        assert_eq!(Scan::Str.advance(b"more\x07after"), Scan::Ground);
        assert_eq!(Scan::Ground.advance(b"\x1bP1$r"), Scan::Str);
        assert_eq!(Scan::Str.advance(b"x\x1b"), Scan::StrEsc);
        assert_eq!(Scan::StrEsc.advance(b"\\"), Scan::Ground);
        assert_eq!(Scan::Ground.advance(b"\x1b"), Scan::Esc);
        assert_eq!(Scan::Esc.advance(b"(B"), Scan::Ground);
        assert_eq!(Scan::Ground.advance(b"\x1b[12;\r\n34"), Scan::Csi);
        assert_eq!(Scan::Csi.advance(b"H"), Scan::Ground);
        assert_eq!(Scan::Ground.advance("\u{9d}".as_bytes()), Scan::Str);
    }
}
