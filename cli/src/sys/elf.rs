//! What a program file is, as far as the shim is concerned: its ELF class,
//! whether it is linked statically, its dynamic loader (glibc or musl),
//! setuid/setgid bits and file capabilities, and for a `#!` script the
//! interpreter that actually runs.
//!
//! Shared by every verb that must tell a user which protection reaches a
//! program (`run` now; `check`, `doctor`, `wrap` and `rescue` later). It
//! only reads: the ELF header and program headers, the mode bits, and the
//! `security.capability` extended attribute.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// ELF class: the width of the program, which must match the shim's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Elf32,
    Elf64,
}

impl Class {
    /// The class of this build, and so of the shim it carries.
    pub fn native() -> Class {
        if cfg!(target_pointer_width = "64") {
            Class::Elf64
        } else {
            Class::Elf32
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            Class::Elf32 => 32,
            Class::Elf64 => 64,
        }
    }
}

/// What the ELF headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    pub class: Class,
    /// `e_machine` (62 = x86-64, 183 = aarch64, 3 = i386).
    pub machine: u16,
    /// PT_INTERP: the dynamic loader. None means statically linked (a
    /// static-pie too): no loader runs, so LD_PRELOAD is never read.
    pub interpreter: Option<PathBuf>,
}

impl Elf {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none()
    }

    /// Linked against musl (the shim loads there too; for diagnostics).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn is_musl(&self) -> bool {
        self.interpreter.as_ref().is_some_and(|i| {
            i.file_name()
                .is_some_and(|n| n.as_bytes().starts_with(b"ld-musl-"))
        })
    }
}

/// A `#!` script and what runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The interpreter named on the `#!` line.
    pub interpreter: PathBuf,
    /// Its single optional argument, as the kernel passes it.
    pub argument: Option<OsString>,
    /// The program that really runs: the interpreter inspected in turn,
    /// or for `#!/usr/bin/env NAME`, NAME found on PATH. None if it could
    /// not be found or read.
    pub runs: Option<Box<Target>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Elf(Elf),
    Script(Script),
    /// Neither: execvp hands such a file to /bin/sh.
    Other,
}

/// A program file, inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub format: Format,
    pub setuid: bool,
    pub setgid: bool,
    pub owner: u32,
    pub group: u32,
    /// A `security.capability` attribute (file capabilities).
    pub capabilities: bool,
}

/// A reason the shim will not protect a program, found by inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concern {
    /// No dynamic loader: LD_PRELOAD is never read.
    Static,
    /// The loader ignores a shim of the other class ("wrong ELF class").
    WrongClass(Class),
    /// The loader runs in secure mode (AT_SECURE) and drops LD_PRELOAD.
    SecureExec(&'static str),
}

impl fmt::Display for Concern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concern::Static => write!(
                f,
                "is statically linked, so no loader reads LD_PRELOAD and the shim cannot be loaded"
            ),
            Concern::WrongClass(c) => write!(
                f,
                "is a {}-bit program, so its loader ignores the {}-bit shim (it prints \
                 \"wrong ELF class\")",
                c.bits(),
                Class::native().bits()
            ),
            Concern::SecureExec(why) => write!(
                f,
                "runs {why}, so the loader is in secure mode (AT_SECURE) and drops LD_PRELOAD"
            ),
        }
    }
}

impl Target {
    /// The file that actually gets executed: for a script, its
    /// interpreter (followed through nested scripts and `env`).
    pub fn executed(&self) -> Option<&Target> {
        match &self.format {
            Format::Script(s) => s.runs.as_deref().and_then(|t| t.executed()),
            _ => Some(self),
        }
    }

    /// Why the shim will not reach this program when run by a process
    /// with real ids `ruid`/`rgid`, following the kernel's rules for
    /// AT_SECURE (set-id to a different id, or capabilities gained by a
    /// non-root user).
    pub fn concerns(&self, ruid: u32, rgid: u32) -> Vec<Concern> {
        let Some(t) = self.executed() else {
            return Vec::new();
        };
        let mut v = Vec::new();
        if let Format::Elf(e) = &t.format {
            if e.is_static() {
                v.push(Concern::Static);
            } else if e.class != Class::native() {
                v.push(Concern::WrongClass(e.class));
            }
            // musl's loader loads the shim too (it depends on libc.so.6
            // only, which musl takes as itself): not a concern.
        }
        if t.setuid && t.owner != ruid {
            v.push(Concern::SecureExec("setuid"));
        } else if t.setgid && t.group != rgid {
            v.push(Concern::SecureExec("setgid"));
        } else if t.capabilities && ruid != 0 {
            v.push(Concern::SecureExec("with file capabilities"));
        }
        v
    }
}

/// Inspects the program at `path` (an ELF file, a `#!` script, or
/// anything else execvp would hand to /bin/sh).
pub fn inspect(path: &Path) -> io::Result<Target> {
    inspect_at_depth(path, 0)
}

/// Linux follows at most a few nested interpreters; so do we.
const MAX_SCRIPT_DEPTH: u32 = 4;

fn inspect_at_depth(path: &Path, depth: u32) -> io::Result<Target> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    let mut head = [0u8; 256];
    let n = read_up_to(&mut f, &mut head)?;
    let head = &head[..n];
    let format = if head.starts_with(b"\x7fELF") {
        Format::Elf(parse_elf(&mut f, head)?)
    } else if head.starts_with(b"#!") {
        Format::Script(parse_script(head, depth))
    } else {
        Format::Other
    };
    Ok(Target {
        path: path.to_path_buf(),
        format,
        setuid: meta.mode() & libc::S_ISUID != 0,
        setgid: meta.mode() & libc::S_ISGID != 0,
        owner: meta.uid(),
        group: meta.gid(),
        capabilities: has_file_capabilities(path),
    })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads class, machine and PT_INTERP from the ELF and program headers.
fn parse_elf(f: &mut File, head: &[u8]) -> io::Result<Elf> {
    if head.len() < 52 {
        return Err(bad("truncated ELF header"));
    }
    let class = match head[4] {
        1 => Class::Elf32,
        2 => Class::Elf64,
        _ => return Err(bad("unknown ELF class")),
    };
    let le = match head[5] {
        1 => true,
        2 => false,
        _ => return Err(bad("unknown ELF byte order")),
    };
    let u16_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    let machine = u16_at(head, 18);
    let (phoff, phentsize, phnum) = match class {
        Class::Elf32 => (
            u32_at(head, 28) as u64,
            u16_at(head, 42) as usize,
            u16_at(head, 44) as usize,
        ),
        Class::Elf64 => {
            if head.len() < 64 {
                return Err(bad("truncated ELF header"));
            }
            (
                u64_at(head, 32),
                u16_at(head, 54) as usize,
                u16_at(head, 56) as usize,
            )
        }
    };
    let min_entsize = if class == Class::Elf32 { 32 } else { 56 };
    if phnum == 0 || phentsize < min_entsize || phnum > 4096 {
        return Ok(Elf {
            class,
            machine,
            interpreter: None,
        });
    }
    let mut table = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)?;
    const PT_INTERP: u32 = 3;
    let mut interpreter = None;
    for ph in table.chunks_exact(phentsize) {
        if u32_at(ph, 0) != PT_INTERP {
            continue;
        }
        let (off, size) = match class {
            Class::Elf32 => (u32_at(ph, 4) as u64, u32_at(ph, 16) as u64),
            Class::Elf64 => (u64_at(ph, 8), u64_at(ph, 32)),
        };
        if size == 0 || size > 4096 {
            return Err(bad("odd PT_INTERP"));
        }
        let mut s = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut s)?;
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        s.truncate(end);
        interpreter = Some(PathBuf::from(OsString::from_vec(s)));
        break;
    }
    Ok(Elf {
        class,
        machine,
        interpreter,
    })
}

/// The kernel's reading of a `#!` line: the interpreter up to the first
/// blank, and everything after it (trimmed) as one argument.
fn parse_script(head: &[u8], depth: u32) -> Script {
    let line = &head[2..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_blank(b)).unwrap_or(line.len());
    let line = &line[start..];
    let end = line.iter().position(is_blank).unwrap_or(line.len());
    let interpreter = PathBuf::from(OsStr::from_bytes(&line[..end]));
    let rest = &line[end..];
    let a = rest.iter().position(|b| !is_blank(b)).unwrap_or(rest.len());
    let z = rest.iter().rposition(|b| !is_blank(b)).map_or(a, |z| z + 1);
    let argument = (a < z).then(|| OsStr::from_bytes(&rest[a..z]).to_os_string());

    let runs = if depth >= MAX_SCRIPT_DEPTH || interpreter.as_os_str().is_empty() {
        None
    } else if interpreter.file_name() == Some(OsStr::new("env")) {
        env_target(argument.as_deref()).and_then(|p| inspect_at_depth(&p, depth + 1).ok())
    } else {
        inspect_at_depth(&interpreter, depth + 1).ok()
    }
    .map(Box::new);
    Script {
        interpreter,
        argument,
        runs,
    }
}

/// For `#!/usr/bin/env NAME` (or `env -S "NAME ARGS"`), the program env
/// will run, found on PATH as env finds it.
fn env_target(argument: Option<&OsStr>) -> Option<PathBuf> {
    let arg = argument?.as_bytes();
    let name = if let Some(split) = arg.strip_prefix(b"-S") {
        split
            .split(|b| *b == b' ' || *b == b'\t')
            .find(|w| !w.is_empty())?
    } else if arg.starts_with(b"-") {
        return None;
    } else {
        arg
    };
    match crate::sys::exec::find_program(OsStr::from_bytes(name)) {
        crate::sys::exec::Lookup::Program(p) => Some(p),
        _ => None,
    }
}

/// Whether `path` carries file capabilities (`security.capability`).
fn has_file_capabilities(path: &Path) -> bool {
    rustix::fs::getxattr_query(path, "security.capability").is_ok_and(|n| n > 0)
}

/// Whether the program's loader would complain about the shim on stderr
/// ("wrong ELF class") before ignoring it.
pub fn shim_is_noisy(t: &Target) -> bool {
    real_ids_concerns(t)
        .iter()
        .any(|c| matches!(c, Concern::WrongClass(_)))
}

/// Whether the shim may go into the program's LD_PRELOAD without changing
/// anything else it does (what the nohup drop-in needs).
pub fn shim_is_welcome(t: &Target) -> bool {
    !shim_is_noisy(t)
}

/// The real user and group ids: what the loader compares a set-id
/// program's owner with.
pub fn real_ids() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

pub fn real_ids_concerns(t: &Target) -> Vec<Concern> {
    let (ruid, rgid) = real_ids();
    t.concerns(ruid, rgid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal ELF file: header, `phnum` program headers, and an
    /// optional PT_INTERP string.
    fn elf_bytes(class: Class, interp: Option<&str>) -> Vec<u8> {
        let (ehsize, phentsize) = match class {
            Class::Elf32 => (52usize, 32usize),
            Class::Elf64 => (64, 56),
        };
        let interp_off = ehsize + phentsize;
        let mut b = vec![0u8; interp_off];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = if class == Class::Elf32 { 1 } else { 2 };
        b[5] = 1;
        b[6] = 1;
        b[16] = 2; // ET_EXEC
        let machine: u16 = if class == Class::Elf32 { 3 } else { 62 };
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        let s = interp.map(|s| format!("{s}\0")).unwrap_or_default();
        let p_type: u32 = if interp.is_some() { 3 } else { 1 };
        match class {
            Class::Elf32 => {
                b[28..32].copy_from_slice(&(ehsize as u32).to_le_bytes());
                b[42..44].copy_from_slice(&(phentsize as u16).to_le_bytes());
                b[44..46].copy_from_slice(&1u16.to_le_bytes());
                let ph = ehsize;
                b[ph..ph + 4].copy_from_slice(&p_type.to_le_bytes());
                b[ph + 4..ph + 8].copy_from_slice(&(interp_off as u32).to_le_bytes());
                b[ph + 16..ph + 20].copy_from_slice(&(s.len() as u32).to_le_bytes());
            }
            Class::Elf64 => {
                b[32..40].copy_from_slice(&(ehsize as u64).to_le_bytes());
                b[54..56].copy_from_slice(&(phentsize as u16).to_le_bytes());
                b[56..58].copy_from_slice(&1u16.to_le_bytes());
                let ph = ehsize;
                b[ph..ph + 4].copy_from_slice(&p_type.to_le_bytes());
                b[ph + 8..ph + 16].copy_from_slice(&(interp_off as u64).to_le_bytes());
                b[ph + 32..ph + 40].copy_from_slice(&(s.len() as u64).to_le_bytes());
            }
        }
        b.extend_from_slice(s.as_bytes());
        b
    }

    fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hupsafe-inspect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let mut f = File::create(&p).unwrap();
        f.write_all(bytes).unwrap();
        p
    }

    #[test]
    fn reads_class_and_interpreter() {
        let p = write_temp(
            "dyn64",
            &elf_bytes(Class::Elf64, Some("/lib64/ld-linux-x86-64.so.2")),
        );
        let t = inspect(&p).unwrap();
        let Format::Elf(e) = &t.format else {
            panic!("not ELF: {t:?}")
        };
        assert_eq!(e.class, Class::Elf64);
        assert_eq!(e.machine, 62);
        assert_eq!(
            e.interpreter.as_deref(),
            Some(Path::new("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(!e.is_static() && !e.is_musl());
        assert!(t.concerns(1000, 1000).is_empty());
    }

    #[test]
    fn i386_and_static_are_concerns_musl_is_not() {
        let musl = write_temp(
            "musl",
            &elf_bytes(Class::Elf64, Some("/lib/ld-musl-x86_64.so.1")),
        );
        let m = inspect(&musl).unwrap();
        assert!(matches!(&m.format, Format::Elf(e) if e.is_musl()));
        assert_eq!(m.concerns(1000, 1000), vec![]);
        let i386 = write_temp("i386", &elf_bytes(Class::Elf32, Some("/lib/ld-linux.so.2")));
        assert_eq!(
            inspect(&i386).unwrap().concerns(1000, 1000),
            vec![Concern::WrongClass(Class::Elf32)]
        );
        let st = write_temp("static", &elf_bytes(Class::Elf64, None));
        assert_eq!(
            inspect(&st).unwrap().concerns(1000, 1000),
            vec![Concern::Static]
        );
    }

    #[test]
    fn scripts_are_judged_by_their_interpreter() {
        let st = write_temp("static-interp", &elf_bytes(Class::Elf64, None));
        let script = write_temp(
            "script",
            format!("#! {}  -x -y \nbody\n", st.display()).as_bytes(),
        );
        let t = inspect(&script).unwrap();
        let Format::Script(s) = &t.format else {
            panic!("not a script: {t:?}")
        };
        assert_eq!(s.interpreter, st);
        assert_eq!(s.argument.as_deref(), Some(OsStr::new("-x -y")));
        assert_eq!(t.executed().unwrap().path, st);
        assert_eq!(t.concerns(1000, 1000), vec![Concern::Static]);
        // Linux ignores set-id bits on scripts; only the interpreter's count.
        let mut t2 = t.clone();
        t2.setuid = true;
        assert_eq!(t2.concerns(1000, 1000), vec![Concern::Static]);
    }

    #[test]
    fn set_id_matters_only_when_ids_change() {
        let p = write_temp(
            "suid",
            &elf_bytes(Class::Elf64, Some("/lib64/ld-linux-x86-64.so.2")),
        );
        let mut t = inspect(&p).unwrap();
        t.setuid = true;
        t.owner = 0;
        assert!(t.concerns(0, 0).is_empty());
        assert_eq!(t.concerns(1000, 1000), vec![Concern::SecureExec("setuid")]);
        t.setuid = false;
        t.capabilities = true;
        assert!(t.concerns(0, 0).is_empty());
        assert_eq!(
            t.concerns(1000, 1000),
            vec![Concern::SecureExec("with file capabilities")]
        );
    }

    #[test]
    fn real_system_programs() {
        let t = inspect(Path::new("/bin/sh")).unwrap();
        assert!(matches!(t.executed().unwrap().format, Format::Elf(_)));
    }
}
