//! The C fixtures in `tests/c/`, compiled with gcc on first use. Builds
//! are cached under the target directory, keyed by the content of the
//! source, of every header beside it, and of the flags, and land by an
//! atomic rename: test threads and test binaries running at once never see
//! a half-written program.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::shim::target_dir;

/// Where the fixture sources live.
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

fn cache_dir() -> PathBuf {
    target_dir().join("hupsafe-fixtures")
}

const COMMON_FLAGS: &[&str] = &[
    "-std=gnu11",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    // sigset, sighold, siginterrupt... are the point of these programs.
    "-Wno-deprecated-declarations",
    "-pthread",
];

/// A C program from `tests/c/<name>.c`.
#[derive(Clone, Debug)]
pub struct CProgram {
    name: String,
    flags: Vec<String>,
}

impl CProgram {
    pub fn new(name: &str) -> CProgram {
        CProgram {
            name: name.to_string(),
            flags: Vec::new(),
        }
    }

    /// An extra gcc flag, after the common ones (so `-std=c11` wins).
    pub fn flag(mut self, flag: &str) -> CProgram {
        self.flags.push(flag.to_string());
        self
    }

    /// Links against a library from [`shared_library`], found at run time
    /// through an rpath: a DT_NEEDED entry like any other.
    pub fn link(self, library: &Path) -> CProgram {
        let dir = library.parent().expect("a library lives in a directory");
        let stem = library
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("lib"))
            .expect("a library is named lib<name>.so");
        self.flag(&format!("-L{}", dir.display()))
            .flag(&format!("-Wl,-rpath,{}", dir.display()))
            .flag(&format!("-l{stem}"))
    }

    /// Compiles the program (once) and returns its path.
    pub fn build(&self) -> PathBuf {
        let key = cache_key(&self.name, &self.flags);
        let out = cache_dir().join(format!("{}-{key:016x}", self.name));
        if !out.is_file() {
            compile(&self.name, &[], &self.flags, &out);
        }
        out
    }
}

/// Compiles `tests/c/<name>.c` into `lib<name>.so` (soname `lib<name>.so`)
/// in a directory of its own, and returns the library's path.
pub fn shared_library(name: &str) -> PathBuf {
    let key = cache_key(name, &["-shared".to_string()]);
    let dir = cache_dir().join(format!("lib{name}-{key:016x}"));
    let out = dir.join(format!("lib{name}.so"));
    if !out.is_file() {
        let soname = format!("-Wl,-soname,lib{name}.so");
        compile(name, &["-shared", "-fPIC", &soname], &[], &out);
    }
    out
}

fn compile(name: &str, kind_flags: &[&str], flags: &[String], out: &Path) {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let dir = out.parent().expect("output has a directory");
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        out.file_name().unwrap().to_string_lossy(),
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let source = source_dir().join(format!("{name}.c"));
    let result = Command::new("gcc")
        .args(COMMON_FLAGS)
        .args(kind_flags)
        .arg("-I")
        .arg(source_dir())
        .arg("-o")
        .arg(&tmp)
        .arg(&source)
        .args(flags)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc: {e}"));
    if !result.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!(
            "gcc failed on {} ({}):\n{}",
            source.display(),
            result.status,
            String::from_utf8_lossy(&result.stderr)
        );
    }
    fs::rename(&tmp, out)
        .unwrap_or_else(|e| panic!("cannot move {} into place: {e}", tmp.display()));
}

/// FNV-1a over the source, every header beside it, and the flags: stable
/// across runs and toolchains, unlike `DefaultHasher`.
fn cache_key(name: &str, flags: &[String]) -> u64 {
    let mut h = Fnv::new();
    let source = source_dir().join(format!("{name}.c"));
    h.write(
        &fs::read(&source)
            .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", source.display())),
    );
    let mut headers: Vec<PathBuf> = fs::read_dir(source_dir())
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "h"))
                .collect()
        })
        .unwrap_or_default();
    headers.sort();
    for header in headers {
        h.write(header.to_string_lossy().as_bytes());
        h.write(&fs::read(&header).unwrap_or_default());
    }
    for flag in COMMON_FLAGS
        .iter()
        .copied()
        .chain(flags.iter().map(String::as_str))
    {
        h.write(flag.as_bytes());
        h.write(&[0]);
    }
    h.0
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
