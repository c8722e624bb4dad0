//! `hupsafe completions bash|zsh|fish`: completion scripts rendered from
//! the clap definitions, plus, wherever a job goes (`args::JOB`), the job
//! ids and names of the user's registry at the moment TAB is pressed,
//! which the scripts ask for with the hidden `hupsafe __jobs`.

use std::ffi::OsString;

use clap::CommandFactory;

use crate::args::{Cli, Shell, JOB};
use crate::error::{write_stdout, Error, Result, EXIT_BAD_INPUT};
use crate::registry::Registry;

pub fn print(shell: Shell) -> Result<()> {
    let mut buf = Vec::new();
    let mut cmd = Cli::command();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "hupsafe", &mut buf);
    let script =
        String::from_utf8(buf).map_err(|_| Error::failure("the completion script is not UTF-8"))?;
    let script = match shell {
        Shell::Bash => format!("{script}\n{BASH_JOBS}"),
        Shell::Zsh => zsh_with_jobs(&script)?,
        Shell::Fish => format!("{script}\n{FISH_JOBS}"),
    };
    write_stdout(script.as_bytes())
}

/// Asks hupsafe at each TAB; where no job goes (exit 1), clap's completion
/// above answers. `compgen -W` is not used: it expands what it is given,
/// and a job name is text, never code.
const BASH_JOBS: &str = r#"# Where a job goes: the ids and names of your jobs, from `hupsafe __jobs`.
_hupsafe_jobs() {
    local found word quoted
    if ! found=$(command hupsafe __jobs --cword "$COMP_CWORD" -- "${COMP_WORDS[@]}" 2>/dev/null); then
        _hupsafe "$@"
        return
    fi
    compopt +o default +o bashdefault 2>/dev/null
    COMPREPLY=()
    while IFS= read -r word; do
        [[ -n $word ]] || continue
        printf -v quoted %q "$word"
        if [[ $quoted == "${COMP_WORDS[COMP_CWORD]}"* ]]; then
            COMPREPLY+=("$quoted")
        fi
    done <<<"$found"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _hupsafe_jobs -o nosort -o bashdefault -o default hupsafe
else
    complete -F _hupsafe_jobs -o bashdefault -o default hupsafe
fi
"#;

/// clap's `_hupsafe` becomes `_hupsafe_clap`, and `_hupsafe` asks
/// hupsafe first, as in bash (compadd quotes what it inserts).
const ZSH_JOBS: &str = r#"# Where a job goes: the ids and names of your jobs, from `hupsafe __jobs`.
_hupsafe() {
    local found
    if found=$(command hupsafe __jobs --cword $((CURRENT - 1)) -- "${words[@]}" 2>/dev/null); then
        local -a jobs
        jobs=(${(f)found})
        compadd -J jobs -X 'jobs' -a jobs
        return
    fi
    _hupsafe_clap "$@"
}

"#;

const FISH_JOBS: &str = r#"# Where a job goes: the ids and names of your jobs, from `hupsafe __jobs`.
complete -c hupsafe -f -n 'hupsafe __jobs --cword (count (commandline -opc)) -- (commandline -opc) (commandline -ct) >/dev/null 2>&1' -a '(hupsafe __jobs 2>/dev/null)'
"#;

fn zsh_with_jobs(script: &str) -> Result<String> {
    const CLAP_DEF: &str = "\n_hupsafe() {\n";
    const TRAILER: &str = "\nif [ \"$funcstack[1]\" = \"_hupsafe\" ]; then";
    let (Some(def), Some(trailer)) = (script.find(CLAP_DEF), script.rfind(TRAILER)) else {
        return Err(Error::failure(
            "clap's zsh completion has an unexpected shape: cannot add the job names",
        ));
    };
    let mut out = String::with_capacity(script.len() + ZSH_JOBS.len() + 16);
    out.push_str(&script[..def]);
    out.push_str("\n_hupsafe_clap() {\n");
    out.push_str(&script[def + CLAP_DEF.len()..trailer + 1]);
    out.push_str(ZSH_JOBS);
    out.push_str(&script[trailer + 1..]);
    Ok(out)
}

/// The hidden verb the scripts run: `hupsafe __jobs [--cword N -- WORDS...]`.
/// It is not one of clap's verbs, so no completion offers it.
pub const JOBS_VERB: &str = "__jobs";

/// `hupsafe __jobs`: every job's id, then every name, one a line; with
/// `--cword N -- WORDS...` (the command line as the shell split it, WORDS[0]
/// the command), only when word N is where a job goes (else exit 1).
/// Silent whatever happens: its stderr would land in the user's command
/// line, and no registry simply means no jobs.
pub fn jobs(args: &[OsString]) -> Result<()> {
    match args {
        [] => {}
        [flag, n, dashes, words @ ..] if flag == "--cword" && dashes == "--" => {
            let cword = n.to_str().and_then(|n| n.parse::<usize>().ok());
            if !cword.is_some_and(|n| takes_job(words, n)) {
                std::process::exit(1);
            }
        }
        _ => {
            return Err(Error::new(
                EXIT_BAD_INPUT,
                "usage: hupsafe __jobs [--cword N -- WORDS...] (for the completion scripts)",
            ))
        }
    }
    let Ok(Some(registry)) = Registry::open() else {
        return Ok(());
    };
    let listed = registry.ids_and_names();
    let mut names: Vec<&str> = listed.iter().filter_map(|(_, n)| n.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    for word in listed.iter().map(|(id, _)| id.as_str()).chain(names) {
        // A line is one candidate: a name cannot hold a newline.
        out.push_str(word);
        out.push('\n');
    }
    let _ = write_stdout(out.as_bytes());
    Ok(())
}

/// Whether word `cword` of `words` (the command line as the shell split
/// it, `words[0]` the command) is an argument that takes a job: options
/// and their values are passed over as clap would read them (`--opt V`,
/// `--opt=V`, and bash's split of it into `--opt`, `=`, `V`; `-nV`), then
/// the verb, then the verb's positional arguments in order.
fn takes_job(words: &[OsString], cword: usize) -> bool {
    let words: Vec<String> = words
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let Some(current) = words.get(cword) else {
        return false;
    };
    let mut cli = Cli::command();
    cli.build();
    let mut verb: Option<&clap::Command> = None;
    let mut positionals = 0;
    let mut options_done = false;
    let mut i = 1;
    while i < cword {
        let word = words[i].as_str();
        i += 1;
        if !options_done && word == "--" {
            options_done = true;
            continue;
        }
        if !options_done && word.starts_with('-') && word.len() > 1 {
            if value_follows(verb.unwrap_or(&cli), word) {
                // The value, after bash's lone `=` if there is one.
                if words.get(i).is_some_and(|w| w == "=") {
                    i += 1;
                }
                if i >= cword {
                    return false;
                }
                i += 1;
            }
            continue;
        }
        match verb {
            None => match cli.find_subcommand(word) {
                Some(v) => verb = Some(v),
                // A program to run: its arguments are its own.
                None => return false,
            },
            Some(_) => positionals += 1,
        }
    }
    if i > cword || (!options_done && current.starts_with('-')) {
        return false;
    }
    let Some(verb) = verb else {
        return false;
    };
    let found = verb.get_positionals().enumerate().any(|(at, arg)| {
        let is_job = arg.get_value_names().is_some_and(|n| n == [JOB]);
        let many = arg.get_num_args().is_some_and(|r| r.max_values() > 1);
        is_job && (positionals == at || (many && positionals > at))
    });
    found
}

/// Whether option word `word` (`--long`, `--long=V`, `-s`, `-abc`) leaves
/// its value to the next word.
fn value_follows(cmd: &clap::Command, word: &str) -> bool {
    let takes_value = |a: &clap::Arg| a.get_num_args().is_some_and(|r| r.takes_values());
    if let Some(long) = word.strip_prefix("--") {
        if long.contains('=') {
            return false;
        }
        return cmd
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|v| v.contains(&long))
            })
            .is_some_and(takes_value);
    }
    // A cluster of short flags: the first that takes a value takes the
    // rest of the word, or the next word when it is the last.
    let shorts: Vec<char> = word[1..].chars().collect();
    for (k, c) in shorts.iter().enumerate() {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_short() == Some(*c)) else {
            return false;
        };
        if takes_value(arg) {
            return k + 1 == shorts.len();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: &str) -> bool {
        // The last word is the one being completed (`_` for an empty one).
        let words: Vec<OsString> = line
            .split(' ')
            .map(|w| OsString::from(if w == "_" { "" } else { w }))
            .collect();
        takes_job(&words, words.len() - 1)
    }

    #[test]
    fn job_arguments_are_found_as_clap_reads_them() {
        for yes in [
            "hupsafe logs _",
            "hupsafe logs tr",
            "hupsafe logs -f _",
            "hupsafe logs -n 5 _",
            "hupsafe logs -n5 _",
            "hupsafe logs --lines 5 _",
            "hupsafe logs --lines=5 _",
            "hupsafe logs --lines = 5 _",
            "hupsafe -q logs _",
            "hupsafe --log-max 1M attach _",
            "hupsafe attach --replay 10 _",
            "hupsafe stop --grace 1 _",
            "hupsafe signal TERM _",
            "hupsafe forget 1 2 _",
            "hupsafe wait --any 1 _",
            "hupsafe rerun _",
            "hupsafe logs -- _",
        ] {
            assert!(at(yes), "{yes}");
        }
        for no in [
            "hupsafe _",
            "hupsafe l",
            "hupsafe logs -_",
            "hupsafe logs --lines _",
            "hupsafe logs -n _",
            "hupsafe logs --lines = _",
            "hupsafe logs 3 _",
            "hupsafe signal _",
            "hupsafe stop 1 _",
            "hupsafe ps _",
            "hupsafe python3 _",
            "hupsafe run -- logs _",
            "hupsafe --name _",
            "hupsafe check _",
        ] {
            assert!(!at(no), "{no}");
        }
    }
}
