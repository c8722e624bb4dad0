//! Builds `libnohup.so` (the `shim/` crate) and hands it to the binary,
//! which embeds it: one `hupsafe` file carries its own shim.
//!
//! The shim is a no_std cdylib that must be built with the release profile
//! (`panic = "abort"`), so it is built by a nested cargo into a target
//! directory of its own, as uutils' stdbuf does with its preload.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let shim = manifest.join("../shim");
    for p in ["src", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={}", shim.join(p).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("../Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=HUPSAFE_PREBUILT_SHIM");

    let dest = out.join("libnohup.so");
    let built = match env::var_os("HUPSAFE_PREBUILT_SHIM") {
        // Packagers may build the shim themselves and point at it.
        Some(p) => PathBuf::from(p),
        None => build_shim(&shim, &out),
    };
    let bytes = fs::read(&built)
        .unwrap_or_else(|e| panic!("cannot read the built shim {}: {e}", built.display()));
    fs::write(&dest, &bytes).unwrap();
    println!("cargo:rustc-env=HUPSAFE_SHIM_HASH={:016x}", fnv1a64(&bytes));
    link_unwinder_statically(&out);
}

/// On glibc targets the standard library takes its unwinder (used for
/// backtraces only: panics abort) from `libgcc_s.so.1`. Loading that library
/// and running its constructor, which probes the CPU with CPUID (a trap to
/// the hypervisor on a VM, about 4 us each where this was measured), costs
/// about 0.1 ms of every `hupsafe` start, a tenth of an exec (README,
/// Benchmarks). The same unwinder exists as a static archive, libgcc_eh.a,
/// which is what `crt-static` builds link; a directory holding it under the
/// name `libgcc_s.a` comes first on the link search path, so the linker's
/// `-lgcc_s` resolves to it. When the archive cannot be found (a toolchain
/// without GCC's runtime, or a cross build), the build stays as it was.
/// `HUPSAFE_SHARED_LIBGCC=1` keeps the shared library.
fn link_unwinder_statically(out: &std::path::Path) {
    println!("cargo:rerun-if-env-changed=HUPSAFE_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=CC");
    let cfg = |k: &str| env::var(k).unwrap_or_default();
    let static_crt = cfg("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if cfg("CARGO_CFG_TARGET_OS") != "linux"
        || cfg("CARGO_CFG_TARGET_ENV") != "gnu"
        || static_crt
        || cfg("HOST") != cfg("TARGET")
        || env::var_os("HUPSAFE_SHARED_LIBGCC").is_some_and(|v| v == "1")
    {
        return;
    }
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let Ok(found) = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let archive = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    // gcc prints the bare name back when it has no such file.
    if !found.status.success() || !archive.is_absolute() || !archive.is_file() {
        println!("cargo:warning=libgcc_eh.a not found: hupsafe links libgcc_s.so.1 (slower start)");
        return;
    }
    let dir = out.join("static-unwinder");
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libgcc_s.a");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&archive, &link).unwrap();
    println!("cargo:rustc-link-search=native={}", dir.display());
}

fn build_shim(shim: &std::path::Path, out: &std::path::Path) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out.join("shim-target");
    let host = env::var("HOST").unwrap();
    let target = env::var("TARGET").unwrap();
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(shim.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if target != host {
        cmd.arg("--target").arg(&target);
    }
    // The outer build's flags and wrappers (clippy-driver, coverage
    // instrumentation) are not meant for the shim.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the shim: {e}"));
    assert!(status.success(), "building the shim (shim/) failed");
    let mut p = target_dir;
    if target != host {
        p.push(&target);
    }
    p.push("release/libnohup.so");
    p
}

/// FNV-1a, 64 bits: names the shim file by its content, so that two
/// versions of hupsafe never overwrite each other's shim.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
