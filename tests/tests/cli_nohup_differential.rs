//! hupsafe started as `nohup` against GNU nohup (`/usr/bin/nohup`,
//! coreutils 9.1), case by case: each case runs once with each, from
//! identical fresh directories and with the same argv[0], and everything
//! observable must match: exit status, what reached the terminal, the
//! files standing in for fds 0-2, the files created in the working
//! directory and in $HOME (name, mode, content), and what the command
//! itself was handed (argv, fds 0-2 and whether they are terminals,
//! readable, appending, which file; descriptors left open; SIGHUP
//! disposition and mask; umask).
//!
//! The intentional differences, and only these, are allowed:
//! - hupsafe adds its shim to the command's LD_PRELOAD (that is the point;
//!   each case also checks it is there);
//! - `--version` names hupsafe (`nohup (hupsafe) VERSION`) instead of
//!   claiming to be GNU coreutils;
//! - `--help` adds one paragraph about the shim, and ends with hupsafe's
//!   documentation pointers instead of GNU's web links.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hupsafe_tests::cli::{
    child_bin, describe_dir, hupsafe_bin, is_hupsafe_shim, is_root, musl_child_bin, nohup_link,
    normalize, os, test_locale, Io, Outcome, Run,
};
use hupsafe_tests::Sandbox;

const GNU_NOHUP: &str = "/usr/bin/nohup";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    Gnu,
    Hupsafe,
}

/// One side of a case: a fresh directory tree T with `bin/nohup`,
/// `cwd/`, `home/`, `io/` (files for fds 0-2), `lib/` (the shim) and the
/// child's report at `T/report`.
struct Side {
    tmp: Sandbox,
    nohup: PathBuf,
}

impl Side {
    fn new(which: Impl) -> Side {
        let tmp = Sandbox::new(match which {
            Impl::Gnu => "gnu",
            Impl::Hupsafe => "hs",
        });
        let target: PathBuf = match which {
            Impl::Gnu => GNU_NOHUP.into(),
            Impl::Hupsafe => hupsafe_bin().to_path_buf(),
        };
        let nohup = nohup_link(&tmp.dir("bin"), &target);
        for d in ["cwd", "home", "io", "lib"] {
            tmp.dir(d);
        }
        Side { tmp, nohup }
    }

    fn root(&self) -> &Path {
        self.tmp.root()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }
}

/// A case: how to call nohup, given a side's directories.
struct Case {
    name: String,
    io: [Io; 3],
    /// Arguments after argv[0]; `{child}` is the reporting child,
    /// `{T}` the side's root directory.
    args: Vec<OsString>,
    argv0: String,
    env: Vec<(String, Option<String>)>,
    umask: u32,
    /// Run in this directory instead of `T/cwd` (`{T}` allowed).
    cwd: Option<String>,
    /// Prepares the side's directories before the run.
    setup: Option<fn(&Side)>,
    /// Whether hupsafe should have given the command its shim.
    shim: bool,
}

impl Case {
    fn new(name: impl Into<String>, io: [Io; 3]) -> Case {
        Case {
            name: name.into(),
            io,
            args: vec!["{child}".into()],
            argv0: "nohup".into(),
            env: Vec::new(),
            umask: 0o022,
            cwd: None,
            setup: None,
            shim: true,
        }
    }

    /// hupsafe must leave the shim out, silently, and still match GNU.
    fn without_shim(mut self) -> Case {
        self.shim = false;
        self
    }

    fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(OsString::from).collect();
        self
    }

    fn raw_args(mut self, args: Vec<OsString>) -> Case {
        self.args = args;
        self
    }

    fn argv0(mut self, a: &str) -> Case {
        self.argv0 = a.into();
        self
    }

    fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.into(), Some(v.into())));
        self
    }

    fn unset(mut self, k: &str) -> Case {
        self.env.push((k.into(), None));
        self
    }

    fn umask(mut self, m: u32) -> Case {
        self.umask = m;
        self
    }

    fn cwd(mut self, c: &str) -> Case {
        self.cwd = Some(c.into());
        self
    }

    fn setup(mut self, f: fn(&Side)) -> Case {
        self.setup = Some(f);
        self
    }
}

fn expand(s: &OsString, side: &Side) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let b = s.as_bytes();
    let child = child_bin().as_os_str().as_bytes();
    let root = side.root().as_os_str().as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"{child}") {
            out.extend_from_slice(child);
            i += 7;
        } else if b[i..].starts_with(b"{T}") {
            out.extend_from_slice(root);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

/// Runs the case on one side and describes everything observable, with
/// the side's root shown as `<T>`.
fn observe(case: &Case, which: Impl) -> String {
    let side = Side::new(which);
    if let Some(f) = case.setup {
        f(&side);
    }
    let cwd = match &case.cwd {
        Some(c) => PathBuf::from(expand(&c.into(), &side)),
        None => side.path("cwd"),
    };
    let mut run = Run::new(&side.nohup, &cwd)
        .argv0(&case.argv0)
        .args(case.args.iter().map(|a| expand(a, &side)))
        .io(case.io.clone())
        .umask(case.umask)
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", side.path("home"))
        .env("LANG", "C.UTF-8")
        .env("REPORT", side.path("report"))
        .env("HUPSAFE_LIB_DIR", side.path("lib"));
    for (k, v) in &case.env {
        run = match v {
            Some(v) => run.env(k, expand(&v.into(), &side)),
            None => run.env_remove(k),
        };
    }
    let outcome: Outcome = run.run(&side.path("io"));
    let root = side.root();
    let mut o = String::new();
    o += &format!("status: {:?}\n", outcome.status);
    o += &format!("terminal: {:?}\n", normalize(&outcome.tty, root));
    for (fd, content) in outcome.files.iter().enumerate() {
        if let Some(c) = content {
            o += &format!("fd{fd} file: {:?}\n", normalize(c, root));
        }
    }
    o += &format!("cwd: [{}]\n", describe_dir(&side.path("cwd"), root));
    o += &format!("home: [{}]\n", home_without_shim(&side, which, root));
    match fs::read(side.path("report")) {
        Ok(r) => {
            for line in normalize(&r, root).lines() {
                if let Some(v) = line.strip_prefix("LD_PRELOAD=") {
                    o += &format!("LD_PRELOAD={}\n", preload_seen(v, which, case.shim));
                } else if let Some(v) = line.strip_prefix("shim-mapped=") {
                    // The shim really loaded under hupsafe, never under GNU.
                    let expected = if which == Impl::Hupsafe && case.shim {
                        "yes"
                    } else {
                        "no"
                    };
                    if v != expected {
                        o += &format!("shim-mapped={v}, expected {expected}\n");
                    }
                } else {
                    o += line;
                    o.push('\n');
                }
            }
        }
        Err(_) => o += "report: none (the command did not run)\n",
    }
    o
}

/// $HOME's files, without hupsafe's default shim directory
/// (`.local/share/hupsafe/lib`, an intentional difference) after checking
/// that hupsafe put nothing else there.
fn home_without_shim(side: &Side, which: Impl, root: &Path) -> String {
    let home = side.path("home");
    let local = home.join(".local");
    if which == Impl::Hupsafe && local.is_dir() {
        let lib = local.join("share/hupsafe/lib");
        let only_shim = fs::read_dir(&lib).is_ok_and(|rd| {
            rd.flatten()
                .all(|e| is_hupsafe_shim(&e.file_name().to_string_lossy()))
        }) && fs::read_dir(&local).map_or(0, |rd| rd.count()) == 1
            && fs::read_dir(local.join("share")).map_or(0, |rd| rd.count()) == 1;
        if !only_shim {
            return format!(
                "{} [unexpected files under ~/.local]",
                describe_dir(&home, root)
            );
        }
        fs::remove_dir_all(&local).unwrap();
    }
    describe_dir(&home, root)
}

/// LD_PRELOAD as GNU nohup would have passed it: hupsafe's own shim
/// (the intentional difference) removed, after checking it is there.
fn preload_seen(value: &str, which: Impl, shim: bool) -> String {
    let entries: Vec<&str> = if value == "<unset>" {
        Vec::new()
    } else {
        value.split([':', ' ']).filter(|e| !e.is_empty()).collect()
    };
    let shims = entries.iter().filter(|e| is_hupsafe_shim(e)).count();
    let expected = usize::from(which == Impl::Hupsafe && shim);
    let rest: Vec<&str> = entries
        .into_iter()
        .filter(|e| !is_hupsafe_shim(e))
        .collect();
    let mut s = if rest.is_empty() {
        "<unset>".to_string()
    } else {
        rest.join(":")
    };
    if shims != expected {
        s += &format!(" [{shims} hupsafe shim entries, expected {expected}]");
    }
    s
}

/// Replaces the intentionally different --help/--version texts with their
/// common skeleton, after checking each side says what it should.
fn intentional(o: &str, which: Impl) -> String {
    let mut out = String::new();
    for line in o.lines() {
        let Some((label, text)) = ["fd1 file: ", "terminal: "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|t| (*p, t)))
        else {
            out += line;
            out.push('\n');
            continue;
        };
        let text: String = unquote_debug(text);
        let kept = if text.contains("\n      --help        ") {
            help_skeleton(&text, which)
        } else if text.starts_with("nohup (") {
            let first = text.lines().next().unwrap_or("");
            let ok = match which {
                Impl::Gnu => first.starts_with("nohup (GNU coreutils) "),
                Impl::Hupsafe => first == format!("nohup (hupsafe) {}", env!("CARGO_PKG_VERSION")),
            };
            format!("<version text, first line as expected: {ok}>")
        } else {
            text
        };
        out += &format!("{label}{kept:?}\n");
    }
    out
}

/// --help without the parts that differ on purpose: the closing paragraph
/// (GNU's web links, hupsafe's pointers) and hupsafe's paragraph about
/// the shim. Paragraphs, not words: the text may be translated.
fn help_skeleton(text: &str, which: Impl) -> String {
    let mut paras: Vec<&str> = text.split("\n\n").collect();
    paras.pop();
    if which == Impl::Hupsafe {
        let before = paras.len();
        paras.retain(|p| !p.starts_with("This nohup is hupsafe's drop-in"));
        if paras.len() + 1 != before {
            return format!("<hupsafe's paragraph about the shim is missing>\n{text}");
        }
    }
    paras.join("\n\n")
}

/// Undoes `{:?}` on a string (enough for the texts compared here).
fn unquote_debug(q: &str) -> String {
    let inner = q.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
    let Some(inner) = inner else {
        return q.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Runs every case against both and fails listing every difference.
fn compare_all(cases: Vec<Case>) {
    assert!(
        Path::new(GNU_NOHUP).is_file(),
        "{GNU_NOHUP} (coreutils) is the oracle and must be installed"
    );
    let mut failures = Vec::new();
    let total = cases.len();
    for case in &cases {
        let gnu = intentional(&observe(case, Impl::Gnu), Impl::Gnu);
        let hs = intentional(&observe(case, Impl::Hupsafe), Impl::Hupsafe);
        if gnu != hs {
            failures.push(format!(
                "=== case {}\n--- GNU nohup:\n{gnu}--- hupsafe as nohup:\n{hs}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from GNU nohup:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn all_io() -> Vec<Io> {
    vec![
        Io::Tty,
        Io::Null,
        Io::Full,
        Io::Closed,
        Io::File(b"input\n".to_vec()),
    ]
}

#[test]
fn every_combination_of_terminal_null_full_closed_and_file_on_fds_0_to_2() {
    let mut cases = Vec::new();
    for a in all_io() {
        for b in all_io() {
            for c in all_io() {
                let name = format!("0<{} 1>{} 2>{}", a.label(), b.label(), c.label());
                cases.push(Case::new(name, [a.clone(), b.clone(), c.clone()]));
            }
        }
    }
    compare_all(cases);
}

#[test]
fn options_are_parsed_like_getopt_long() {
    let out = || [Io::Null, Io::File(Vec::new()), Io::File(Vec::new())];
    let mut cases = Vec::new();
    for args in [
        &["--help"][..],
        &["--hel"],
        &["--h"],
        &["--version"],
        &["--v"],
        &["--vers", "--help"],
        &["--help", "--version"],
        &["--help", "{child}"],
        &["--", "{child}", "a"],
        &["--"],
        &["-- ", "{child}"],
        &["--", "--", "{child}"],
        &["--", "--help"],
        &[],
        &["-x"],
        &["-ab", "{child}"],
        &["-+"],
        &["-h"],
        &["-", "{child}"],
        &[""],
        &["--foo"],
        &["--foo=bar", "{child}"],
        &["--help=x"],
        &["--he=x"],
        &["--version="],
        &["--=x"],
        &["--="],
        &["--hellp"],
        &["{child}", "--help", "-x", "--"],
    ] {
        let name = format!("nohup {}", args.join(" "));
        cases.push(Case::new(name.clone(), out()).args(args));
        cases.push(
            Case::new(format!("POSIXLY_CORRECT=1 {name}"), out())
                .args(args)
                .env("POSIXLY_CORRECT", "1"),
        );
    }
    cases.push(
        Case::new("POSIXLY_CORRECT= (set, empty) nohup -x", out())
            .args(&["-x"])
            .env("POSIXLY_CORRECT", ""),
    );
    // argv[0] as given prefixes every message.
    for argv0 in ["/usr/local/bin/nohup", "./nohup", "../x/.libs/nohup"] {
        for args in [&["-x"][..], &[], &["/nonexistent/cmd"], &["--help"]] {
            cases.push(
                Case::new(format!("argv0={argv0} {}", args.join(" ")), out())
                    .argv0(argv0)
                    .args(args),
            );
        }
    }
    // Option errors, help and version with stdout/stderr full or closed.
    for (label, io) in [
        ("1>full", [Io::Null, Io::Full, Io::File(Vec::new())]),
        ("1>&-", [Io::Null, Io::Closed, Io::File(Vec::new())]),
        ("2>full", [Io::Null, Io::File(Vec::new()), Io::Full]),
        ("2>&-", [Io::Null, Io::File(Vec::new()), Io::Closed]),
        ("all tty", [Io::Tty, Io::Tty, Io::Tty]),
    ] {
        for args in [&["--help"][..], &["--version"], &["-x"], &[]] {
            cases.push(
                Case::new(format!("{label} nohup {}", args.join(" ")), io.clone()).args(args),
            );
            cases.push(
                Case::new(
                    format!("POSIXLY_CORRECT {label} nohup {}", args.join(" ")),
                    io.clone(),
                )
                .args(args)
                .env("POSIXLY_CORRECT", "1"),
            );
        }
    }
    compare_all(cases);
}

fn make_nohup_out_a_directory(side: &Side) {
    fs::create_dir(side.path("cwd/nohup.out")).unwrap();
}

fn make_both_nohup_outs_directories(side: &Side) {
    fs::create_dir(side.path("cwd/nohup.out")).unwrap();
    fs::create_dir(side.path("home/nohup.out")).unwrap();
}

fn existing_nohup_out(side: &Side) {
    let p = side.path("cwd/nohup.out");
    fs::write(&p, "earlier output\n").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
}

fn odd_home_dirs(side: &Side) {
    fs::create_dir(side.path("cwd/nohup.out")).unwrap();
    for d in ["it's", "a\nb", "sp ace", "cwd/rel"] {
        fs::create_dir_all(side.path(d)).unwrap();
    }
}

fn read_only_cwd(side: &Side) {
    fs::set_permissions(side.path("cwd"), fs::Permissions::from_mode(0o555)).unwrap();
}

#[test]
fn nohup_out_goes_to_cwd_then_home_created_0600_and_appended() {
    let tty = || [Io::Tty, Io::Tty, Io::Tty];
    let out_only = || [Io::Null, Io::Tty, Io::File(Vec::new())];
    let mut cases = vec![
        Case::new("stdout tty, nohup.out appended, mode kept", tty()).setup(existing_nohup_out),
        Case::new("umask 0: nohup.out still 0600, command gets umask 0", tty()).umask(0),
        Case::new("umask 077", tty()).umask(0o077),
        Case::new("umask 0777", out_only()).umask(0o777),
        Case::new("cwd's nohup.out is a directory: $HOME/nohup.out", tty())
            .setup(make_nohup_out_a_directory),
        Case::new("both unusable: 125", tty()).setup(make_both_nohup_outs_directories),
        Case::new("both unusable, POSIXLY_CORRECT: 127", tty())
            .setup(make_both_nohup_outs_directories)
            .env("POSIXLY_CORRECT", "1"),
        Case::new("both unusable, stderr a file", out_only())
            .setup(make_both_nohup_outs_directories),
        Case::new("both unusable, stderr full", [Io::Null, Io::Tty, Io::Full])
            .setup(make_both_nohup_outs_directories),
        Case::new("cwd unusable, HOME unset", tty())
            .setup(make_nohup_out_a_directory)
            .unset("HOME"),
        Case::new("cwd unusable, HOME empty", tty())
            .setup(make_nohup_out_a_directory)
            .env("HOME", ""),
        Case::new("cwd unusable, HOME with trailing slashes", tty())
            .setup(make_nohup_out_a_directory)
            .env("HOME", "{T}/home//"),
        Case::new("cwd unusable, HOME missing", tty())
            .setup(make_nohup_out_a_directory)
            .env("HOME", "{T}/no/such/dir"),
        Case::new("cwd unusable, HOME relative", tty())
            .setup(odd_home_dirs)
            .env("HOME", "rel"),
        Case::new("cwd unusable, HOME with a quote", tty())
            .setup(odd_home_dirs)
            .env("HOME", "{T}/it's"),
        Case::new("cwd unusable, HOME with a newline", tty())
            .setup(odd_home_dirs)
            .env("HOME", "{T}/a\nb"),
        Case::new("cwd unusable, HOME with a space", tty())
            .setup(odd_home_dirs)
            .env("HOME", "{T}/sp ace"),
        Case::new(
            "cwd unusable, HOME unset, stdout closed, stderr tty",
            [Io::Null, Io::Closed, Io::Tty],
        )
        .setup(make_both_nohup_outs_directories)
        .unset("HOME"),
        // A directory nobody can create files in, root included.
        Case::new("cwd is /proc: $HOME/nohup.out", tty()).cwd("/proc"),
        Case::new("cwd is /proc, HOME unset", tty())
            .cwd("/proc")
            .unset("HOME"),
    ];
    if !is_root() {
        cases.push(Case::new("cwd read-only (0555)", tty()).setup(read_only_cwd));
    }
    compare_all(cases);
}

#[test]
fn exec_failures_and_their_messages() {
    fn fixtures(side: &Side) {
        let d = side.path("cwd");
        fs::create_dir(d.join("adir")).unwrap();
        fs::write(d.join("noexec"), "#!/bin/sh\necho hi\n").unwrap();
        fs::write(d.join("noshebang"), "echo from-sh \"$0\" \"$@\"\n").unwrap();
        fs::set_permissions(d.join("noshebang"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(d.join("badinterp"), "#!/no/such/interp\n").unwrap();
        fs::set_permissions(d.join("badinterp"), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let ios: Vec<(&str, [Io; 3])> = vec![
        (
            "files",
            [Io::Null, Io::File(Vec::new()), Io::File(Vec::new())],
        ),
        ("all tty", [Io::Tty, Io::Tty, Io::Tty]),
        ("stderr tty", [Io::Null, Io::File(Vec::new()), Io::Tty]),
        ("stderr full", [Io::Null, Io::File(Vec::new()), Io::Full]),
        (
            "stderr closed",
            [Io::Null, Io::File(Vec::new()), Io::Closed],
        ),
        ("stdout closed, stderr tty", [Io::Null, Io::Closed, Io::Tty]),
    ];
    let commands: Vec<(&str, Vec<OsString>)> = vec![
        ("not found", vec!["no-such-command-hupsafe".into()]),
        ("not found by path", vec!["/no/such/cmd".into()]),
        ("a directory", vec!["./adir".into()]),
        ("not executable", vec!["./noexec".into()]),
        (
            "no #! line (run by sh)",
            vec!["./noshebang".into(), "x y".into()],
        ),
        ("missing interpreter", vec!["./badinterp".into()]),
        ("empty name", vec!["".into()]),
        ("quote in name", vec!["it's".into()]),
        ("newline in name", vec!["a\nb".into()]),
        ("space and dollar", vec!["a b$c".into()]),
        ("non-UTF-8 byte", vec![os(b"x\xe9y")]),
        ("UTF-8 letter", vec!["caf\u{e9}".into()]),
        ("control byte", vec![os(b"a\x01b\x7f")]),
        ("incomplete UTF-8 at the end", vec![os(b"ab\xc3")]),
        ("tab and backslash", vec!["a\tb\\c".into()]),
        ("braces and hash", vec!["#{x}~".into()]),
        ("lone brace", vec!["{".into()]),
    ];
    let mut cases = Vec::new();
    for (cmd_label, words) in &commands {
        for (io_label, io) in &ios {
            cases.push(
                Case::new(format!("{cmd_label}, {io_label}"), io.clone())
                    .raw_args(words.clone())
                    .setup(fixtures),
            );
        }
        for lang in ["C", "POSIX"] {
            cases.push(
                Case::new(format!("{cmd_label}, LANG={lang}"), ios[0].1.clone())
                    .raw_args(words.clone())
                    .setup(fixtures)
                    .env("LANG", lang),
            );
        }
        cases.push(
            Case::new(format!("{cmd_label}, POSIXLY_CORRECT"), ios[0].1.clone())
                .raw_args(words.clone())
                .setup(fixtures)
                .env("POSIXLY_CORRECT", "1"),
        );
    }
    compare_all(cases);
}

#[test]
fn the_command_gets_its_arguments_unchanged() {
    let io = || [Io::Tty, Io::Tty, Io::Tty];
    let cases = vec![
        Case::new("spaces, newlines, quotes, non-UTF-8", io()).raw_args(vec![
            "{child}".into(),
            "two words".into(),
            "line\nbreak".into(),
            "it's \"quoted\"".into(),
            os(b"\xff\xfe bytes"),
            "".into(),
            "--help".into(),
            "-x".into(),
        ]),
        Case::new("PATH lookup of the command", io())
            .args(&["cli_child", "found"])
            .env("PATH", "{T}/pbin")
            .setup(|side| {
                let d = side.tmp.dir("pbin");
                std::os::unix::fs::symlink(child_bin(), d.join("cli_child")).unwrap();
            }),
        Case::new("PATH unset", io())
            .args(&["{child}"])
            .unset("PATH"),
        // A library that loads silently: a missing one makes the loader
        // complain in nohup itself, which a static hupsafe has no loader to do.
        Case::new("existing LD_PRELOAD kept", io())
            .env("LD_PRELOAD", "libm.so.6")
            .args(&["{child}"]),
    ];
    compare_all(cases);
}

#[test]
fn where_the_shim_lives_or_fails_changes_nothing_else() {
    fn unsafe_lib_dir(side: &Side) {
        let d = side.path("badlib");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut cases = vec![
        Case::new(
            "shim dir world-writable: refused silently",
            [Io::Tty, Io::Tty, Io::Tty],
        )
        .env("HUPSAFE_LIB_DIR", "{T}/badlib")
        .setup(unsafe_lib_dir)
        .without_shim(),
        Case::new(
            "shim dir relative: refused silently",
            [Io::Null, Io::Tty, Io::Tty],
        )
        .env("HUPSAFE_LIB_DIR", "relative/lib")
        .without_shim(),
        Case::new(
            "shim dir with a colon: refused silently",
            [Io::Tty, Io::Tty, Io::File(Vec::new())],
        )
        .env("HUPSAFE_LIB_DIR", "{T}/a:b")
        .without_shim(),
    ];
    cases.push(
        Case::new(
            "shim in its default place under $HOME",
            [Io::Tty, Io::Tty, Io::Tty],
        )
        .unset("HUPSAFE_LIB_DIR"),
    );
    if let Some(musl) = musl_child_bin() {
        cases.push(
            Case::new(
                "a musl program: gets the shim and starts",
                [Io::Tty, Io::Tty, Io::Tty],
            )
            .args(&[musl.to_str().unwrap(), "arg"]),
        );
    }
    compare_all(cases);
}

#[test]
fn translated_messages_match_in_other_locales() {
    let localedef = hupsafe_tests::require_tool!("localedef", "libc-bin");
    let mut cases = Vec::new();
    let mut missing = Vec::new();
    for locale in ["de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.ISO-8859-1"] {
        let Some(locpath) = test_locale(&localedef, locale) else {
            missing.push(locale);
            continue;
        };
        let loc = |c: Case| {
            c.env("LANG", locale)
                .env("LOCPATH", locpath.to_str().unwrap())
        };
        let files = || [Io::Null, Io::File(Vec::new()), Io::File(Vec::new())];
        for args in [
            &["-x"][..],
            &["--foo=1"],
            &["--=x"],
            &["--help=x"],
            &[],
            &["--help"],
            &["no-such-command-hupsafe"],
            &["caf\u{e9}"],
        ] {
            cases.push(loc(Case::new(
                format!("{locale}: nohup {}", args.join(" ")),
                files(),
            )
            .args(args)));
        }
        cases.push(loc(Case::new(
            format!("{locale}: non-UTF-8 command name"),
            files(),
        )
        .raw_args(vec![os(b"caf\xe9")])));
        cases.push(loc(Case::new(
            format!("{locale}: all terminals"),
            [Io::Tty, Io::Tty, Io::Tty],
        )));
        cases.push(loc(Case::new(
            format!("{locale}: stdout closed, stderr terminal"),
            [Io::Null, Io::Closed, Io::Tty],
        )));
        cases.push(loc(Case::new(
            format!("{locale}: nohup.out unusable"),
            [Io::Tty, Io::Tty, Io::Tty],
        )
        .setup(make_both_nohup_outs_directories)));
        cases.push(loc(Case::new(
            format!("{locale}: --help into a full stdout"),
            [Io::Null, Io::Full, Io::File(Vec::new())],
        )
        .args(&["--help"])));
    }
    if !missing.is_empty() {
        hupsafe_tests::skip(
            &format!("locale sources for {} not found", missing.join(", ")),
            "locales",
        );
    }
    compare_all(cases);
}
