//! What the hooks do at the prompt, in bash and zsh: a mark made in
//! another process reaches an open shell at its next prompt; a marked
//! command runs through hupsafe with the user's words unchanged (quoting,
//! globs, redirections, `VAR=x cmd`, `time`, a pipeline stage, `&`), the
//! history shows what was typed, `$?` is the command's; from `$(...)`,
//! `<(...)`, a function, a sourced file, a script or completion it runs
//! plainly; a missing
//! hupsafe costs one line, never the command; another preexec user keeps
//! working; `hupsafe rescue %1` keeps the shell from hanging a job up.
//!
//! The marked program is `report`, a python script on PATH that writes
//! what it was given (arguments, SIGHUP disposition, LD_PRELOAD, VAR,
//! first input line) as one JSON line.

use std::fs;
use std::path::{Path, PathBuf};

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::procfs;
use hupsafe_tests::shell::{
    last_tick, python3, quote, wait_tick_beyond, write_script, Session, Shell, Tagged,
};
use hupsafe_tests::wait::{poll, PATIENCE};
use hupsafe_tests::Sandbox;

const REPORT: &str = r#"
import json, os, signal, sys
args = sys.argv[1:]
code = 0
if args[:1] == ['--exit']:
    code = int(args[1])
stdin = None
# Completion functions run with stdin closed.
if sys.stdin is not None and not os.isatty(0):
    stdin = sys.stdin.readline().strip()
print(json.dumps({
    'argv': args,
    'hup': 'ignored' if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN else 'default',
    'preload': 'libnohup' in os.environ.get('LD_PRELOAD', ''),
    'var': os.environ.get('VAR'),
    'stdin': stdin,
}), flush=True)
sys.exit(code)
"#;

fn with_report(label: &str) -> Sandbox {
    let world = Sandbox::with_programs(label);
    write_script(
        &world.bin_dir().join("report"),
        &format!("#!{}\n{REPORT}", python3()),
    );
    fs::write(world.root().join("a.txt"), "").unwrap();
    fs::write(world.root().join("b.txt"), "").unwrap();
    world
}

/// Bash, and zsh unless it is missing (then its cases are skipped, with
/// the skip line).
fn shells() -> Vec<Shell> {
    [Shell::Bash, Shell::Zsh]
        .into_iter()
        .filter(|s| s.require().is_some())
        .collect()
}

/// The report written to `file` (relative to the world's root).
#[track_caller]
fn report(world: &Sandbox, file: &str) -> serde_json::Value {
    let path = world.root().join(file);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report in {}: {e}", path.display()));
    serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: not a report ({e}): {text}", path.display()))
}

#[track_caller]
fn assert_protected(world: &Sandbox, file: &str, protected: bool, s: &Session) {
    let r = report(world, file);
    let got = (r["hup"] == "ignored", r["preload"] == true);
    assert_eq!(
        got,
        (protected, protected),
        "{} {file}: expected {}: {r}\n{}",
        s.shell.name(),
        if protected {
            "protected"
        } else {
            "run plainly"
        },
        s.transcript()
    );
}

#[test]
fn marked_commands_run_protected_with_the_users_words() {
    for shell in shells() {
        let world = with_report(&format!("hooks-words-{}", shell.name()));
        world.write("src.sh", "report > out8.txt\n");
        let mut s = world.open(shell);
        // Marked by another process after the shell started: the next
        // prompt picks it up, no re-sourcing.
        world.mark(&["report"]);
        s.run("true");

        let typed = r#"report 'a b' "c  d" *.txt > out1.txt"#;
        s.run(typed);
        assert_protected(&world, "out1.txt", true, &s);
        assert_eq!(
            report(&world, "out1.txt")["argv"],
            serde_json::json!(["a b", "c  d", "a.txt", "b.txt"]),
            "{}: quoting and globs",
            shell.name()
        );
        let history = match shell {
            Shell::Bash => "history 3 > hist.txt",
            Shell::Zsh => "fc -ln -2 > hist.txt",
        };
        s.run(history);
        let hist = fs::read_to_string(world.root().join("hist.txt")).unwrap();
        assert!(
            hist.lines()
                .any(|l| l.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ') == typed),
            "{}: the history shows what was typed:\n{hist}",
            shell.name()
        );

        s.run("VAR=x report > out2.txt");
        assert_protected(&world, "out2.txt", true, &s);
        assert_eq!(report(&world, "out2.txt")["var"], "x");

        s.run("time report > out3.txt");
        assert_protected(&world, "out3.txt", true, &s);

        s.run("echo piped | report > out4.txt");
        assert_protected(&world, "out4.txt", true, &s);
        assert_eq!(report(&world, "out4.txt")["stdin"], "piped");

        s.run("report > out5.txt & wait");
        assert_protected(&world, "out5.txt", true, &s);

        s.run("x=$(report); echo \"$x\" > out6.txt");
        assert_protected(&world, "out6.txt", false, &s);

        s.run("f() { report > out7.txt; }; f");
        assert_protected(&world, "out7.txt", false, &s);

        s.run(". ./src.sh");
        assert_protected(&world, "out8.txt", false, &s);

        s.run("cat <(report) > out9.txt");
        assert_protected(&world, "out9.txt", false, &s);

        // A script is another shell, without the functions.
        s.run(&format!("{} -c 'report > out11.txt'", shell.name()));
        assert_protected(&world, "out11.txt", false, &s);

        // Completion: a completion function that runs the program.
        let completion = match shell {
            Shell::Bash => "_rc() { report > outc.txt; COMPREPLY=(); }; complete -F _rc report",
            Shell::Zsh => "_rc() { report > outc.txt; reply=() }; compctl -K _rc report",
        };
        s.run(completion);
        s.term.send(b"report x\t");
        let outc = world.root().join("outc.txt");
        let ran = poll(PATIENCE, || {
            fs::metadata(&outc).is_ok_and(|m| m.len() > 0).then_some(())
        });
        assert!(
            ran.is_some(),
            "{}: the completion function never ran:\n{}",
            shell.name(),
            s.transcript()
        );
        s.term.send(b"\x15");
        s.run("true");
        assert_protected(&world, "outc.txt", false, &s);

        assert_eq!(s.status_of("report --exit 3 > /dev/null"), 3);
        s.run("false");
        assert_eq!(s.status_of("(exit $?)"), 1, "$? survives the prompt hook");

        s.run(&format!(
            "{} unmark report",
            quote(&hupsafe_bin().to_string_lossy())
        ));
        s.run("report > out10.txt");
        assert_protected(&world, "out10.txt", false, &s);
        assert!(
            !s.transcript().contains("hupsafe:"),
            "{}: the hooks printed something:\n{}",
            shell.name(),
            s.transcript()
        );
    }
}

/// A copy of hupsafe renders the script, then disappears: marked commands
/// still run, unprotected, after one line that says so.
#[test]
fn a_missing_hupsafe_costs_one_line_not_the_command() {
    for shell in shells() {
        let world = with_report(&format!("hooks-missing-{}", shell.name()));
        let copy_dir = world.root().join("gone");
        fs::create_dir_all(&copy_dir).unwrap();
        let copy = copy_dir.join("hupsafe");
        fs::copy(hupsafe_bin(), &copy).unwrap();
        world.mark(&["report"]);
        let mut s = world.open_plain(shell);
        s.run(&format!(
            "eval \"$({} init {})\"",
            quote(&copy.to_string_lossy()),
            shell.name()
        ));
        s.run("report > before.txt");
        assert_protected(&world, "before.txt", true, &s);
        fs::remove_file(&copy).unwrap();
        assert_eq!(s.status_of("report --exit 4 > after.txt"), 4);
        assert_protected(&world, "after.txt", false, &s);
        let shown = s.transcript();
        let lines: Vec<&str> = shown.lines().filter(|l| l.contains("is gone")).collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: one line per command run without hupsafe:\n{shown}",
            shell.name()
        );
        assert!(
            lines[0].contains(&copy.to_string_lossy().into_owned())
                && lines[0].contains("running report unprotected"),
            "{}",
            lines[0]
        );
        s.run("hs true");
        assert_eq!(s.status_of("true"), 0, "the shell still works");
    }
}

/// A bash-preexec-style user (a DEBUG trap plus PROMPT_COMMAND) and a zsh
/// `preexec_functions` user, set up before and after the init: each still
/// sees every typed line, and marked commands are still protected.
#[test]
fn another_preexec_user_keeps_working() {
    for shell in shells() {
        let world = with_report(&format!("hooks-preexec-{}", shell.name()));
        world.mark(&["report"]);
        let log = world.root().join("preexec.log");
        let hook = match shell {
            Shell::Bash => format!(
                "__t_precmd() {{ __t_at_prompt=1; }}; \
                 __t_preexec() {{ [[ -n ${{__t_at_prompt-}} ]] || return 0; __t_at_prompt=; \
                 history 1 | sed 's/^ *[0-9]* *//' >> {log}; }}; \
                 trap '__t_preexec' DEBUG; \
                 PROMPT_COMMAND=\"${{PROMPT_COMMAND:+$PROMPT_COMMAND;}}__t_precmd\"",
                log = log.display()
            ),
            Shell::Zsh => format!(
                "__t_preexec() {{ print -r -- \"$1\" >> {log} }}; preexec_functions+=(__t_preexec)",
                log = log.display()
            ),
        };
        let mut s = world.open_plain(shell);
        s.run(&hook);
        s.run(&world.init_line(shell));
        s.run("report one > out1.txt");
        assert_protected(&world, "out1.txt", true, &s);
        // Sourced again after the other user, as rc files get re-read.
        s.run(&hook);
        s.run(&world.init_line(shell));
        s.run("report two | cat > out2.txt");
        assert_protected(&world, "out2.txt", true, &s);
        let seen = fs::read_to_string(&log).unwrap_or_default();
        for line in ["report one > out1.txt", "report two | cat > out2.txt"] {
            assert!(
                seen.lines().any(|l| l == line),
                "{}: the preexec user missed {line:?}:\n{seen}",
                shell.name()
            );
        }
        if shell == Shell::Bash {
            s.run("trap -p DEBUG > trap.txt");
            let trap = fs::read_to_string(world.root().join("trap.txt")).unwrap();
            assert!(
                trap.contains("__t_preexec"),
                "the DEBUG trap is theirs: {trap}"
            );
        }
    }
}

/// `hupsafe rescue %1` on an unprotected background job: the shell will
/// not hang it up any more, so a program that only dies of the shell's
/// SIGHUP outlives the terminal. The control, without rescue, dies.
#[test]
fn rescue_keeps_the_shell_from_hanging_a_job_up() {
    for shell in shells() {
        for rescue in [true, false] {
            let world = Sandbox::with_programs(&format!("hooks-rescue-{}", shell.name()));
            let tagged = Tagged::new("rescue");
            let out: PathBuf = world.root().join("out.txt");
            let mut s = world.open(shell);
            s.run(&format!(
                "python3 -u ticker.py {} > {} 2>&1 &",
                tagged.tag,
                out.display()
            ));
            wait_tick_beyond(&out, 2);
            if rescue {
                s.run("hupsafe rescue %1");
                let shown = s.transcript();
                // This hupsafe has a `rescue` verb: the shell disowns the
                // job and hands its process to it (ptrace).
                assert!(
                    shown.contains("hupsafe: rescued ") && shown.contains("now ignored"),
                    "{}: {shown}",
                    shell.name()
                );
            }
            let seen = last_tick(&fs::read_to_string(&out).unwrap()).unwrap();
            s.hang_up();
            if rescue {
                let pid = tagged.wait_program();
                assert!(procfs::is_alive(pid));
                wait_tick_beyond(Path::new(&out), seen);
            } else {
                assert!(
                    tagged.all_gone(),
                    "{}: the control survived without rescue",
                    shell.name()
                );
            }
        }
    }
}
