//! Help and usage errors carry colour only where a person reads them: on a
//! terminal, and not when `NO_COLOR` is set. `hupsafe --help > file` and
//! `| less` must be plain text.

use hupsafe_tests::cli::{hupsafe_bin, Io, Outcome, Run};
use hupsafe_tests::sandbox::Sandbox;

fn run(args: &[&str], io: [Io; 3], no_color: bool) -> Outcome {
    let tmp = Sandbox::new("colour");
    let mut r = Run::new(hupsafe_bin(), tmp.root())
        .args(args)
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", tmp.root())
        .env("TERM", "xterm-256color")
        .io(io);
    if no_color {
        r = r.env("NO_COLOR", "1");
    }
    r.run(tmp.root())
}

fn escapes(bytes: &[u8]) -> usize {
    bytes.windows(2).filter(|w| w == b"\x1b[").count()
}

fn tty() -> [Io; 3] {
    [Io::Tty, Io::Tty, Io::Tty]
}

#[test]
fn help_on_a_terminal_is_coloured_and_plain_everywhere_else() {
    // The control: on a terminal, clap's styles are there.
    let on_tty = run(&["--help"], tty(), false);
    assert!(
        escapes(&on_tty.tty) > 0,
        "no colour on a terminal:\n{}",
        String::from_utf8_lossy(&on_tty.tty)
    );

    let to_file = run(
        &["--help"],
        [Io::Null, Io::File(Vec::new()), Io::Tty],
        false,
    );
    let text = to_file.files[1].clone().expect("stdout was a file");
    assert!(
        String::from_utf8_lossy(&text).contains("Usage:"),
        "no help in the file"
    );
    assert_eq!(escapes(&text), 0, "escape codes in `--help > file`");

    let no_color = run(&["--help"], tty(), true);
    assert!(String::from_utf8_lossy(&no_color.tty).contains("Usage:"));
    assert_eq!(escapes(&no_color.tty), 0, "colour despite NO_COLOR");
}

#[test]
fn usage_errors_follow_the_terminal_too() {
    let on_tty = run(&["--no-such-option"], tty(), false);
    assert!(escapes(&on_tty.tty) > 0, "no colour on a terminal");

    let to_file = run(
        &["--no-such-option"],
        [Io::Null, Io::Null, Io::File(Vec::new())],
        false,
    );
    let text = to_file.files[2].clone().expect("stderr was a file");
    assert!(String::from_utf8_lossy(&text).contains("--no-such-option"));
    assert_eq!(
        escapes(&text),
        0,
        "escape codes in a redirected usage error"
    );

    let no_color = run(&["--no-such-option"], tty(), true);
    assert_eq!(escapes(&no_color.tty), 0, "colour despite NO_COLOR");
}

#[test]
fn a_dumb_terminal_gets_no_colour() {
    let tmp = Sandbox::new("colour");
    let out = Run::new(hupsafe_bin(), tmp.root())
        .arg("--help")
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", tmp.root())
        .env("TERM", "dumb")
        .io(tty())
        .run(tmp.root());
    assert!(String::from_utf8_lossy(&out.tty).contains("Usage:"));
    assert_eq!(escapes(&out.tty), 0, "colour on TERM=dumb");
}
