//! Completions know job names (issue 15): wherever a job verb takes a job
//! (`logs`, `attach`, `stop`, `signal`'s second word, `forget`, `wait`,
//! `rerun`), the scripts of `hupsafe completions` offer the ids and names
//! in the user's registry at the moment TAB is pressed, asked of the
//! hidden `hupsafe __jobs`. Driven in real shells: bash through its
//! programmable completion (the function `complete -p` names, called with
//! COMP_WORDS as readline would), zsh on a pty with compinit and a real
//! TAB, fish when it is installed.
//!
//! Each story has its control: before the job exists its name is not
//! offered, a name that no job has is not offered, a word where no job
//! goes gets none, and clap's completion alone (without the job part)
//! offers none.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::relay::Terminal;
use hupsafe_tests::shell::Shell;
use hupsafe_tests::{require_tool, unique_tag, Sandbox};

/// A sandbox whose PATH finds this `hupsafe` by name, as a user's does.
fn world(label: &str) -> Sandbox {
    let w = Sandbox::with_programs(label);
    symlink(hupsafe_bin(), w.bin_dir().join("hupsafe")).unwrap();
    w
}

/// Starts a detached job called `name` that ends at once, and waits for
/// its end; its id.
fn finished_job(w: &Sandbox, name: &str) -> String {
    let (code, out, err) = w.run(["-d", "--name", name, "true"]);
    assert_eq!(code, 0, "{err}");
    let id = out.split(' ').next().unwrap().to_string();
    assert_eq!(w.run(["wait", &id]).0, 0);
    id
}

/// The completion script for `shell`, written into the sandbox.
fn script(w: &Sandbox, shell: &str) -> std::path::PathBuf {
    let (code, text, err) = w.run(["completions", shell]);
    assert_eq!(code, 0, "{err}");
    w.write(&format!("completion.{shell}"), &text)
}

/// What bash's completion offers for each line (the last word is the one
/// being completed; `''` stands for an empty one), one line of `|`-ended
/// candidates each; `function`: the completion function to call, else the
/// one `complete -p hupsafe` names.
fn bash_offers(w: &Sandbox, lines: &[&str], function: Option<&str>) -> Vec<String> {
    let bash = Shell::Bash.program();
    let mut program = format!(
        "source {}\n\
         spec=$(complete -p hupsafe); f=${{spec##*-F }}; f=${{f%% *}}\n",
        hupsafe_tests::shell::quote(&script(w, "bash").to_string_lossy())
    );
    if let Some(f) = function {
        program.push_str(&format!("f={f}\n"));
    }
    program.push_str(
        "offer() {\n\
             COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n\
             COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()\n\
             \"$f\" hupsafe \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n\
             printf '%s|' \"${COMPREPLY[@]}\"; echo\n\
         }\n",
    );
    for line in lines {
        program.push_str(&format!("offer {line}\n"));
    }
    let o = Command::new(bash)
        .args(["--norc", "--noprofile", "-c", &program])
        .env_clear()
        .envs(w.env())
        .current_dir(w.root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bash failed: {err}");
    assert_eq!(err, "", "completion must be silent");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_offers_job_ids_and_names_where_a_job_goes() {
    let w = world("complete-bash");
    let tag = unique_tag("n");
    let name = format!("nightly-{tag}");
    let spaced = format!("my run {tag}");
    let line = format!("hupsafe logs nightly-{}", &tag[..3]);
    // The control: no registry yet, so nothing to offer.
    assert_eq!(bash_offers(&w, &[&line], None), ["|"]);

    let id = finished_job(&w, &name);
    let other = finished_job(&w, &spaced);
    let offered = bash_offers(
        &w,
        &[
            &line,
            "hupsafe logs ''",
            "hupsafe wait 1 ''",
            "hupsafe signal TERM my",
            "hupsafe --quiet stop --grace 2 nig",
            "hupsafe logs no-such-job",
            "hupsafe signal ''",
            "hupsafe logs 1 ''",
            "hupsafe run nig",
            "hupsafe __",
        ],
        None,
    );
    let quoted = spaced.replace(' ', "\\ ");
    assert_eq!(
        offered[0],
        format!("{name}|"),
        "the name, live from the registry"
    );
    assert_eq!(
        offered[1],
        format!("{id}|{other}|{quoted}|{name}|"),
        "every id, then every name (quoted for the shell)"
    );
    assert_eq!(offered[2], offered[1], "wait takes many jobs");
    assert_eq!(offered[3], format!("{quoted}|"), "signal's second word");
    assert_eq!(offered[4], format!("{name}|"), "past options and values");
    assert_eq!(offered[5], "|", "a name no job has");
    for (i, at) in [
        (6, "signal's first word is a signal"),
        (7, "logs takes one job"),
    ] {
        assert!(!offered[i].contains(&name), "{at}: {}", offered[i]);
    }
    assert_eq!(offered[8], "|", "run's words are a command's");
    assert_eq!(offered[9], "|", "the scripts' own verb is not offered");
    // The control: clap's completion alone offers no job.
    let plain = bash_offers(&w, &[&line, "hupsafe logs ''"], Some("_hupsafe"));
    assert!(
        plain.iter().all(|l| !l.contains(&name) && !l.contains(&id)),
        "{plain:?}"
    );
}

#[test]
fn zsh_completes_a_job_name_on_tab() {
    if Shell::Zsh.require().is_none() {
        return;
    }
    let w = world("complete-zsh");
    let tag = unique_tag("z");
    let name = format!("train-{tag}");
    let typed = format!("hupsafe logs train-{}", &tag[..3]);
    let file = script(&w, "zsh");
    let mut term = Terminal::shell(&w, Shell::Zsh);
    term.type_line(&format!(
        "autoload -U compinit && compinit -u -D && source {}",
        hupsafe_tests::shell::quote(&file.to_string_lossy())
    ));
    term.expect(PROMPT);
    // The control: before the job exists, TAB leaves the word as typed.
    assert_eq!(after_tab(&mut term, &typed), typed);
    finished_job(&w, &name);
    assert_eq!(after_tab(&mut term, &typed), format!("hupsafe logs {name}"));
    assert_eq!(
        after_tab(&mut term, "hupsafe logs no-such-"),
        "hupsafe logs no-such-",
        "a name no job has"
    );
    assert_eq!(
        after_tab(
            &mut term,
            &format!("hupsafe signal TERM train-{}", &tag[..3])
        ),
        format!("hupsafe signal TERM {name}")
    );
    // The control: clap's completion alone (files where a job goes).
    term.type_line("compdef _hupsafe_clap hupsafe");
    term.expect(PROMPT);
    assert_eq!(after_tab(&mut term, &typed), typed);
}

#[test]
fn fish_offers_job_names_where_a_job_goes() {
    let fish = require_tool!("fish", "fish");
    let w = world("complete-fish");
    let name = format!("etl-{}", unique_tag("f"));
    let file = script(&w, "fish");
    let offers = |line: &str| {
        let o = Command::new(&fish)
            .args(["--no-config", "-c"])
            .arg(format!(
                "source {}; complete -C {}",
                hupsafe_tests::shell::quote(&file.to_string_lossy()),
                hupsafe_tests::shell::quote(line)
            ))
            .env_clear()
            .envs(w.env())
            .current_dir(w.root())
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}", o);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(!offers("hupsafe logs etl-").contains(&name), "no job yet");
    finished_job(&w, &name);
    assert!(offers("hupsafe logs etl-").contains(&name));
    assert!(
        !offers("hupsafe ps etl-").contains(&name),
        "ps takes no job"
    );
}

#[test]
fn listing_jobs_for_completion_is_silent_without_a_registry() {
    let w = world("complete-none");
    for args in [
        &["__jobs"][..],
        &["__jobs", "--cword", "2", "--", "hupsafe", "logs", ""],
    ] {
        assert_eq!(w.run(args), (0, String::new(), String::new()), "{args:?}");
    }
    let (code, _, err) = w.run(["__jobs", "--cword"]);
    assert_eq!(code, 2, "{err}");
    // Where no job goes: exit 1, still silent.
    assert_eq!(
        w.run(["__jobs", "--cword", "1", "--", "hupsafe", ""]),
        (1, String::new(), String::new())
    );
    // A state directory hupsafe refuses (another user could write to it)
    // is no job, and no noise at the prompt.
    fs::create_dir_all(w.state_dir()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(w.state_dir(), fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(w.run(["__jobs"]), (0, String::new(), String::new()));
    let (code, _, err) = w.run(["ps"]);
    assert_ne!(code, 0, "the control: ps refuses it, loudly: {err}");
}

const PROMPT: &str = hupsafe_tests::relay::PROMPT;

/// What the line holds after typing `typed` and TAB: the shell prints it
/// (the arithmetic tells its output apart from the echo of the typing).
fn after_tab(term: &mut Terminal, typed: &str) -> String {
    term.send(typed.as_bytes());
    term.send(b"\t");
    // Ctrl-A, then a command in front of the completed words.
    term.send(b"\x01print -r -- X$((6*7))X ");
    term.send(b"\r");
    let shown = term.expect(PROMPT);
    let at = shown.rfind("X42X ").expect("the line was printed");
    shown[at + 5..]
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string()
}
