//! The job's screen as a terminal would show it (issue 16,
//! docs/SCREEN-MODEL.md): avt 0.18 for the cells, cursor, pen, alternate
//! screen, scroll region and charsets; a tracker for what avt does not
//! keep (input modes, title); a scrollback ring of our own. Fed from the
//! log, behind the relay, so that output never waits for it; drawn on
//! attach, so a reattached terminal shows the screen as it is.

mod cluster;
mod escapes;
mod fast;
mod graphics;
mod palette;
mod render;
mod ring;
mod track;

pub use render::{GENERIC_RESTORE, PUSH_TITLE};

use self::cluster::Clusters;
use self::ring::Ring;
use self::track::{Scan, Tracker};

/// The scrollback's bound in bytes, whatever its number of lines.
pub const RING_BYTES: usize = 2 << 20;

pub struct Screen {
    vt: avt::Vt,
    parser: vte::Parser,
    track: Tracker,
    scan: Scan,
    ring: Ring,
    /// The start of a UTF-8 character cut by the end of a feed.
    carry: Vec<u8>,
    cols: usize,
    rows: usize,
    /// The log offset fed up to.
    pub parsed: u64,
    /// The bytes fed so far end with a line feed, after this many plain
    /// lines in a row (see `feed`).
    line_start: bool,
    plain: usize,
    /// Reused: the decoded text, a formatted line, the fast path's line ends.
    text: String,
    line: Vec<u8>,
    ends: Vec<usize>,
    /// The screen's rows above the cursor after a skip, not yet in avt.
    shown: Vec<Vec<u8>>,
    /// Base characters with their combining marks, one avt cell each.
    clusters: Clusters,
}

impl Screen {
    pub fn new(cols: u16, rows: u16, scrollback: usize) -> Screen {
        let (cols, rows) = (cols.max(1) as usize, rows.max(1) as usize);
        Screen {
            vt: avt::Vt::builder()
                .size(cols, rows)
                .scrollback_limit(0)
                .build(),
            parser: vte::Parser::new(),
            track: Tracker::default(),
            scan: Scan::Ground,
            ring: Ring::new(scrollback, RING_BYTES),
            carry: Vec::new(),
            cols,
            rows,
            parsed: 0,
            line_start: true,
            plain: 0,
            text: String::new(),
            line: Vec::new(),
            ends: Vec::new(),
            shown: Vec::new(),
            clusters: Clusters::default(),
        }
    }

    /// Feeds what the program wrote next.
    pub fn feed(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let rows = self.rows;
        let mut fed = 0;
        let mut at = 0;
        // Plain lines just before `at` (fed already, some in earlier feeds).
        let mut count = self.plain;
        if !self.line_start {
            // The first line began in an earlier feed: it breaks a run.
            match memchr_lf(data) {
                Some(p) => at = p + 1,
                None => at = data.len(),
            }
            count = 0;
        }
        let mut ends = std::mem::take(&mut self.ends);
        while at < data.len() && rows >= 2 {
            ends.clear();
            let mut end = at;
            while let Some(e) = fast::plain_line(data, end, self.cols) {
                ends.push(e);
                end = e;
            }
            // After 2 x rows plain lines the cursor is on the bottom row and
            // every row above holds one of them, whatever the screen was:
            // from there on, lines can be skipped if a screenful follows.
            let prefix = (2 * rows).saturating_sub(count);
            if ends.len() >= prefix + rows {
                let from = if prefix == 0 { at } else { ends[prefix - 1] };
                self.feed_parsed(&data[fed..from]);
                fed = from;
                if self.track.plain() && self.scan == Scan::Ground && self.carry.is_empty() {
                    let mut bounds = Vec::with_capacity(ends.len() - prefix + 1);
                    bounds.push(from);
                    bounds.extend_from_slice(&ends[prefix..]);
                    self.skip(data, &bounds);
                    fed = end;
                }
            }
            count += ends.len();
            if end == data.len() {
                break;
            }
            // Past the line that broke the run.
            count = 0;
            at = match memchr_lf(&data[end..]) {
                Some(p) => end + p + 1,
                None => data.len(),
            };
        }
        self.ends = ends;
        self.feed_parsed(&data[fed..]);
        self.line_start = data.last() == Some(&b'\n');
        self.plain = if self.line_start { count } else { 0 };
    }

    /// The middle of a plain run: `bounds` are the end of the lines before
    /// it and the ends of its lines. As a full parse would: the rows above
    /// the cursor scroll into the ring, then all but the last `rows - 1`
    /// lines; those are the screen's rows above its blank bottom row, where
    /// the cursor is. They are drawn into avt only when something needs
    /// it ([`Screen::settle`]): a flood of plain lines never reaches avt.
    fn skip(&mut self, data: &[u8], bounds: &[usize]) {
        let lines = bounds.len() - 1;
        let keep = self.rows - 1;
        if self.shown.is_empty() {
            self.text.clear();
            self.text.extend(std::iter::repeat_n('\n', keep));
            self.feed_vt();
        } else {
            // The rows of the previous skip, as avt would have given them.
            for row in self.shown.drain(..) {
                self.ring.push(&row);
            }
        }
        for w in bounds[..=lines - keep].windows(2) {
            self.ring.push(fast::row_text(&data[w[0]..w[1]]));
        }
        for w in bounds[lines - keep..].windows(2) {
            self.shown.push(fast::row_text(&data[w[0]..w[1]]).to_vec());
        }
    }

    /// Draws the rows the last skip left aside into avt: from the top, each
    /// on a line of its own, leaving the cursor on the blank bottom row.
    fn settle(&mut self) {
        if self.shown.is_empty() {
            return;
        }
        self.text.clear();
        self.text.push_str("\x1b[H");
        for row in self.shown.drain(..) {
            self.text
                .push_str(std::str::from_utf8(&row).unwrap_or_default());
            self.text.push_str("\r\n");
        }
        self.feed_vt();
    }

    /// Feeds bytes through the parsers.
    fn feed_parsed(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.settle();
        self.text.clear();
        if self.carry.is_empty() {
            decode(data, &mut self.text, &mut self.carry);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(data);
            decode(&joined, &mut self.text, &mut self.carry);
        }
        self.feed_vt();
        self.parser.advance(&mut self.track, data);
        self.scan = self.scan.advance(data);
    }

    /// `self.text` to avt; the lines leaving the screen to the ring.
    fn feed_vt(&mut self) {
        let notable = Notable::of(&self.text);
        self.clusters.fold(&mut self.text, notable.designation);
        if notable.colour {
            palette::mark(&mut self.text);
        }
        let changes = self.vt.feed_str(&self.text);
        for line in changes.scrollback {
            push_line(&line, &mut self.line, &self.clusters, &mut self.ring);
        }
    }

    /// The pty's new size: the main screen is reflowed (the scrollback is
    /// not: it is text).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        let (cols, rows) = (cols.max(1) as usize, rows.max(1) as usize);
        if (cols, rows) == (self.cols, self.rows) {
            return;
        }
        self.settle();
        self.cols = cols;
        self.rows = rows;
        let changes = self.vt.resize(cols, rows);
        for line in changes.scrollback {
            push_line(&line, &mut self.line, &self.clusters, &mut self.ring);
        }
        // avt resets the margins on a resize; the rows are reflowed, so no
        // run goes on across it.
        self.track.region = false;
        self.plain = 0;
    }

    /// What sets a terminal of the pty's size to the model's state:
    /// a reset, the scrollback (if asked) scrolled into the terminal's own
    /// history, the screens, cursor, pen and modes, the job's title. A
    /// terminal drawn on for the first time gets [`PUSH_TITLE`] before it
    /// (once: the restore pops it once).
    pub fn render(&mut self, scrollback: bool, out: &mut Vec<u8>) {
        self.settle();
        out.extend_from_slice(render::RESET);
        if scrollback && !self.ring.is_empty() {
            use std::io::Write;
            let _ = write!(out, "\x1b[{};1H", self.rows);
            for line in self.ring.lines() {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&line);
                out.extend_from_slice(b"\x1b[0m");
            }
            // A screenful of line feeds scrolls the last of them into the
            // history too (a clear would only erase them in most
            // terminals); the screen is then blank.
            for _ in 0..self.rows {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\x1b[H\x1b[J");
        } else {
            out.extend_from_slice(b"\x1b[H\x1b[2J");
        }
        // avt enters the alternate screen with 1047, which keeps no cursor
        // of its own: 1049 does, as the program's own 1049h would have.
        // Cleared too, for terminals without an alternate screen (pyte, the
        // Linux console): the main screen drawn before must not show
        // through the blanks the alternate one's rows end in.
        let cursor = (self.vt.cursor().row, self.vt.cursor().col);
        let dump = self
            .vt
            .dump()
            .replacen("\x1b[?1047h", "\x1b[?1049h\x1b[H\x1b[2J", 1);
        if self.clusters.is_empty() {
            render::expand_rep(&dump, self.cols, cursor, out);
        } else {
            let mut drawn = Vec::with_capacity(dump.len());
            render::expand_rep(&dump, self.cols, cursor, &mut drawn);
            self.clusters.unfold(&drawn, out);
        }
        render::modes(&self.track, out);
    }

    /// What a terminal that showed the job needs to be the user's again.
    pub fn restore(&self, out: &mut Vec<u8>) {
        let c = self.vt.cursor();
        render::restore(&self.track, (c.row, c.col), out);
    }
}

/// A line leaving the screen, to the ring as text (`buf` reused).
fn push_line(line: &avt::Line, buf: &mut Vec<u8>, clusters: &Clusters, ring: &mut Ring) {
    buf.clear();
    render::format_line(line, buf);
    if clusters.is_empty() {
        ring.push(buf);
    } else {
        let mut text = Vec::with_capacity(buf.len());
        clusters.unfold(buf, &mut text);
        ring.push(&text);
    }
}

/// What a stretch of output may hold that avt does not keep as sent, found
/// in one pass over its escapes (most stretches hold neither, and the
/// rewrites are skipped).
#[derive(Debug, Default, PartialEq, Eq)]
struct Notable {
    /// A choice of the DEC graphics set (`ESC ( 0`, `ESC ) 0`) whole in
    /// the stretch ([`graphics`] keeps one cut by a read's end).
    designation: bool,
    /// An SGR with a 256-colour or RGB colour ([`palette`]).
    colour: bool,
}

impl Notable {
    fn of(text: &str) -> Notable {
        let b = text.as_bytes();
        let mut n = Notable::default();
        for i in memchr::memchr_iter(0x1b, b) {
            match b.get(i + 1) {
                Some(b'(' | b')') => n.designation |= b.get(i + 2) == Some(&b'0'),
                Some(b'[') if !n.colour => {
                    let p = &b[i + 2..];
                    n.colour = escapes::sgr_params(p).is_some_and(|len| {
                        p[..len]
                            .windows(4)
                            .any(|w| matches!(w, b"8;5;" | b"8:5:" | b"8;2;" | b"8:2:"))
                    });
                }
                _ => {}
            }
            if n.designation && n.colour {
                break;
            }
        }
        n
    }
}

fn memchr_lf(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

/// Decodes UTF-8 into `text`, invalid bytes as U+FFFD; an incomplete
/// character at the end goes to `carry` for the next feed.
fn decode(mut bytes: &[u8], text: &mut String, carry: &mut Vec<u8>) {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                text.push_str(s);
                return;
            }
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                text.push_str(std::str::from_utf8(good).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        text.push('\u{fffd}');
                        bytes = &bad[n..];
                    }
                    None => {
                        carry.extend_from_slice(bad);
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
