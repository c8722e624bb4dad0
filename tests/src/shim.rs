//! The real `libnohup.so`, built once per test process by the same cargo
//! that runs the tests, in release mode (the profile users get).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The switch that runs the whole suite without the preload.
pub const NO_PRELOAD_ENV: &str = "HUPSAFE_TEST_NO_PRELOAD";

/// Whether `HUPSAFE_TEST_NO_PRELOAD` asks for runs without the shim.
pub fn preload_disabled() -> bool {
    env::var_os(NO_PRELOAD_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, or the directory above
/// `debug/deps/` where this test binary lives.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        // A relative one is relative to wherever cargo was started, which
        // a test cannot know: the test binary's own path tells instead.
        if dir.is_absolute() {
            return dir;
        }
    }
    let exe = env::current_exe().expect("the test binary knows its own path");
    // target/debug/deps/hupsafe-xxxx -> target
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Path of the real shim, built on first use with
/// `$CARGO build --release -p hupsafe-shim`. Panics with cargo's own output
/// if the build fails.
pub fn shim_path() -> &'static Path {
    static SHIM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match SHIM.get_or_init(build_shim) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn build_shim() -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let out = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "hupsafe-shim"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run {cargo:?} to build the shim: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building libnohup.so failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lib = target.join("release").join("libnohup.so");
    if !lib.is_file() {
        return Err(format!(
            "cargo built the shim but {} does not exist",
            lib.display()
        ));
    }
    Ok(lib)
}
