//! The pieces of glibc and gnulib behaviour that the `nohup` drop-in must
//! reproduce byte for byte: `getopt_long`'s parsing and error wording for
//! GNU-standard options, `quoteaf` (shell-escape-always quoting),
//! `file_name_concat`, `set_program_name`, and message translation (the
//! same gettext catalogs, `coreutils` and `libc`, with the same msgids).
//!
//! Everything here works on bytes: argv and file names need not be UTF-8,
//! and GNU prints them as they are (or escapes them, as quoteaf does).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

/// The locale-dependent character tests gnulib's quotearg uses, and
/// gettext. Rust's libc crate does not bind these.
mod ffi {
    use std::os::raw::{c_char, c_int};

    #[repr(C)]
    pub struct MbState {
        _count: c_int,
        _value: u32,
    }

    impl MbState {
        pub fn new() -> MbState {
            MbState {
                _count: 0,
                _value: 0,
            }
        }
    }

    extern "C" {
        pub fn mbrtowc(pwc: *mut u32, s: *const c_char, n: usize, ps: *mut MbState) -> usize;
        pub fn iswprint(wc: u32) -> c_int;
        pub fn __ctype_get_mb_cur_max() -> usize;
        pub fn dgettext(domain: *const c_char, msgid: *const c_char) -> *mut c_char;
        pub fn bindtextdomain(domain: *const c_char, dir: *const c_char) -> *mut c_char;
    }
}

/// Adopts the user's locale (`setlocale(LC_ALL, "")`), as coreutils does
/// first thing: it decides which bytes quoteaf prints as they are, and the
/// language of the messages (coreutils' and libc's catalogs, as GNU nohup
/// reads them) and of strerror's words.
pub fn use_environment_locale() {
    // SAFETY: called once at start-up, before any other thread exists;
    // NUL-terminated arguments.
    unsafe {
        libc::setlocale(libc::LC_ALL, c"".as_ptr());
        ffi::bindtextdomain(COREUTILS.as_ptr(), c"/usr/share/locale".as_ptr());
    }
}

/// The gettext domain of coreutils' own messages.
pub const COREUTILS: &CStr = c"coreutils";
/// The gettext domain of glibc's messages (getopt's).
pub const LIBC: &CStr = c"libc";

/// `dgettext(domain, msgid)`: the message as GNU nohup would print it in
/// the current locale (the msgid itself when there is no translation).
pub fn tr(domain: &CStr, msgid: &CStr) -> Vec<u8> {
    // SAFETY: NUL-terminated arguments; dgettext returns a NUL-terminated
    // string (a catalog entry or msgid itself).
    unsafe { CStr::from_ptr(ffi::dgettext(domain.as_ptr(), msgid.as_ptr())) }
        .to_bytes()
        .to_vec()
}

/// printf for the formats GNU's messages use: `%s`, `%c` (a one-byte
/// argument), `%%`, and a translation's positional `%N$s`/`%N$c`.
pub fn format(fmt: &[u8], args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fmt.len() + 32);
    let mut next = 0;
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            out.push(fmt[i]);
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut index = None;
        let digits = fmt[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && fmt.get(j + digits) == Some(&b'$') {
            let n: usize = std::str::from_utf8(&fmt[j..j + digits])
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            index = n.checked_sub(1);
            j += digits + 1;
        }
        match fmt.get(j) {
            Some(b's') | Some(b'c') => {
                let k = index.unwrap_or_else(|| {
                    next += 1;
                    next - 1
                });
                out.extend_from_slice(args.get(k).copied().unwrap_or(b""));
                i = j + 1;
            }
            Some(b'%') => {
                out.push(b'%');
                i = j + 1;
            }
            _ => {
                out.push(b'%');
                i += 1;
            }
        }
    }
    out
}

/// gnulib's `set_program_name`: argv[0] as given, except that a libtool
/// wrapper's `/.libs/lt-` prefix is dropped.
pub fn program_name(argv0: &[u8]) -> &[u8] {
    let base_start = argv0.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    if base_start >= 7 && &argv0[base_start - 7..base_start] == b"/.libs/" {
        let base = &argv0[base_start..];
        return base.strip_prefix(b"lt-").unwrap_or(base);
    }
    argv0
}

/// What one `getopt_long(argc, argv, "+", {help, version})` call found,
/// which is all coreutils' `parse_gnu_standard_options_only` does.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Help,
    Version,
    /// Options ended; the operands start at this index of argv.
    Operands(usize),
    /// getopt rejected argv[1]; the message is getopt's own (with its
    /// newline), printed before `Try '... --help'`.
    Error(Vec<u8>),
}

const LONG_OPTIONS: [&[u8]; 2] = [b"help", b"version"];

/// glibc's getopt_long with a "+" optstring and the two GNU-standard long
/// options, called once: exactly one option is looked at.
pub fn parse_standard_options(argv: &[&[u8]]) -> Parsed {
    let argv0 = argv.first().copied().unwrap_or(b"");
    let Some(&arg) = argv.get(1) else {
        return Parsed::Operands(1);
    };
    if arg == b"--" {
        return Parsed::Operands(2);
    }
    // REQUIRE_ORDER: the first non-option ends the options.
    if arg.len() < 2 || arg[0] != b'-' {
        return Parsed::Operands(1);
    }
    let msg =
        |msgid: &CStr, args: &[&[u8]]| -> Parsed { Parsed::Error(format(&tr(LIBC, msgid), args)) };
    if arg[1] != b'-' {
        // No short options exist: the first letter is the error, as a raw
        // byte (getopt prints it with %c).
        return msg(c"%s: invalid option -- '%c'\n", &[argv0, &arg[1..2]]);
    }
    let rest = &arg[2..];
    let name_end = rest.iter().position(|&b| b == b'=').unwrap_or(rest.len());
    let name = &rest[..name_end];
    let has_value = name_end < rest.len();
    let found = match LONG_OPTIONS.iter().position(|o| *o == name) {
        Some(i) => Some(i),
        None => {
            let matches: Vec<usize> = (0..LONG_OPTIONS.len())
                .filter(|&i| LONG_OPTIONS[i].starts_with(name))
                .collect();
            match matches.len() {
                0 => None,
                1 => Some(matches[0]),
                _ => {
                    let mut m = format(
                        &tr(LIBC, c"%s: option '%s%s' is ambiguous; possibilities:"),
                        &[argv0, b"--", rest],
                    );
                    for i in matches {
                        m.extend_from_slice(b" '--");
                        m.extend_from_slice(LONG_OPTIONS[i]);
                        m.push(b'\'');
                    }
                    m.push(b'\n');
                    return Parsed::Error(m);
                }
            }
        }
    };
    match found {
        None => msg(c"%s: unrecognized option '%s%s'\n", &[argv0, b"--", rest]),
        Some(i) if has_value => msg(
            c"%s: option '%s%s' doesn't allow an argument\n",
            &[argv0, b"--", LONG_OPTIONS[i]],
        ),
        Some(0) => Parsed::Help,
        Some(_) => Parsed::Version,
    }
}

/// gnulib's `file_name_concat(dir, base, NULL)`: trailing slashes of `dir`
/// are dropped and one slash added, except after a root.
pub fn file_name_concat(dir: &[u8], base: &[u8]) -> Vec<u8> {
    // last_component: skip leading slashes, then the start of the last
    // run of non-slashes.
    let mut start = dir.iter().position(|&b| b != b'/').unwrap_or(dir.len());
    let mut last_was_slash = false;
    for (i, &b) in dir.iter().enumerate().skip(start) {
        if b == b'/' {
            last_was_slash = true;
        } else if last_was_slash {
            start = i;
            last_was_slash = false;
        }
    }
    // base_len: the last component without its trailing slashes.
    let comp = &dir[start..];
    let mut comp_len = comp.len();
    while comp_len > 1 && comp[comp_len - 1] == b'/' {
        comp_len -= 1;
    }
    let dir_len = start + comp_len;
    let mut out = dir[..dir_len].to_vec();
    if comp_len > 0 {
        if dir[dir_len - 1] != b'/' && base.first() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(base);
    } else {
        // A root: skip base's leading slashes.
        let skip = base.iter().take_while(|&&b| b == b'/').count();
        out.extend_from_slice(&base[skip..]);
    }
    out
}

/// One character as quotearg sees it: its length, and whether the
/// locale calls it printable.
fn next_char(s: &[u8], unibyte: bool) -> (usize, bool) {
    if unibyte {
        // SAFETY: isprint on an unsigned char value.
        return (1, unsafe { libc::isprint(s[0] as c_int) } != 0);
    }
    let mut state = ffi::MbState::new();
    let mut wc: u32 = 0;
    // SAFETY: s is a valid buffer of s.len() bytes; state is zeroed.
    let n = unsafe { ffi::mbrtowc(&mut wc, s.as_ptr() as *const c_char, s.len(), &mut state) };
    match n {
        // An invalid byte: escaped on its own.
        usize::MAX => (0, false),
        // Incomplete at the end of the string: the rest is escaped.
        n if n == usize::MAX - 1 => (s.len(), false),
        0 => (1, false),
        // SAFETY: iswprint on a decoded character.
        n => (n, unsafe { ffi::iswprint(wc) } != 0),
    }
}

/// coreutils' `quoteaf`: gnulib quotearg in shell-escape-always style,
/// e.g. `'nohup.out'`, `"it's"`, `'a'$'\n''b'`. Depends on the locale
/// (LC_CTYPE) as gnulib does.
pub fn quoteaf(arg: &[u8]) -> Vec<u8> {
    // SAFETY: reads the current locale's MB_CUR_MAX.
    let unibyte = unsafe { ffi::__ctype_get_mb_cur_max() } == 1;
    let mut out = vec![b'\''];
    let mut pending_shell_escape_end = false;
    let mut encountered_single_quote = false;
    let mut all_compat = true;

    // Opens `$'` if needed and writes the backslash of an escape.
    fn start_esc(out: &mut Vec<u8>, pending: &mut bool) {
        if !*pending {
            out.extend_from_slice(b"'$'");
            *pending = true;
        }
        out.push(b'\\');
    }
    // Closes a `$'...'` run before a character that needs no escape.
    fn end_esc(out: &mut Vec<u8>, pending: &mut bool) {
        if *pending {
            out.extend_from_slice(b"''");
            *pending = false;
        }
    }

    let mut i = 0;
    while i < arg.len() {
        let c = arg[i];
        let simple_escape = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            _ => None,
        };
        if let Some(e) = simple_escape {
            start_esc(&mut out, &mut pending_shell_escape_end);
            out.push(e);
            all_compat = false;
            i += 1;
            continue;
        }
        let compat = match c {
            b'\'' => {
                encountered_single_quote = true;
                out.extend_from_slice(b"'\\'");
                pending_shell_escape_end = false;
                true
            }
            b'{' | b'}' => arg.len() == 1,
            b'#' | b'~' => i == 0,
            b' ' => true,
            b'!' | b'"' | b'$' | b'&' | b'(' | b')' | b'*' | b';' | b'<' | b'=' | b'>' | b'['
            | b'^' | b'`' | b'|' | b'?' | b'\\' => false,
            b'%' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b']' | b'_' => true,
            c if c.is_ascii_alphanumeric() => true,
            _ => {
                let (m, printable) = next_char(&arg[i..], unibyte);
                if printable && m <= 1 {
                    true
                } else {
                    if !printable {
                        all_compat = false;
                    }
                    let count = m.max(1);
                    for &b in &arg[i..i + count] {
                        if printable {
                            end_esc(&mut out, &mut pending_shell_escape_end);
                            out.push(b);
                        } else {
                            start_esc(&mut out, &mut pending_shell_escape_end);
                            out.push(b'0' + (b >> 6));
                            out.push(b'0' + ((b >> 3) & 7));
                            out.push(b'0' + (b & 7));
                        }
                    }
                    i += count;
                    continue;
                }
            }
        };
        end_esc(&mut out, &mut pending_shell_escape_end);
        out.push(c);
        if !compat {
            all_compat = false;
        }
        i += 1;
    }
    if encountered_single_quote && all_compat {
        // Nothing but an apostrophe needs quoting: C style reads better.
        let mut c = Vec::with_capacity(arg.len() + 2);
        c.push(b'"');
        c.extend_from_slice(arg);
        c.push(b'"');
        return c;
    }
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[u8]) -> String {
        String::from_utf8_lossy(&quoteaf(s)).into_owned()
    }

    #[test]
    fn quoting_matches_coreutils_in_the_c_locale() {
        // The test harness never calls setlocale: this is the "C" locale.
        assert_eq!(q(b"nohup.out"), "'nohup.out'");
        assert_eq!(q(b"it's"), "\"it's\"");
        assert_eq!(q(b"a\nb"), "'a'$'\\n''b'");
        assert_eq!(q(b"\nb"), "''$'\\n''b'");
        assert_eq!(q(b"a\n"), "'a'$'\\n'");
        assert_eq!(q(b"a b"), "'a b'");
        assert_eq!(q(b"a$b"), "'a$b'");
        assert_eq!(q(b"it's $x"), "'it'\\''s $x'");
        assert_eq!(q(b"x\xe9"), "'x'$'\\351'");
        assert_eq!(q(b"\x01\x02"), "''$'\\001\\002'");
        assert_eq!(q(b""), "''");
        assert_eq!(q(b"a\\b"), "'a\\b'");
        assert_eq!(q(b"@'"), "\"@'\"");
        assert_eq!(q(b"?'"), "'?'\\'''");
    }

    #[test]
    fn getopt_words() {
        let p = |args: &[&str]| {
            let mut v: Vec<&[u8]> = vec![b"nohup"];
            v.extend(args.iter().map(|a| a.as_bytes()));
            parse_standard_options(&v)
        };
        let err = |s: &str| Parsed::Error(format!("{s}\n").into_bytes());
        assert_eq!(p(&[]), Parsed::Operands(1));
        assert_eq!(p(&["--"]), Parsed::Operands(2));
        assert_eq!(p(&["-"]), Parsed::Operands(1));
        assert_eq!(p(&["cmd", "--help"]), Parsed::Operands(1));
        assert_eq!(p(&["--h"]), Parsed::Help);
        assert_eq!(p(&["--v", "--foo"]), Parsed::Version);
        assert_eq!(p(&["--foo=1"]), err("nohup: unrecognized option '--foo=1'"));
        assert_eq!(
            p(&["--he=x"]),
            err("nohup: option '--help' doesn't allow an argument")
        );
        assert_eq!(p(&["-ab"]), err("nohup: invalid option -- 'a'"));
        assert_eq!(
            p(&["--=x"]),
            err("nohup: option '--=x' is ambiguous; possibilities: '--help' '--version'")
        );
    }

    #[test]
    fn format_handles_positional_arguments() {
        assert_eq!(format(b"%s: x -- '%c'\n", &[b"p", b"q"]), b"p: x -- 'q'\n");
        assert_eq!(
            format(b"%2$s then %1$s, 100%%", &[b"a", b"b"]),
            b"b then a, 100%"
        );
        assert_eq!(format(b"%s%s", &[b"--", b"foo"]), b"--foo");
    }

    #[test]
    fn concat_like_gnulib() {
        let c = |d: &str| String::from_utf8(file_name_concat(d.as_bytes(), b"nohup.out")).unwrap();
        assert_eq!(c("/home/u"), "/home/u/nohup.out");
        assert_eq!(c("/home/u//"), "/home/u/nohup.out");
        assert_eq!(c("/"), "/nohup.out");
        assert_eq!(c("//"), "//nohup.out");
        assert_eq!(c(""), "nohup.out");
        assert_eq!(c("rel"), "rel/nohup.out");
    }

    #[test]
    fn program_name_drops_libtool_prefix() {
        assert_eq!(program_name(b"/usr/bin/nohup"), b"/usr/bin/nohup");
        assert_eq!(program_name(b"/x/.libs/lt-nohup"), b"nohup");
        assert_eq!(program_name(b"nohup"), b"nohup");
    }
}
