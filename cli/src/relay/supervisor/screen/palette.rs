//! The first 16 colours as the program chose them. `ESC[91m` and
//! `ESC[38;5;9m` are the same colour on every terminal, but terminals and
//! emulators keep which form set it (xterm.js as a 16-colour or a
//! 256-colour mode, pyte as `brightred` or `ff0000`, tmux as colour 91 or
//! 9 of 256); avt keeps `Indexed(9)` for both and writes it back as `91`.
//! So, before the text reaches avt, a colour 0-15 set in the 256-colour
//! form (`38;5;n`, `48;5;n`, `58;5;n`, or with colons) becomes an RGB
//! colour nobody uses, a stand-in avt keeps as is; the drawing writes it
//! back in the 256-colour form ([`original`], [`write_back`]). The RGB colour itself, if a
//! program sets it, is moved one step of blue away (invisible), so that it
//! is never mistaken for a stand-in.
//!
//! Only whole sequences within one read are rewritten: one cut by the end
//! of a read keeps avt's form (the same colour). Docs: docs/SCREEN-MODEL.md,
//! §5.

use super::escapes;

/// The stand-in for colour n (0-15) in the 256-colour form: RGB (n, G, B).
const G: u8 = 165;
const B: u8 = 90;

/// The 256-colour index an RGB colour of the model stands for, if it is a
/// stand-in.
pub fn original(r: u8, g: u8, b: u8) -> Option<u8> {
    (r < 16 && (g, b) == (G, B)).then_some(r)
}

/// Rewrites the SGR sequences of `text` (the next stretch of output, for
/// avt) that set a colour 0-15 in the 256-colour form, or the stand-ins'
/// own RGB colour. Called only for stretches that may hold one
/// ([`super::Notable`]).
pub fn mark(text: &mut String) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\x1b[") {
        let (before, seq) = rest.split_at(at);
        out.push_str(before);
        let body = &seq[2..];
        out.push_str("\x1b[");
        match escapes::sgr_params(body.as_bytes()) {
            Some(params) => {
                rewrite(&body[..params], &mut out);
                out.push('m');
                rest = &body[params + 1..];
            }
            None => rest = body,
        }
    }
    out.push_str(rest);
    *text = out;
}

/// One SGR's parameters, with the colours 0-15 of the 256-colour form as
/// stand-ins.
fn rewrite(params: &str, out: &mut String) {
    use std::fmt::Write;
    // Semicolon form: the colour's words are parameters of their own.
    let words: Vec<&str> = params.split(';').collect();
    let mut i = 0;
    let mut first = true;
    let mut put = |out: &mut String, s: std::fmt::Arguments| {
        if !std::mem::take(&mut first) {
            out.push(';');
        }
        let _ = out.write_fmt(s);
    };
    while i < words.len() {
        let w = words[i];
        let colour = matches!(w, "38" | "48" | "58");
        let num = |k: usize| words.get(i + k).and_then(|s| s.parse::<u16>().ok());
        if colour && words.get(i + 1) == Some(&"5") {
            if let Some(n) = num(2).filter(|&n| n < 16) {
                put(out, format_args!("{w};2;{n};{G};{B}"));
                i += 3;
                continue;
            }
        }
        if colour && words.get(i + 1) == Some(&"2") {
            if let (Some(r), Some(g), Some(b)) = (num(2), num(3), num(4)) {
                if r < 16 && (g, b) == (G as u16, B as u16) {
                    put(out, format_args!("{w};2;{r};{G};{}", B + 1));
                    i += 5;
                    continue;
                }
            }
        }
        // Colon form: all in one parameter (`38:5:9`, `38:2::r:g:b`).
        if let Some((head, tail)) = w.split_once(':') {
            if matches!(head, "38" | "48" | "58") {
                let parts: Vec<&str> = tail.split(':').collect();
                let n = |k: usize| parts.get(k).and_then(|s| s.parse::<u16>().ok());
                match (parts.first(), parts.len()) {
                    (Some(&"5"), 2) if n(1).is_some_and(|n| n < 16) => {
                        put(out, format_args!("{head}:2:{}:{G}:{B}", n(1).unwrap_or(0)));
                        i += 1;
                        continue;
                    }
                    (Some(&"2"), _) => {
                        // With or without the colour space's word.
                        let k = parts.len().saturating_sub(3);
                        if k >= 1
                            && n(k).is_some_and(|r| r < 16)
                            && (n(k + 1), n(k + 2)) == (Some(G as u16), Some(B as u16))
                        {
                            put(
                                out,
                                format_args!("{head}:2:{}:{G}:{}", n(k).unwrap_or(0), B + 1),
                            );
                            i += 1;
                            continue;
                        }
                    }
                    _ => {}
                }
            }
        }
        put(out, format_args!("{w}"));
        i += 1;
    }
}

/// An SGR's parameters as the drawing writes them (from avt's dump, whose
/// colours have colons: `38:5:n`, `38:2:r:g:b`, ITU T.416): with
/// semicolons (`38;5;n`, as xterm and most programs write them; the Linux
/// console, pyte and older terminals read no colons, and show the rest as
/// text), and each stand-in back in the 256-colour form it stands for.
pub fn write_back(params: &str, out: &mut Vec<u8>) {
    use std::io::Write;
    for (i, group) in params.split(';').enumerate() {
        if i > 0 {
            out.push(b';');
        }
        if !["38:", "48:", "58:"].iter().any(|c| group.starts_with(c)) {
            out.extend_from_slice(group.as_bytes());
            continue;
        }
        let parts: Vec<&str> = group.split(':').collect();
        let n = |k: usize| parts.get(k).and_then(|s| s.parse::<u8>().ok());
        let kept = match (parts.get(1), n(2), n(3), n(4)) {
            (Some(&"2"), Some(r), Some(g), Some(b)) if parts.len() == 5 => original(r, g, b),
            _ => None,
        };
        match kept {
            Some(i) => {
                let _ = write!(out, "{};5;{i}", parts[0]);
            }
            None => out.extend(group.bytes().map(|b| if b == b':' { b';' } else { b })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(s: &str) -> String {
        let mut t = s.to_string();
        if super::super::Notable::of(&t).colour {
            mark(&mut t);
        }
        t
    }

    #[test]
    fn the_first_16_colours_of_the_256_form_become_stand_ins() {
        assert_eq!(marked("\x1b[38;5;9mx"), "\x1b[38;2;9;165;90mx");
        assert_eq!(
            marked("a\x1b[1;48;5;0;38;5;100mb\x1b[38:5:15mc"),
            "a\x1b[1;48;2;0;165;90;38;5;100mb\x1b[38:2:15:165:90mc"
        );
        assert_eq!(original(9, G, B), Some(9));
        assert_eq!(original(16, G, B), None);
    }

    #[test]
    fn other_sequences_and_colours_are_left_as_they_are() {
        for s in [
            "\x1b[91mx\x1b[38;5;16m\x1b[38;2;1;2;3m\x1b[5;5H",
            "plain 8;5; text",
            "\x1b[38;5mcut",
        ] {
            assert_eq!(marked(s), s);
        }
    }

    #[test]
    fn the_stand_ins_own_colour_is_moved_away_from_it() {
        assert_eq!(marked("\x1b[38;2;9;165;90m"), "\x1b[38;2;9;165;91m");
        assert_eq!(marked("\x1b[48:2::3:165:90m"), "\x1b[48:2:3:165:91m");
    }
}
