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
