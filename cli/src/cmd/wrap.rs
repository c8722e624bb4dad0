//! `hupsafe wrap`, `hupsafe unwrap` and `hupsafe install --system`: protect
//! programs that are started by something the user does not control.
//!
//! - A PATH wrapper: a small `sh` script named like the program, in a wrap
//!   directory that `hupsafe init` puts first on PATH. At run time it finds
//!   the real program by searching PATH while skipping every entry that is
//!   the wrap directory (compared with `-ef`, so a symlink or a second copy
//!   of the entry is skipped too), then runs it through `hupsafe run`. An
//!   upgrade of the real program needs nothing, and a wrapper never calls
//!   itself.
//! - An embedded copy (`--embed`): the program with a DT_NEEDED entry for
//!   the shim, written by the `patchelf` program, so it loads the shim
//!   even when its environment is cleared (`env -i`, sudo, cron).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::{InstallArgs, UnwrapArgs, WrapArgs};
use crate::error::{os_words, write_stdout, Error, Result, EXIT_NOT_FOUND};
use crate::sys::dirs;
use crate::sys::elf::{self, Class, Format};
use crate::sys::exec::{self, Lookup};
use crate::sys::preload;
use crate::sys::private_dir::{replace_file, uid, wrap_dir_checked};
use crate::sys::trusted;
use crate::sys::words::quote;

/// The second line of every wrapper hupsafe writes; `unwrap` and `--list`
/// only touch files that carry it.
const MARKER: &str = "# hupsafe-wrapper:";

pub use preload::SYSTEM_LIB_DIR;

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// The wrap directory, absolute.
fn wrap_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let Some(d) = explicit else {
        return dirs::WRAP.resolve();
    };
    if d.is_absolute() {
        return Ok(d.to_path_buf());
    }
    // A relative --dir is relative to where the user typed it.
    let cwd = std::env::current_dir().map_err(|e| {
        Error::failure(format!(
            "cannot find the current directory: {}",
            os_words(&e)
        ))
    })?;
    Ok(cwd.join(d))
}

/// Finds `prog` as execvp would, a name skipping `skip` (the wrap dir).
fn find(prog: &OsStr, skip: Option<&Path>) -> Result<PathBuf> {
    if prog.as_bytes().contains(&b'/') {
        let p = Path::new(prog);
        return match fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(p.to_path_buf()),
            Ok(_) => Err(Error::failure(format!(
                "'{}' is not a regular file",
                shown(p)
            ))),
            Err(e) => Err(Error::new(
                EXIT_NOT_FOUND,
                format!("cannot use '{}': {}", shown(p), os_words(&e)),
            )),
        };
    }
    match exec::find_program_skipping(prog, skip) {
        Lookup::Program(p) => Ok(p),
        _ => Err(Error::new(
            EXIT_NOT_FOUND,
            format!(
                "'{}' is not found on PATH{}",
                prog.to_string_lossy(),
                if skip.is_some() {
                    " (outside the wrap directory)"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// Runs `hupsafe wrap`.
pub fn wrap(a: &WrapArgs) -> Result<()> {
    if a.list {
        return list(a.dir.as_deref());
    }
    let prog = a.program.as_deref().expect("clap requires a program");
    if a.embed {
        return embed(prog, a.output.as_deref(), a.in_place);
    }
    path_wrapper(prog, a.dir.as_deref())
}

fn is_ours(p: &Path) -> bool {
    let Ok(text) = fs::read(p) else {
        return false;
    };
    text.split(|&b| b == b'\n')
        .nth(1)
        .is_some_and(|l| l.starts_with(MARKER.as_bytes()))
}

/// The wrapper script for `name`.
fn script(name: &str, dir: &Path, bin: &Path) -> String {
    format!(
        r#"#!/bin/sh
{MARKER} {name} (written by `hupsafe wrap`; remove with `hupsafe unwrap {name}`)
# Runs the first '{name}' on PATH outside this directory through hupsafe.
hupsafe_bin={bin}
hupsafe_dir={dir}
hupsafe_name={qname}
hupsafe_real=
hupsafe_rest=${{PATH-/usr/local/bin:/usr/bin:/bin}}:
while [ -n "$hupsafe_rest" ]; do
    hupsafe_d=${{hupsafe_rest%%:*}}
    hupsafe_rest=${{hupsafe_rest#*:}}
    [ -n "$hupsafe_d" ] || hupsafe_d=.
    # Skip the wrap directory however it is spelled (a symlink, twice).
    [ "$hupsafe_d" -ef "$hupsafe_dir" ] && continue
    [ "$hupsafe_d/$hupsafe_name" -ef "$0" ] && continue
    if [ -f "$hupsafe_d/$hupsafe_name" ] && [ -x "$hupsafe_d/$hupsafe_name" ]; then
        hupsafe_real=$hupsafe_d/$hupsafe_name
        break
    fi
done
if [ -z "$hupsafe_real" ]; then
    echo "hupsafe wrapper: $hupsafe_name: not found on PATH outside $hupsafe_dir" >&2
    exit 127
fi
if [ -x "$hupsafe_bin" ]; then
    exec "$hupsafe_bin" run --quiet -- "$hupsafe_real" "$@"
fi
echo "hupsafe wrapper: $hupsafe_bin is gone; running $hupsafe_real unprotected" >&2
exec "$hupsafe_real" "$@"
"#,
        bin = quote(&bin.to_string_lossy()),
        dir = quote(&dir.to_string_lossy()),
        qname = quote(name),
    )
}

fn path_wrapper(prog: &OsStr, dir: Option<&Path>) -> Result<()> {
    let dir = wrap_dir(dir)?;
    let name = Path::new(prog)
        .file_name()
        .ok_or_else(|| Error::failure(format!("'{}' names no program", prog.to_string_lossy())))?;
    let name_s = name
        .to_str()
        .filter(|n| !n.is_empty() && !n.contains(['\n', '\r']))
        .ok_or_else(|| {
            Error::failure(format!(
                "'{}' cannot be a wrapper name",
                name.to_string_lossy()
            ))
        })?
        .to_string();
    // The program must exist now (outside the wrap directory).
    let real = find(prog, Some(&dir))?;
    if let Ok(t) = elf::inspect(&real) {
        if let Format::Elf(e) = &t.format {
            if e.is_static() {
                say!(
                    "note: '{}' is statically linked: the wrapper starts it with SIGHUP \
                     ignored, but the shim cannot keep it so (consider `hupsafe --strict`)",
                    shown(&real)
                );
            }
        }
    }
    let bin = std::env::current_exe().map_err(|e| {
        Error::failure(format!(
            "cannot find this program's own path: {}",
            os_words(&e)
        ))
    })?;
    // Checked with every directory above it, opened once: the wrapper is
    // written through the open directory.
    let w = wrap_dir_checked(&dir, true)?;
    let real_dir = trusted::shown(&trusted::through(&w.fd, ""));
    let target = dir.join(name);
    let at = trusted::through(&w.fd, name);
    if fs::symlink_metadata(&at).is_ok() && !is_ours(&at) {
        return Err(Error::failure(format!(
            "'{}' exists and was not written by hupsafe; not replacing it",
            shown(&target)
        )));
    }
    let text = script(&name_s, &real_dir, &bin);
    replace_file(&at, text.as_bytes(), 0o755, true).map_err(|e| {
        Error::failure(format!(
            "cannot write '{}': {}",
            shown(&target),
            os_words(&e)
        ))
    })?;
    say!(
        "wrote '{}' (runs '{name_s}' from PATH protected; first found now: '{}')",
        shown(&target),
        shown(&real)
    );
    Ok(())
}

fn list(dir: Option<&Path>) -> Result<()> {
    let dir = wrap_dir(dir)?;
    // Held open while it is read.
    let held = match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        _ => Some(wrap_dir_checked(&dir, false)?),
    };
    let dir = held.as_ref().map_or(dir, |w| trusted::through(&w.fd, ""));
    let mut names: Vec<String> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter(|e| is_ours(&e.path()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Error::failure(format!(
                "cannot read '{}': {}",
                shown(&dir),
                os_words(&e)
            )))
        }
    };
    names.sort();
    let mut out = String::new();
    for n in names {
        out.push_str(&n);
        out.push('\n');
    }
    write_stdout(out.as_bytes())
}

/// Runs `hupsafe unwrap`.
pub fn unwrap(a: &UnwrapArgs) -> Result<()> {
    let dir = wrap_dir(a.dir.as_deref())?;
    let name = Path::new(&a.name);
    if name.components().count() != 1 || name.file_name().is_none() {
        return Err(Error::failure(format!(
            "'{}' is not a wrapper name",
            a.name.to_string_lossy()
        )));
    }
    let p = dir.join(name);
    let held = match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        _ => Some(wrap_dir_checked(&dir, false)?.fd),
    };
    let at = held
        .as_ref()
        .map_or_else(|| p.clone(), |fd| trusted::through(fd, name));
    if fs::symlink_metadata(&at).is_err() {
        return Err(Error::new(
            1,
            format!(
                "'{}' is not wrapped (no '{}')",
                a.name.to_string_lossy(),
                shown(&p)
            ),
        ));
    }
    if !is_ours(&at) {
        return Err(Error::failure(format!(
            "'{}' was not written by hupsafe; not removing it",
            shown(&p)
        )));
    }
    fs::remove_file(&at)
        .map_err(|e| Error::failure(format!("cannot remove '{}': {}", shown(&p), os_words(&e))))
}

/// Runs `hupsafe install --system`.
pub fn install_system(_a: &InstallArgs) -> Result<()> {
    if uid() != 0 {
        return Err(Error::failure(format!(
            "install --system writes the shim to {SYSTEM_LIB_DIR}, which only root may do; \
             run: sudo hupsafe install --system"
        )));
    }
    let p = preload::install_system()?;
    let mut line = p.as_os_str().as_bytes().to_vec();
    line.push(b'\n');
    write_stdout(&line)
}

fn embed(prog: &OsStr, out: Option<&Path>, in_place: bool) -> Result<()> {
    let src = find(prog, None)?;
    let out: PathBuf = match (out, in_place) {
        (_, true) => src.clone(),
        (Some(o), false) => o.to_path_buf(),
        (None, false) => return Err(Error::failure(
            "--embed needs -o OUT (or --in-place to change the program itself, keeping a backup)",
        )),
    };
    if !in_place
        && fs::metadata(&out).is_ok_and(|o| {
            fs::metadata(&src).is_ok_and(|s| (s.dev(), s.ino()) == (o.dev(), o.ino()))
        })
    {
        return Err(Error::failure(format!(
            "'{}' is the program itself; say --in-place to change it (a backup is kept)",
            shown(&out)
        )));
    }
    let t = elf::inspect(&src)
        .map_err(|e| Error::failure(format!("cannot read '{}': {}", shown(&src), os_words(&e))))?;
    let s = shown(&src);
    match &t.format {
        Format::Script(sc) => {
            return Err(Error::failure(format!(
                "'{s}' is a script (#!{}): a DT_NEEDED entry can only go into an ELF program. \
                 Wrap its interpreter instead, or use a PATH wrapper: hupsafe wrap {}",
                sc.interpreter.display(),
                src.file_name().unwrap_or_default().to_string_lossy()
            )))
        }
        Format::Other => {
            return Err(Error::failure(format!(
                "'{s}' is not an ELF program, so the shim cannot be embedded in it"
            )))
        }
        Format::Elf(e) if e.class != Class::native() => {
            return Err(Error::failure(format!(
                "'{s}' is a {}-bit program and the shim is {}-bit: its loader would refuse it \
                 (\"wrong ELF class\")",
                e.class.bits(),
                Class::native().bits()
            )))
        }
        Format::Elf(e) if e.is_static() => {
            return Err(Error::failure(format!(
                "'{s}' is statically linked: no dynamic loader runs, so it cannot load the \
                 shim. Run it with `hupsafe --strict` instead"
            )))
        }
        Format::Elf(_) => {}
    }
    let privileged = t.setuid || t.setgid || t.capabilities || t.owner == 0;
    // The system copy, when there is one, works for every user who may run
    // the program (and only root can change it); a private copy works for
    // its owner only.
    let shim = match preload::install_system() {
        Ok(sys) => sys,
        Err(sys_err) if privileged => {
            let why = if t.setuid || t.setgid || t.capabilities {
                "is setuid, setgid or has file capabilities"
            } else {
                "is owned by root"
            };
            return Err(Error::failure(format!(
                "refusing to embed the shim into '{s}': the program {why}, so root (or another \
                 user) may run it, and whoever can change the shim file would run code as \
                 them. Run `sudo hupsafe install --system` to put a shim only root can \
                 write in {SYSTEM_LIB_DIR}, then wrap again ({})",
                sys_err.message
            )));
        }
        Err(_) => {
            let own = preload::install()?;
            say!(
                "note: the copy loads the shim from '{}', which only you (uid {}) can read: \
                 started by another user it fails to start (exit 127). For a copy every user \
                 can run, have root run `hupsafe install --system` first, then wrap again",
                shown(&own),
                uid()
            );
            own
        }
    };
    let patchelf = find(OsStr::new("patchelf"), None).map_err(|_| {
        Error::failure(
            "wrap --embed needs the patchelf program to add the DT_NEEDED entry, and it is not \
             on PATH; install it (Debian/Ubuntu: apt-get install patchelf)",
        )
    })?;
    let out_dir = match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        return Err(Error::failure(format!(
            "'{}' is not a directory",
            shown(&out_dir)
        )));
    }
    let meta = fs::metadata(&src)
        .map_err(|e| Error::failure(format!("cannot read '{s}': {}", os_words(&e))))?;
    // A temporary file with a random name, created exclusively (never an
    // existing file or a link someone planted), removed on any failure;
    // patchelf and the mode change reach it through its descriptor.
    let out_name = out.file_name().unwrap_or_default().to_string_lossy();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{out_name}."))
        .suffix(".hupsafe.tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&out_dir)
        .map_err(|e| {
            Error::failure(format!(
                "cannot create a temporary file in '{}': {}",
                shown(&out_dir),
                os_words(&e)
            ))
        })?;
    let fail = |what: String, e: &io::Error| Error::failure(format!("{what}: {}", os_words(e)));
    fs::File::open(&src)
        .and_then(|mut f| io::copy(&mut f, tmp.as_file_mut()))
        .map_err(|e| fail(format!("cannot copy '{s}' to '{}'", shown(tmp.path())), &e))?;
    // The copy drops set-id bits (a user's copy must not keep them);
    // in place keeps the owner and mode when we may.
    let mode = if in_place {
        if uid() == 0 {
            let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
        }
        meta.mode() & 0o7777
    } else {
        meta.mode() & 0o777 | 0o700
    };
    let by_fd = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        std::os::fd::AsRawFd::as_raw_fd(tmp.as_file())
    ));
    let ran = Command::new(&patchelf)
        .arg("--add-needed")
        .arg(&shim)
        .arg(&by_fd)
        .output()
        .map_err(|e| fail(format!("cannot run '{}'", shown(&patchelf)), &e))?;
    if !ran.status.success() {
        return Err(Error::failure(format!(
            "patchelf could not add the shim to '{s}': {}",
            String::from_utf8_lossy(&ran.stderr).trim()
        )));
    }
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| fail(format!("cannot finish '{}'", shown(tmp.path())), &e))?;
    if in_place {
        let mut backup = src.clone().into_os_string();
        backup.push(".hupsafe-orig");
        let backup = PathBuf::from(backup);
        if fs::symlink_metadata(&backup).is_err() {
            fs::hard_link(&src, &backup)
                .or_else(|_| fs::copy(&src, &backup).map(|_| ()))
                .map_err(|e| fail(format!("cannot keep a backup '{}'", shown(&backup)), &e))?;
        }
        say!("kept the original as '{}'", shown(&backup));
    }
    let tmp_shown = shown(tmp.path());
    tmp.persist(&out).map_err(|e| {
        fail(
            format!("cannot rename '{tmp_shown}' to '{}'", shown(&out)),
            &e.error,
        )
    })?;
    say!(
        "wrote '{}': loads '{}' by itself (DT_NEEDED)",
        shown(&out),
        shown(&shim)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_is_marked_and_quoted() {
        let s = script("ma'ke", Path::new("/w d"), Path::new("/b/hupsafe"));
        assert!(s.lines().nth(1).unwrap().starts_with(MARKER));
        assert!(s.contains(r"hupsafe_name='ma'\''ke'"));
        assert!(s.contains("hupsafe_dir='/w d'"));
    }
}
