//! The plain-run skip (docs/SCREEN-MODEL.md, "Fast path"): in a long run
//! of short plain lines (printable ASCII, at most a row wide, ending in
//! CR LF) only the start and the last screenful matter to the model; the
//! lines between go to the scrollback as text, unparsed. The result is the
//! same screen and the same scrollback as a full parse (tested below).

/// The end (just past the LF) of the plain line starting at `at`, if the
/// line there is one: at most `cols` printable ASCII characters, then one
/// or more CR, then LF.
pub fn plain_line(data: &[u8], at: usize, cols: usize) -> Option<usize> {
    let rest = &data[at..];
    let text = rest
        .iter()
        .take(cols + 1)
        .take_while(|&&b| (0x20..0x7f).contains(&b))
        .count();
    if text > cols {
        return None;
    }
    let crs = rest[text..].iter().take_while(|&&b| b == b'\r').count();
    (crs > 0 && rest.get(text + crs) == Some(&b'\n')).then_some(at + text + crs + 1)
}

/// The text of a plain line, as a screen row shows it.
pub fn row_text(line: &[u8]) -> &[u8] {
    let text = line
        .iter()
        .position(|&b| b == b'\r')
        .map_or(line, |p| &line[..p]);
    let end = text.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_short_printable_and_end_in_cr_lf() {
        assert_eq!(plain_line(b"abc\r\nx", 0, 80), Some(5));
        assert_eq!(plain_line(b"abc\r\r\nx", 0, 80), Some(6));
        assert_eq!(plain_line(b"\r\n", 0, 80), Some(2));
        assert_eq!(
            plain_line(b"abc\n", 0, 80),
            None,
            "no CR: the column is not 0"
        );
        assert_eq!(plain_line(b"abc\r\n", 0, 2), None, "wider than the screen");
        assert_eq!(plain_line(b"ab\r\n", 0, 2), Some(4));
        assert_eq!(plain_line(b"a\tb\r\n", 0, 80), None);
        assert_eq!(plain_line(b"a\x1b[mb\r\n", 0, 80), None);
        assert_eq!(plain_line("é\r\n".as_bytes(), 0, 80), None);
        assert_eq!(plain_line(b"abc\r", 0, 80), None, "not complete");
        assert_eq!(row_text(b"ab  \r\n"), b"ab");
        assert_eq!(row_text(b"  \r\n"), b"");
    }
}
