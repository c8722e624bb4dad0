//! Where a character of the job's output stands among escape sequences,
//! for the passes that rewrite text before avt reads it (the clusters of
//! `cluster.rs`, the line drawing of `graphics.rs`): one grammar for both,
//! as avt and vte read it (ECMA-48: C0 controls act inside sequences, CAN
//! and SUB cancel them, strings end with BEL or ST).

/// The state between two characters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum State {
    #[default]
    Ground,
    /// After ESC, with its intermediate byte if any (`(`, `)`).
    Escape(Option<char>),
    /// A control sequence, until its final byte; `!` seen (DECSTR).
    Csi(bool),
    /// A string (OSC, DCS, SOS, PM, APC), until BEL or ST.
    Str,
    /// ESC inside a string: ST if `\` follows.
    StrEscape,
}

/// What a character was.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    /// Text printed in the ground state.
    Printed,
    /// A C0 control acting (not inside a string).
    Control,
    /// The final character of `ESC` + intermediate (or none) + this.
    Escape(Option<char>, char),
    /// The final character of a control sequence (`!` among its bytes).
    Csi(bool, char),
    /// Anything else: part of a sequence or string, or its end.
    Other,
}

impl State {
    /// Moves past `c`; what it was.
    pub fn next(&mut self, c: char) -> Step {
        let (state, step) = match *self {
            State::Ground => match c {
                '\x1b' => (State::Escape(None), Step::Other),
                '\u{9b}' => (State::Csi(false), Step::Other),
                '\u{90}' | '\u{9d}' | '\u{98}' | '\u{9e}' | '\u{9f}' => (State::Str, Step::Other),
                c if c.is_control() => (State::Ground, Step::Control),
                _ => (State::Ground, Step::Printed),
            },
            State::Escape(inter) => match c {
                '\x1b' => (State::Escape(None), Step::Other),
                // CAN and SUB cancel a sequence.
                '\x18' | '\x1a' => (State::Ground, Step::Control),
                c if c < ' ' => (State::Escape(inter), Step::Control),
                '[' if inter.is_none() => (State::Csi(false), Step::Other),
                ']' | 'P' | 'X' | '^' | '_' if inter.is_none() => (State::Str, Step::Other),
                ' '..='/' => (State::Escape(Some(c)), Step::Other),
                _ => (State::Ground, Step::Escape(inter, c)),
            },
            State::Csi(bang) => match c {
                '\x1b' => (State::Escape(None), Step::Other),
                '\x18' | '\x1a' => (State::Ground, Step::Control),
                c if c < ' ' => (State::Csi(bang), Step::Control),
                '@'..='~' => (State::Ground, Step::Csi(bang, c)),
                '!' => (State::Csi(true), Step::Other),
                _ => (State::Csi(bang), Step::Other),
            },
            State::Str => match c {
                '\x07' | '\u{9c}' => (State::Ground, Step::Other),
                '\x1b' => (State::StrEscape, Step::Other),
                _ => (State::Str, Step::Other),
            },
            State::StrEscape => match c {
                '\\' => (State::Ground, Step::Other),
                '\x1b' => (State::StrEscape, Step::Other),
                _ => (State::Str, Step::Other),
            },
        };
        *self = state;
        step
    }
}

/// The length of the parameters of the SGR that a control sequence's body
/// (what follows `CSI`) is, if it is one: digits, `;` and `:`, then `m`.
pub fn sgr_params(body: &[u8]) -> Option<usize> {
    let len = body
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b';' || **b == b':')
        .count();
    (body.get(len) == Some(&b'm')).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(s: &str) -> Vec<Step> {
        let mut st = State::default();
        s.chars().map(|c| st.next(c)).collect()
    }

    #[test]
    fn text_sequences_and_strings_are_told_apart() {
        use Step::*;
        assert_eq!(
            steps("a\x1b(0b\x1b[1;2!pc\x1b]2;t\x07d\x1bP q\x1b\\e"),
            [
                Printed,
                Other,
                Other,
                Escape(Some('('), '0'),
                Printed,
                Other,
                Other,
                Other,
                Other,
                Other,
                Other,
                Csi(true, 'p'),
                Printed,
                Other,
                Other,
                Other,
                Other,
                Other,
                Other,
                Printed,
                Other,
                Other,
                Other,
                Other,
                Other,
                Other,
                Printed
            ]
        );
        // C0 controls act inside a sequence; CAN cancels it.
        assert_eq!(
            steps("\x1b[1\x0e2m"),
            [Other, Other, Other, Control, Other, Csi(false, 'm')]
        );
        assert_eq!(
            steps("\x1b[1\x18x"),
            [Other, Other, Other, Control, Printed]
        );
    }
}
