use super::*;

/// A small deterministic generator (no dependency for a test).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Dump, ring, tracker and cursor (column, row, visible).
type State = (String, Vec<Vec<u8>>, Tracker, (usize, usize, bool));

fn state(s: &mut Screen) -> State {
    s.settle();
    let c = s.vt.cursor();
    (
        s.vt.dump(),
        s.ring.lines().collect(),
        s.track.clone(),
        (c.col, c.row, c.visible),
    )
}

/// A stream mixing what programs write: long plain runs, exact-width and
/// wrapping lines, colours, cursor moves over a full screen, CR overlays,
/// the alternate screen, a scroll region, an OSC holding CR LF, UTF-8.
fn stream(seed: u64, cols: usize) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut out = Vec::new();
    for _ in 0..60 {
        match r.below(12) {
            0..=3 => {
                for i in 0..r.below(300) {
                    let len = r.below(cols as u64 + 3) as usize;
                    let c = b'a' + (i % 26) as u8;
                    out.extend(std::iter::repeat_n(c, len));
                    if r.below(9) == 0 {
                        out.extend_from_slice(b"  ");
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
            4 => out.extend_from_slice(b"\x1b[31mred\x1b[0m\r\n\x1b[44mblue bg"),
            5 => {
                for _ in 0..30 {
                    let _ = std::io::Write::write_fmt(
                        &mut out,
                        format_args!("\x1b[{};{}H#", r.below(30), r.below(90)),
                    );
                }
            }
            6 => out.extend_from_slice(b"progress 10%\rprogress 20%\r\n"),
            7 => out.extend_from_slice(b"\x1b[?1049h\x1b[2Jalt\r\n"),
            8 => out.extend_from_slice(b"\x1b[?1049l"),
            9 => out.extend_from_slice(b"\x1b[2;10r"),
            10 => out.extend_from_slice(b"\x1b[r\x1b]0;ti\r\ntle\r\n\x1b\\"),
            _ => out.extend_from_slice("wide 界界 é\r\n\x1b[m\x1b(0lqk\x1b(B\t|\r\n".as_bytes()),
        }
    }
    // avt hands out the lines that left the main screen at the end of a
    // feed, and none while the alternate screen is shown: end on the main
    // screen, so that both rings are complete.
    out.extend_from_slice(b"\x1b[?1049l\x1b[r");
    out
}

#[test]
fn the_fast_path_gives_the_same_screen_and_scrollback_as_a_full_parse() {
    let mut skipped_any = false;
    for seed in 1..40u64 {
        for (cols, rows) in [(80u16, 24u16), (20, 5), (7, 2)] {
            let data = stream(seed * 7919, cols as usize);
            let mut fast = Screen::new(cols, rows, 100_000);
            let mut full = Screen::new(cols, rows, 100_000);
            let mut r = Rng(seed);
            let mut at = 0;
            let mut resized = false;
            while at < data.len() {
                let n = (1 + r.below(70_000) as usize).min(data.len() - at);
                fast.feed(&data[at..at + n]);
                full.feed_parsed(&data[at..at + n]);
                at += n;
                // A resize mid-stream: no run goes on across it. (On the
                // main screen: avt keeps the lines that left it while the
                // alternate one is shown, and would reflow them.)
                if !resized && at > data.len() / 2 && !full.track.alt {
                    resized = true;
                    fast.resize(cols + 3, rows + 1);
                    full.resize(cols + 3, rows + 1);
                }
            }
            fast.feed(b"!");
            full.feed_parsed(b"!");
            let (a, b) = (state(&mut fast), state(&mut full));
            if a != b {
                let lines = |s: &State| {
                    s.1.iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .collect::<Vec<_>>()
                };
                let (la, lb) = (lines(&a), lines(&b));
                let at = la
                    .iter()
                    .zip(&lb)
                    .position(|(x, y)| x != y)
                    .unwrap_or(la.len().min(lb.len()));
                panic!(
                    "seed {seed}, {cols}x{rows}: rings {} and {} lines, first difference at {at}: {:?} / {:?}\nscreen same: {}, tracker same: {}, cursor {:?} {:?}",
                    la.len(), lb.len(), la.get(at.saturating_sub(1)..at + 2), lb.get(at.saturating_sub(1)..at + 2), a.0 == b.0, a.2 == b.2, a.3, b.3
                );
            }
            skipped_any |= !fast.ring.is_empty();
        }
    }
    assert!(skipped_any);
}

/// The drawing, read by a terminal (avt, fresh, of the same size), gives
/// back the model's screen: every cell and pen of both screens, the
/// cursor. Whatever the drawing leaves out (blanks ending a row) or
/// rewrites (colours, line drawing, marks) must not move a cell.
#[test]
fn the_drawing_gives_the_models_screen_back() {
    // Clusters are interned in the order met: compared as their text.
    let cells = |s: &Screen| -> Vec<String> {
        s.vt.view()
            .map(|l| {
                l.cells()
                    .iter()
                    .map(|c| {
                        let ch = c.char();
                        let text = s
                            .clusters
                            .text_of(ch)
                            .map_or(ch.to_string(), str::to_string);
                        format!("{text}{:?}", c.pen())
                    })
                    .collect()
            })
            .collect()
    };
    for cols in [7usize, 23, 80] {
        for seed in 1..40 {
            let mut data = stream(seed, cols);
            // End in the alternate screen now and then: both screens drawn.
            if seed % 3 == 0 {
                data.extend_from_slice(b"\x1b[?1049h\x1b[2J\x1b[3;2Hin alt\x1b[44m  \x1b[0m  ");
            }
            let mut s = Screen::new(cols as u16, 6, 0);
            s.feed(&data);
            s.settle();
            let mut drawing = Vec::new();
            s.render(false, &mut drawing);
            // Read as the model reads a program: stand-ins made alike.
            let mut t = Screen::new(cols as u16, 6, 0);
            t.feed(&drawing);
            t.settle();
            let at = |s: &Screen| (s.vt.cursor().col, s.vt.cursor().row);
            let (a, b) = ((cells(&t), at(&t)), (cells(&s), at(&s)));
            if a != b {
                for (i, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
                    if x != y {
                        eprintln!("row {i}:\n  drawn {x}\n  model {y}");
                    }
                }
            }
            assert_eq!(
                a,
                b,
                "seed {seed}, {cols} columns: {:?}",
                String::from_utf8_lossy(&drawing)
            );
        }
    }
}

/// Arbitrary bytes, escape sequences cut anywhere among them, in feeds of
/// any size: the passes before avt, the drawing and the restore never
/// panic (a supervisor must not).
#[test]
fn arbitrary_output_is_modelled_and_drawn_without_panicking() {
    let pieces: [&[u8]; 16] = [
        b"\x1b[",
        b"\x1b(",
        b"\x1b)0",
        b"38;5;",
        b"38:2:",
        b"m",
        b"\x1b]2;t",
        b"\x07",
        b"\x0e",
        b"\x0f",
        "\u{301}".as_bytes(),
        "界".as_bytes(),
        b"\r\n",
        b"   ",
        b"q",
        b"\xff",
    ];
    for seed in 1..400 {
        let mut r = Rng(seed);
        let mut data = Vec::new();
        for _ in 0..r.below(200) {
            if r.below(3) == 0 {
                data.extend_from_slice(pieces[r.below(16) as usize]);
            } else {
                data.push(r.below(256) as u8);
            }
        }
        let mut s = Screen::new(1 + r.below(30) as u16, 1 + r.below(6) as u16, 5);
        for chunk in data.chunks(1 + r.below(40) as usize) {
            s.feed(chunk);
        }
        let mut out = Vec::new();
        s.render(true, &mut out);
        s.restore(&mut out);
    }
}

#[test]
fn the_fast_path_skips_most_of_a_flood() {
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let data: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 2000)
        .collect();
    let mut s = Screen::new(80, 24, 10_000);
    s.feed(&data);
    s.settle();
    assert_eq!(s.ring.len(), 2000 - 23);
    assert_eq!(s.vt.cursor().row, 23);
    assert_eq!(s.vt.line(0).text().trim_end().as_bytes(), &line[..76]);
}

#[test]
fn utf8_cut_between_feeds_is_joined() {
    let mut s = Screen::new(10, 2, 0);
    let text = "é界".as_bytes();
    for b in text {
        s.feed(std::slice::from_ref(b));
    }
    s.feed(b"\xff!");
    assert_eq!(s.vt.line(0).text().trim_end(), "é界\u{fffd}!");
}

/// The screen as drawn on attach (no scrollback), as text.
fn drawn(s: &mut Screen) -> String {
    let mut out = Vec::new();
    s.render(false, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn combining_marks_stay_in_the_cell_before_as_a_terminal_keeps_them() {
    let mut s = Screen::new(30, 3, 10);
    // `é ä ñ` written with marks, then text at an absolute column after
    // them, and the cursor left on the line.
    s.feed("marks: e\u{301} a\u{308} n\u{303} done".as_bytes());
    let c = s.vt.cursor();
    assert_eq!(
        (c.col, c.row),
        (17, 0),
        "one column per character, none per mark"
    );
    s.feed(b"\x1b[1;20H|\x1b[1;9H");
    let text = drawn(&mut s);
    assert!(
        text.contains("marks: e\u{301} a\u{308} n\u{303} done  |"),
        "{text:?}"
    );
    let c = s.vt.cursor();
    assert_eq!((c.col, c.row), (8, 0));
    // Two marks on one base, and the same cluster again: one stand-in for
    // it (and one for its first step, q with one mark).
    s.feed("\r\nq\u{323}\u{307} q\u{323}\u{307}".as_bytes());
    assert_eq!(s.vt.cursor().col, 3);
    assert!(drawn(&mut s).contains("q\u{323}\u{307} q\u{323}\u{307}"));
    assert_eq!(s.clusters.len(), 5);
    // Lines leaving the screen reach the scrollback as text.
    s.feed(b"\r\n\r\n\r\n");
    let ring: Vec<String> = s
        .ring
        .lines()
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    assert!(ring[0].starts_with("marks: e\u{301} a\u{308}"), "{ring:?}");
}

#[test]
fn line_drawing_is_drawn_and_kept_in_the_graphics_set_it_was_sent_in() {
    let mut s = Screen::new(20, 3, 10);
    s.feed(b"\x1b(0lqk\x1b(B ok\r\n\x1b)0\x0exqx\x0f x");
    let text = drawn(&mut s);
    assert!(text.contains("\x1b(0lqk\x1b(B ok"), "{text:?}");
    assert!(text.contains("\x1b(0xqx\x1b(B x"), "{text:?}");
    assert!(
        !text.contains('\u{250c}') && !text.contains('\u{2500}'),
        "{text:?}"
    );
    // Left in G1 with SO active, as avt says last: a drawing leaves the
    // terminal there too.
    s.feed(b"\x0e");
    let text = drawn(&mut s);
    assert!(text.contains("\x1b)0\x0e"), "{text:?}");
    // Lines leaving the screen reach the scrollback as sent.
    s.feed(b"\x0f\r\n\r\n\r\n");
    let ring: Vec<Vec<u8>> = s.ring.lines().collect();
    assert!(
        ring[0].starts_with(b"\x1b(0lqk\x1b(B ok"),
        "{:?}",
        String::from_utf8_lossy(&ring[0])
    );
}

#[test]
fn the_first_16_colours_keep_the_form_the_program_set_them_in() {
    let mut s = Screen::new(20, 2, 10);
    s.feed(b"\x1b[38;5;9mA\x1b[0;91mB\x1b[0;48;5;3mC\x1b[0;38;2;9;165;90mD\x1b[0m");
    let text = drawn(&mut s);
    let text = &text[text.find("\x1b[2J").unwrap()..];
    for (sgr, ch) in [
        ("38;5;9", 'A'),
        ("91", 'B'),
        ("48;5;3", 'C'),
        ("38;2;9;165;91", 'D'),
    ] {
        let at = text.find(ch).unwrap();
        let before = &text[..at];
        let last = &before[before.rfind("\x1b[").unwrap()..];
        assert!(
            last.contains(sgr),
            "{ch} after {last:?}, not {sgr}: {text:?}"
        );
    }
    // In the scrollback too.
    s.feed(b"\r\n\r\n");
    let ring = String::from_utf8(s.ring.lines().next().unwrap()).unwrap();
    assert!(
        ring.contains("38;5;9mA") && ring.contains("48;5;3mC"),
        "{ring:?}"
    );
}

#[test]
fn the_restore_keeps_the_cursor_where_the_job_left_it() {
    let restored = |s: &Screen| {
        let mut out = Vec::new();
        s.restore(&mut out);
        String::from_utf8(out).unwrap()
    };
    let mut s = Screen::new(20, 5, 0);
    s.feed(b"one\r\ntwo\x1b[2;3r\x1b[3;6H");
    let r = restored(&s);
    // Margins reset between a save and a restore; origin mode, never set,
    // not reset (its reset moves the cursor home).
    assert!(r.starts_with("\x1b7\x1b[r\x1b8"), "{r:?}");
    assert!(!r.contains("?6l"), "{r:?}");
    // Set: reset, and the cursor put back where the model has it (row 3,
    // column 6 of the screen: origin mode addresses from the margin).
    s.feed(b"\x1b[?6h\x1b[2;4H");
    let r = restored(&s);
    assert!(r.contains("\x1b[?6l\x1b[3;4H"), "{r:?}");
}

#[test]
fn a_mark_right_after_a_sequence_leaves_the_sequence_whole() {
    // The final byte of a sequence is no character to put a mark on.
    let mut s = Screen::new(10, 2, 0);
    s.feed("\x1b[1m\u{301}x\x1b(B\u{308}y".as_bytes());
    let line = s.vt.line(0);
    let cells: Vec<(char, bool)> = line.cells()[..2]
        .iter()
        .map(|c| (c.char(), c.pen().is_bold()))
        .collect();
    assert_eq!(cells, [('x', true), ('y', true)]);
    assert_eq!(s.vt.cursor().col, 2);
}

#[test]
fn marks_without_a_one_cell_character_before_them_are_dropped() {
    let mut s = Screen::new(20, 2, 0);
    // After a sequence, at the start of a line, after a wide character:
    // a terminal would put them somewhere; the model keeps the columns.
    s.feed("e\x1b[1m\u{301}x\r\u{301}\n界\u{301}y".as_bytes());
    assert_eq!(s.vt.line(0).text().trim_end(), "ex");
    assert_eq!(s.vt.line(1).text().trim_end(), "界y");
    assert_eq!(s.vt.cursor().col, 3);
    // A character of the stand-ins' own plane that the program wrote is
    // drawn as written.
    let mut s = Screen::new(20, 2, 0);
    s.feed("a\u{100000}\u{100001}b".as_bytes());
    assert!(drawn(&mut s).contains("a\u{100000}\u{100001}b"));
    assert_eq!(s.vt.cursor().col, 4);
}

#[test]
fn the_render_reset_comes_first_and_modes_and_title_last() {
    let mut s = Screen::new(20, 4, 100);
    s.feed(b"one\r\ntwo\r\nthree\r\nfour\r\nfive\r\n");
    s.feed(b"\x1b[?2004h\x1b]2;job\x07\x1b[?1049h\x1b[1;1Hin alt \xe2\x94\x80\x1b[7b");
    let mut out = Vec::new();
    s.render(true, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(std::str::from_utf8(render::RESET).unwrap()));
    assert!(text.contains("\r\none\x1b[0m\r\ntwo\x1b[0m"), "{text:?}");
    assert!(text.contains("\x1b[?1049h"), "{text:?}");
    assert!(!text.contains("\x1b[?1047h"), "{text:?}");
    assert!(
        text.contains("in alt ────────"),
        "REP written out: {text:?}"
    );
    assert!(text.ends_with("\x1b[?2004h\x1b]2;job\x07"), "{text:?}");
    let mut out = Vec::new();
    s.restore(&mut out);
    assert!(out.starts_with(b"\x1b[?1049l"));
    assert!(out.ends_with(b"\x1b[0m\x1b[23;0t\r\n"));
    s.feed(b"\x1b[?1049l");
    let mut out = Vec::new();
    s.restore(&mut out);
    assert!(!out.starts_with(b"\x1b[?1049l"), "not in alt: no 1049l");
}

/// The model's own parse rate, printed for bench/relay.sh (`cargo test
/// --release ... parse_rate -- --ignored --nocapture`): the relay bench's
/// base64 flood (the fast path, then a full parse) and a curses-like
/// stream of cursor moves and field updates, in 64 KiB feeds.
#[test]
#[ignore = "a benchmark, run by bench/relay.sh"]
fn parse_rate() {
    let line = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n";
    let flood: Vec<u8> = line.iter().copied().cycle().take(64 << 20).collect();
    let mut curses = Vec::new();
    let mut i = 0u64;
    while curses.len() < 16 << 20 {
        let _ = std::io::Write::write_fmt(
            &mut curses,
            format_args!(
                "\x1b[{};{}H\x1b[1;3{}mcount {:6}\x1b[0m",
                i % 24 + 1,
                i % 60 + 1,
                i % 8,
                i * 7919 % 1_000_000
            ),
        );
        i += 1;
    }
    let rate = |name: &str, data: &[u8], fast: bool| {
        let mut s = Screen::new(80, 24, 10_000);
        let t = std::time::Instant::now();
        for chunk in data.chunks(64 << 10) {
            if fast {
                s.feed(chunk);
            } else {
                s.feed_parsed(chunk);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "screen parse rate: {name} {:.0} MB/s",
            data.len() as f64 / secs / 1e6
        );
    };
    rate("base64-flood-fast-path", &flood, true);
    rate("base64-flood-full-parse", &flood[..16 << 20], false);
    rate("curses-like", &curses, true);
}
