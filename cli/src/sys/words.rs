//! Shell words: what bash and zsh take as their own, not as programs (their
//! keywords and builtins: `hupsafe run` explains that it cannot run them,
//! and `hupsafe mark` refuses them, as a function of that name would change
//! the shell itself), and quoting a string for them.

/// Keywords of bash and zsh.
pub const KEYWORDS: &[&str] = &[
    "!",
    "[[",
    "]]",
    "{",
    "}",
    "case",
    "coproc",
    "do",
    "done",
    "elif",
    "else",
    "esac",
    "fi",
    "for",
    "foreach",
    "function",
    "if",
    "in",
    "nocorrect",
    "noglob",
    "repeat",
    "select",
    "then",
    "time",
    "until",
    "while",
];

/// Builtins of bash and zsh that are not (also) ordinary programs, or that
/// steer the shell itself.
pub const BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "alias",
    "autoload",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "command",
    "compgen",
    "complete",
    "continue",
    "declare",
    "dirs",
    "disown",
    "echo",
    "emulate",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "functions",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "print",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "setopt",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unfunction",
    "unset",
    "unsetopt",
    "wait",
    "whence",
    "zmodload",
];

/// Whether `word` is a keyword or builtin of bash or zsh.
pub fn is_shell_word(word: &str) -> bool {
    KEYWORDS.contains(&word) || BUILTINS.contains(&word)
}

/// Quotes a string for bash and zsh: single quotes, with each `'` written
/// as `'\''`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A word as a shell would show it: as it is when no shell would read it
/// otherwise, else quoted ([`quote`]).
pub fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        quote(w)
    }
}

/// Words as a shell command line ([`shell_word`] each, spaces between):
/// what the user would type to run them again.
pub fn shell_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` safe to print on a terminal: control characters (C0, DEL and C1,
/// which a terminal would obey: colours, titles, cursor moves, a cleared
/// screen) written as escapes (`\x1b`, `\u{9b}`), a backslash doubled so
/// an escape cannot be faked. For text hupsafe did not write itself: paths
/// from the file system, a program's words.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{shell_line, visible};

    #[test]
    fn words_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_line(&["python", "train.py"]), "python train.py");
        assert_eq!(
            shell_line(&["echo", "a b", "it's", ""]),
            "echo 'a b' 'it'\\''s' ''"
        );
        assert_eq!(shell_line(&["sh", "-c", "exit 3"]), "sh -c 'exit 3'");
    }

    #[test]
    fn control_characters_become_escapes() {
        assert_eq!(visible("plain/path é"), "plain/path é");
        assert_eq!(visible("a\u{1b}[2Jb\u{7}"), "a\\x1b[2Jb\\x07");
        assert_eq!(visible("\u{9b}31m\u{7f}"), "\\u{9b}31m\\x7f");
        assert_eq!(
            visible("back\\x1b"),
            "back\\\\x1b",
            "an escape cannot be faked"
        );
    }
}
