//! `hupsafe init bash|zsh`: the shell integration script, rendered from the
//! templates under `shell/` with the absolute path of this binary, the
//! marks file and the one-off prefix. Also the clap definitions of the
//! shell-facing verbs (`init`, `mark`, `unmark`, `marks`), flattened into
//! `cmd::Verb`.

use std::path::Path;

use crate::args::{InitArgs, InitShell};
use crate::error::{os_words, write_stdout, Error, Result};
use crate::marks;
use crate::sys::words::quote;

const BASH_TEMPLATE: &str = include_str!("../../../shell/bash.sh");
const ZSH_TEMPLATE: &str = include_str!("../../../shell/zsh.zsh");

/// Environment variable choosing the one-off prefix when `--prefix` is not
/// given; empty means no prefix.
pub const PREFIX_VAR: &str = "HUPSAFE_PREFIX";

/// The default one-off prefix: short, and (checked on Debian and in the
/// usual package sets) the name of no common program, builtin or alias.
pub const DEFAULT_PREFIX: &str = "hs";

/// `hupsafe init SHELL`: prints the integration script.
pub fn run(args: &InitArgs) -> Result<()> {
    let prefix = match &args.prefix {
        Some(p) => p.clone(),
        None => std::env::var(PREFIX_VAR).unwrap_or_else(|_| DEFAULT_PREFIX.to_string()),
    };
    if !prefix.is_empty() {
        if let Some(why) = marks::invalid_reason(&prefix) {
            return Err(Error::new(
                2,
                format!("the prefix '{prefix}' cannot be a shell function name: {why}"),
            ));
        }
    }
    let bin = std::env::current_exe().map_err(|e| {
        Error::failure(format!(
            "cannot find this program's own path (for the init script): {}",
            os_words(&e)
        ))
    })?;
    let marks = marks::marks_path()?;
    crate::relay::line::ensure_scratch_dir();
    let script = render(args.shell, &bin, &marks, &prefix, HAS_RESCUE);
    write_stdout(script.as_bytes())
}

/// Whether this hupsafe's `rescue` verb can inject into a process, so the
/// shell's `hupsafe rescue %1` hands it the job's processes (the injector
/// exists for x86_64 only; elsewhere the verb refuses).
const HAS_RESCUE: bool = cfg!(target_arch = "x86_64");

/// The script for `shell`, with every placeholder filled in.
pub fn render(shell: InitShell, bin: &Path, marks: &Path, prefix: &str, rescue: bool) -> String {
    let template = match shell {
        InitShell::Bash => BASH_TEMPLATE,
        InitShell::Zsh => ZSH_TEMPLATE,
    };
    template
        .replace("@HUPSAFE_BIN@", &quote(&bin.to_string_lossy()))
        .replace("@HUPSAFE_MARKS@", &quote(&marks.to_string_lossy()))
        .replace("@HUPSAFE_PREFIX@", &quote(prefix))
        .replace("@HUPSAFE_HAS_RESCUE@", if rescue { "1" } else { "0" })
        .replace(
            "@HUPSAFE_LINE_DIR@",
            &quote(
                &crate::relay::line::scratch_dir()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        )
        .replace("@HUPSAFE_WRAP_DIR@", &quote(&wrap_dir_for_path()))
        .replace("@HUPSAFE_NOTIFY@", &quote(&notifications_file()))
}

/// The file ended `--notify` jobs append their line to (empty when there
/// is no state directory).
fn notifications_file() -> String {
    crate::registry::Registry::location()
        .map(|d| {
            d.join(crate::relay::supervisor::ended::NOTIFICATIONS)
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

/// The wrap directory to put first on PATH (the script adds it only when
/// it exists): empty, after a note, when someone else could write it or a
/// directory above it, since whatever they put there would run instead of
/// the user's commands.
fn wrap_dir_for_path() -> String {
    let Ok(dir) = crate::sys::dirs::WRAP.resolve() else {
        return String::new();
    };
    let checked = if std::fs::symlink_metadata(&dir).is_ok() {
        crate::sys::private_dir::wrap_dir_checked(&dir, false).map(drop)
    } else {
        // Not there yet: whoever can write the nearest directory above it
        // could make it.
        use crate::sys::trusted::{self, Refusal};
        let existing = dir
            .ancestors()
            .find(|a| std::fs::symlink_metadata(a).is_ok());
        let walked = existing.map(|a| {
            let w = trusted::walk(a, None)?;
            match trusted::unsafe_dir(w.uid, w.mode) {
                Some(why) => Err(Refusal::Unsafe {
                    at: a.to_path_buf(),
                    why,
                }),
                None => Ok(()),
            }
        });
        match walked {
            Some(Err(r @ Refusal::Unsafe { .. })) => {
                Err(crate::sys::private_dir::WRAPPERS.refusal(&dir, r))
            }
            _ => Ok(()),
        }
    };
    if let Err(e) = checked {
        say!(
            "note: not putting the wrap directory on PATH: {}",
            e.message
        );
        return String::new();
    }
    dir.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        for shell in [InitShell::Bash, InitShell::Zsh] {
            let s = render(
                shell,
                Path::new("/opt/it's here/hupsafe"),
                Path::new("/home/u/.config/hupsafe/marks"),
                "hs",
                false,
            );
            assert!(!s.contains("@HUPSAFE_"), "{shell:?}: {s}");
            assert!(s.contains(r"'/opt/it'\''s here/hupsafe'"), "{shell:?}");
        }
    }
}
