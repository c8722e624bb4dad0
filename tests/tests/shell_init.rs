//! The init scripts' quality bars, the zoxide way: every variant `hupsafe
//! init` renders parses (`bash -n`, `zsh -n`), the bash one is clean under
//! shellcheck, and sourcing any of them in a strict shell (`bash --noprofile
//! --norc -e -u -o pipefail`, `zsh -f -e -u`), interactive or not, prints
//! nothing and fails nothing. Also the marks file verbs: `mark`, `unmark`,
//! `marks`, and a hand-edited file.

use std::fs;
use std::process::{Command, Stdio};

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::relay::Terminal;
use hupsafe_tests::shell::{quote, Shell};
use hupsafe_tests::tools::require_tool;
use hupsafe_tests::Sandbox;

/// The variants a user can render: the default prefix, none, another one,
/// and HUPSAFE_PREFIX.
const VARIANTS: &[&[&str]] = &[&[], &["--prefix", ""], &["--prefix", "protect"]];

/// Bash, and zsh unless it is missing (then its cases are skipped, with
/// the skip line).
fn shells() -> Vec<Shell> {
    [Shell::Bash, Shell::Zsh]
        .into_iter()
        .filter(|s| s.require().is_some())
        .collect()
}

/// A marks file with marks, a comment, and lines the hooks must refuse
/// (shell syntax, a path, a builtin, a keyword, a glob).
const MESSY_MARKS: &str =
    "# mine\n  python3  \nmake\n\nrm -rf /tmp/x\n$(touch pwned)\n./x\ncd\nif\n*\ng++\n";

#[test]
fn every_variant_parses_and_bash_passes_shellcheck() {
    let world = Sandbox::with_programs("init-parse");
    let shellcheck = require_tool("shellcheck", "shellcheck");
    for shell in shells() {
        for extra in VARIANTS {
            let script = world.init_script(shell, extra);
            let file = world.write(&format!("init-{}.sh", shell.name()), &script);
            let out = Command::new(shell.program())
                .arg("-n")
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{} -n on the script for {extra:?}: {}",
                shell.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            if let (Shell::Bash, Some(shellcheck)) = (shell, &shellcheck) {
                let out = Command::new(shellcheck)
                    .args(["--shell=bash", "--severity=style"])
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "shellcheck on the bash script for {extra:?}:\n{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
    }
}

#[test]
fn sourcing_in_a_strict_shell_prints_nothing_and_fails_nothing() {
    let world = Sandbox::with_programs("init-strict");
    let shells = shells();
    for with_marks in [false, true] {
        if with_marks {
            fs::write(world.marks_file(), MESSY_MARKS).unwrap();
        }
        for &shell in &shells {
            for extra in VARIANTS {
                let init = format!(
                    "{} init {} {}",
                    quote(&hupsafe_bin().to_string_lossy()),
                    shell.name(),
                    extra.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
                );
                // Twice: an rc file sourced again must not break either.
                let script = format!("eval \"$({init})\"\neval \"$({init})\"\n");
                let out = Command::new(shell.program())
                    .args(shell.strict_args())
                    .arg(&script)
                    .env_clear()
                    .envs(world.env())
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
                    "{} {:?} sourcing init {extra:?} (marks: {with_marks}): {}\nstdout: {}\nstderr: {}",
                    shell.name(),
                    shell.strict_args(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// The same on a terminal, interactive (`-i`), where the marks are loaded
/// and functions defined at once: still not one byte of output, and the
/// refused lines of a messy marks file define nothing.
#[test]
fn sourcing_interactively_prints_nothing_and_refuses_bad_marks() {
    let world = Sandbox::with_programs("init-interactive");
    fs::write(world.marks_file(), MESSY_MARKS).unwrap();
    for shell in shells() {
        let init = format!(
            "{} init {}",
            quote(&hupsafe_bin().to_string_lossy()),
            shell.name()
        );
        let check = match shell {
            Shell::Bash => "type -t python3 make g++ | tr '\\n' ' '",
            Shell::Zsh => "whence -w python3 make g++ | tr '\\n' ' '",
        };
        let script = format!(
            "eval \"$({init})\"; eval \"$({init})\"; echo \"[$({check})]\"; echo end-of-story"
        );
        let mut args: Vec<&str> = match shell {
            Shell::Bash => vec!["--noprofile", "--norc", "-i", "-e", "-u", "-o", "pipefail"],
            Shell::Zsh => vec!["-f", "-i", "-e", "-u"],
        };
        args.push("-c");
        let mut cmd = Command::new(shell.program());
        cmd.args(&args)
            .arg(&script)
            .env_clear()
            .envs(world.env())
            .current_dir(world.root());
        let mut term = Terminal::spawn(cmd);
        let before = term.expect("end-of-story");
        let status = term.wait();
        assert_eq!(status, 0, "{}: {}", shell.name(), term.transcript());
        let expected = match shell {
            Shell::Bash => "[function function function ]\r\n",
            Shell::Zsh => "[python3: function make: function g++: function ]\r\n",
        };
        assert_eq!(
            before,
            expected,
            "{}: sourcing printed something, or the marks are wrong",
            shell.name()
        );
        assert!(
            !world.root().join("pwned").exists(),
            "a line of the marks file ran as shell code"
        );
    }
}

#[test]
fn init_renders_this_binary_and_refuses_a_bad_prefix() {
    let world = Sandbox::with_programs("init-render");
    let bin = hupsafe_bin().to_string_lossy().into_owned();
    for shell in shells() {
        let script = world.init_script(shell, &[]);
        assert!(
            script.contains(&quote(&bin)),
            "the script does not call {bin}"
        );
        assert!(script.contains(&quote(&world.marks_file().to_string_lossy())));
        assert!(script.contains("__hupsafe_prefix='hs'"));
        let script = world.init_script(shell, &["--prefix", "protect"]);
        assert!(script.contains("__hupsafe_prefix='protect'"));
    }
    let (code, out, _) = {
        let o = Command::new(hupsafe_bin())
            .args(["init", "bash"])
            .env_clear()
            .envs(world.env())
            .env("HUPSAFE_PREFIX", "")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            (),
        )
    };
    assert_eq!(code, Some(0));
    assert!(
        out.contains("__hupsafe_prefix=''"),
        "HUPSAFE_PREFIX= means none"
    );
    for bad in ["a b", "x;y", "cd", "hupsafe"] {
        let (code, _, err) = world.run(["init", "bash", "--prefix", bad]);
        assert_eq!(code, 2, "prefix {bad:?}: {err}");
        assert!(err.contains("prefix"), "{err}");
    }
    let (code, _, err) = world.run(["init", "fish"]);
    assert_eq!(code, 125, "{err}");
}

#[test]
fn mark_unmark_and_marks_keep_a_plain_file() {
    let world = Sandbox::with_programs("marks");
    let file = world.marks_file();
    let (code, out, _) = world.run(["marks"]);
    assert_eq!((code, out.as_str()), (0, ""), "no file yet: no marks");
    let (code, out, _) = world.run(["marks", "--path"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim_end(), file.to_string_lossy());

    world.mark(&["python3", "torchrun"]);
    world.mark(&["make", "python3"]);
    let text = fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# hupsafe marks"),
        "a new file explains itself:\n{text}"
    );
    assert!(text.ends_with("python3\ntorchrun\nmake\n"), "{text}");
    assert_eq!(world.run(["marks"]).1, "python3\ntorchrun\nmake\n");

    // By hand: a comment, blanks, and garbage, which `marks` reports.
    fs::write(&file, "# my own\n  cargo \nnot a name\n").unwrap();
    let (code, out, err) = world.run(["marks"]);
    assert_eq!((code, out.as_str()), (0, "cargo\n"));
    assert!(err.contains(":3: 'not a name' is ignored"), "{err}");
    world.mark(&["make"]);
    let (code, _, err) = world.run(["unmark", "cargo", "nope"]);
    assert_eq!(code, 1, "unmarking what is not marked says so");
    assert!(err.contains("not marked: 'nope'"), "{err}");
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "# my own\nnot a name\nmake\n",
        "edits keep the user's lines"
    );

    for bad in ["a b", "./train.sh", "cd", "time", "$(x)", "x=1", ""] {
        let (code, _, err) = world.run(["mark", bad]);
        assert_eq!(code, 2, "mark {bad:?}: {err}");
        assert!(err.contains("cannot mark"), "{err}");
    }
    let (code, _, err) = world.run(["mark", "no-such-program-here"]);
    assert_eq!(code, 0);
    assert!(err.contains("not a program on PATH"), "{err}");
}
