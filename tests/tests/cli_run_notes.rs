//! Before exec, `hupsafe run` looks at the target and says once, on
//! stderr, when the shim cannot reach it (static, 32-bit, set-id or file
//! capabilities, musl) and what still protects it; `--quiet` silences
//! that. Each story runs the real kind of program where this machine can
//! make one, and checks what the program was really handed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hupsafe_tests::cli::{
    child_bin, hupsafe, is_hupsafe_shim, is_root, musl_child_bin, run_reporting, run_reporting_at,
    Ran, Status,
};
use hupsafe_tests::fixtures::CProgram;
use hupsafe_tests::Sandbox;

fn static_child() -> PathBuf {
    CProgram::new("cli_child").flag("-static").build()
}

fn run(tmp: &Sandbox, program: &Path, quiet: bool) -> Ran {
    let mut cmd = hupsafe(tmp);
    cmd.arg("run");
    if quiet {
        cmd.arg("--quiet");
    }
    run_reporting(tmp, cmd.arg("--").arg(program))
}

fn one_note(r: &Ran) -> String {
    let notes = r.notes();
    assert_eq!(notes.len(), 1, "exactly one note expected:\n{}", r.stderr);
    notes[0].to_string()
}

#[test]
fn a_dynamic_glibc_program_gets_no_note() {
    let tmp = Sandbox::new("note-none");
    let r = run(&tmp, child_bin(), false);
    assert_eq!(r.status, Status::Code(3));
    assert!(r.notes().is_empty(), "{}", r.stderr);
    let sh = tmp.root().join("script.sh");
    fs::write(&sh, "#!/bin/sh\nexit 4\n").unwrap();
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(&tmp, &sh, false);
    assert_eq!(r.status, Status::Code(4));
    assert!(r.notes().is_empty(), "{}", r.stderr);
}

#[test]
fn a_static_program_is_noted_and_still_ignores_sighup() {
    let tmp = Sandbox::new("note-static");
    let prog = static_child();
    let r = run(&tmp, &prog, false);
    assert_eq!(r.status, Status::Code(3), "{r:?}");
    let note = one_note(&r);
    assert!(
        note.contains("is statically linked")
            && note.contains("only the inherited SIG_IGN protects it")
            && note.contains("--strict"),
        "{note}"
    );
    assert!(r.child_ignores_hup());
    assert_eq!(r.field("shim-mapped"), Some("no"));
    let r = run(&tmp, &prog, true);
    assert!(r.notes().is_empty(), "--quiet: {}", r.stderr);
    assert_eq!(r.status, Status::Code(3));
}

#[test]
fn a_script_is_judged_by_its_interpreter() {
    let tmp = Sandbox::new("note-script");
    let interp = static_child();
    let direct = tmp.root().join("direct");
    fs::write(&direct, format!("#!{} -flag\n", interp.display())).unwrap();
    let via_env = tmp.root().join("via-env");
    let bin = tmp.dir("bin");
    std::os::unix::fs::symlink(&interp, bin.join("static-child")).unwrap();
    fs::write(&via_env, "#!/usr/bin/env static-child\n").unwrap();
    for s in [&direct, &via_env] {
        fs::set_permissions(s, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r = run(&tmp, &direct, false);
    assert_eq!(r.status, Status::Code(3), "{r:?}");
    let note = one_note(&r);
    assert!(
        note.contains(&format!(
            "is run by '{}', which is statically linked",
            interp.display()
        )),
        "{note}"
    );
    let mut cmd = hupsafe(&tmp);
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    let r = run_reporting(&tmp, cmd.arg(&via_env));
    assert_eq!(r.status, Status::Code(3), "{r:?}");
    let note = one_note(&r);
    assert!(note.contains("which is statically linked"), "{note}");
}

/// A minimal i386 program: ELF32 header, PT_LOAD (and PT_INTERP naming
/// the 32-bit glibc loader when `dynamic`), and `exit(7)` via int 0x80.
fn i386_program(dynamic: bool) -> Vec<u8> {
    let base: u32 = 0x0804_8000;
    let interp = b"/lib/ld-linux.so.2\0";
    let phnum: u16 = if dynamic { 2 } else { 1 };
    let code_off = 52 + 32 * phnum as u32;
    let code: [u8; 12] = [
        0xbb, 7, 0, 0, 0, // mov ebx, 7
        0xb8, 1, 0, 0, 0, // mov eax, 1 (exit)
        0xcd, 0x80, // int 0x80
    ];
    let interp_off = code_off + code.len() as u32;
    let total = interp_off + if dynamic { interp.len() as u32 } else { 0 };
    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&3u16.to_le_bytes()); // EM_386
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(base + code_off).to_le_bytes()); // e_entry
    b.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
    b.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    b.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    b.extend_from_slice(&52u16.to_le_bytes()); // e_ehsize
    b.extend_from_slice(&32u16.to_le_bytes()); // e_phentsize
    b.extend_from_slice(&phnum.to_le_bytes());
    b.extend_from_slice(&[0; 6]); // no section headers
    let mut ph = |t: u32, off: u32, size: u32, flags: u32, align: u32| {
        for v in [t, off, base + off, base + off, size, size, flags, align] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    };
    if dynamic {
        ph(3, interp_off, interp.len() as u32, 4, 1); // PT_INTERP
    }
    ph(1, 0, total, 5, 0x1000); // PT_LOAD, R+X
    b.extend_from_slice(&code);
    if dynamic {
        b.extend_from_slice(interp);
    }
    b
}

#[test]
fn a_32_bit_program_is_noted() {
    let tmp = Sandbox::new("note-i386");
    let prog = tmp.root().join("i386-dynamic");
    fs::write(&prog, i386_program(true)).unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(&tmp, &prog, false);
    let note = one_note(&r);
    assert!(
        note.contains("is a 32-bit program")
            && note.contains("wrong ELF class")
            && note.contains("only the inherited SIG_IGN protects it"),
        "{note}"
    );
    // Whether it then runs depends on this machine's 32-bit loader; either
    // way hupsafe went as far as exec.
    assert_ne!(r.status, Status::Code(125), "{r:?}");

    // A static 32-bit program needs no loader: it runs, and the note says
    // what matters (no loader at all).
    let st = tmp.root().join("i386-static");
    fs::write(&st, i386_program(false)).unwrap();
    fs::set_permissions(&st, fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(&tmp, &st, false);
    assert!(
        one_note(&r).contains("is statically linked"),
        "{}",
        r.stderr
    );
    if r.status != Status::Code(7) {
        eprintln!(
            "note: this kernel cannot run i386 programs ({:?})",
            r.status
        );
    }
}

#[test]
fn a_musl_program_gets_the_shim_without_a_note_and_is_protected() {
    let Some(musl) = musl_child_bin() else { return };
    let tmp = Sandbox::new("note-musl");
    let r = run(&tmp, musl, false);
    assert_eq!(r.status, Status::Code(3), "the program must start: {r:?}");
    assert!(
        r.notes().is_empty(),
        "no note for musl: its loader takes the shim: {}",
        r.stderr
    );
    assert!(
        r.preload().iter().any(|e| is_hupsafe_shim(e)),
        "the shim is in a musl program's LD_PRELOAD: {:?}",
        r.preload()
    );
    assert_eq!(
        r.field("shim-mapped"),
        Some("yes"),
        "musl's loader mapped the shim"
    );
    assert!(r.child_ignores_hup());
    // Inside another hupsafe, the inherited shim is kept (never twice).
    let mut cmd = hupsafe(&tmp);
    let shim = String::from_utf8(hupsafe(&tmp).arg("shim").output().unwrap().stdout).unwrap();
    cmd.env("LD_PRELOAD", format!("{}:/usr/lib/other.so", shim.trim()));
    let r = run_reporting(&tmp, cmd.arg("-q").arg(musl));
    assert_eq!(r.status, Status::Code(3), "{r:?}");
    assert_eq!(
        r.preload(),
        vec![shim.trim().to_string(), "/usr/lib/other.so".to_string()]
    );
}

/// A copy of the reporting child owned by `uid`:`gid` with `mode`.
fn set_id_copy(tmp: &Sandbox, name: &str, uid: u32, gid: u32, mode: u32) -> PathBuf {
    let p = tmp.root().join(name);
    fs::copy(child_bin(), &p).unwrap();
    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn setuid_and_setgid_programs_drop_ld_preload_and_say_so() {
    if !is_root() {
        eprintln!("skipped: only root can make a program setuid to another user");
        return;
    }
    let tmp = Sandbox::new("note-setid");
    // The report is written by the program running as nobody.
    fs::set_permissions(tmp.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let out = tmp.dir("out");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let run = |p: &Path| {
        run_reporting_at(
            &out.join("report"),
            hupsafe(&tmp).args(["run", "--"]).arg(p),
        )
    };
    for (name, mode, what) in [
        ("suid", 0o4755, "runs setuid"),
        ("sgid", 0o2755, "runs setgid"),
    ] {
        let p = set_id_copy(&tmp, name, 65534, 65534, mode);
        let r = run(&p);
        assert_eq!(r.status, Status::Code(3), "{name}: {r:?}");
        let note = one_note(&r);
        assert!(note.contains(what) && note.contains("AT_SECURE"), "{note}");
        // The kernel's verdict agrees: the loader dropped the shim.
        assert_eq!(r.field("shim-mapped"), Some("no"), "{name}: {r:?}");
        assert!(r.child_ignores_hup());
    }
    // Setuid to oneself changes nothing: no note, shim loaded.
    let p = set_id_copy(&tmp, "suid-root", 0, 0, 0o4755);
    let r = run(&p);
    assert!(r.notes().is_empty(), "{}", r.stderr);
    assert_eq!(r.field("shim-mapped"), Some("yes"));
}

/// `security.capability` v2 granting CAP_NET_BIND_SERVICE, permitted and
/// effective.
fn set_capability(p: &Path) -> bool {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
    v.extend_from_slice(&(1u32 << 10).to_le_bytes());
    v.extend_from_slice(&[0; 12]);
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: setxattr on a NUL-terminated path with a valid buffer.
    unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            v.as_ptr().cast(),
            v.len(),
            0,
        ) == 0
    }
}

#[test]
fn file_capabilities_are_noted_when_they_make_the_loader_secure() {
    if !is_root() {
        eprintln!("skipped: only root can set file capabilities");
        return;
    }
    let tmp = Sandbox::new("note-caps");
    fs::set_permissions(tmp.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let p = set_id_copy(&tmp, "capped", 0, 0, 0o755);
    if !set_capability(&p) {
        eprintln!("skipped: this file system refuses security.capability");
        return;
    }
    // For root, file capabilities grant nothing new: no AT_SECURE, no note.
    let r = run(&tmp, &p, false);
    assert!(r.notes().is_empty(), "{}", r.stderr);
    assert_eq!(r.field("shim-mapped"), Some("yes"));

    // For another user they do: the loader is secure, hupsafe says so.
    let lib = tmp.root().join("lib-nobody");
    fs::create_dir(&lib).unwrap();
    std::os::unix::fs::chown(&lib, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o700)).unwrap();
    let out = tmp.root().join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let report = out.join("report");
    let mut cmd = Command::new(hupsafe_tests::cli::hupsafe_bin());
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &out)
        .env("HUPSAFE_LIB_DIR", &lib)
        .env("REPORT", &report)
        .arg(&p)
        .uid(65534)
        .gid(65534);
    use std::os::unix::process::CommandExt;
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("runs with file capabilities") && stderr.contains("AT_SECURE"),
        "{stderr}"
    );
    let rep = fs::read_to_string(&report).unwrap();
    assert!(rep.contains("shim-mapped=no"), "{rep}");
}
