//! `hupsafe wrap`: a PATH wrapper and an embedded copy keep a program that
//! resets SIGHUP itself alive through a hangup, where nobody set
//! LD_PRELOAD for it (or it was stripped on the way); and every refusal
//! says why and leaves no file behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::sandbox::{finish, Sandbox};
use hupsafe_tests::{CProgram, Launch, Running};

/// A sandbox for the wrap stories: `wrapdir/` (the wrap directory) and
/// `real/` (where the real programs live) made.
fn sandbox(label: &str) -> Sandbox {
    let e = Sandbox::for_jobs(label);
    e.dir("wrapdir");
    e.dir("real");
    e
}

fn wrap_dir(e: &Sandbox) -> PathBuf {
    e.root().join("wrapdir")
}

fn real_dir(e: &Sandbox) -> PathBuf {
    e.root().join("real")
}

/// Environment for hupsafe and the wrapped programs: the sandbox's, with
/// PATH `path` and no relay (output is a pipe anyway).
fn vars(e: &Sandbox, path: &str) -> Vec<(String, String)> {
    e.env_with(&[("PATH", path), ("HUPSAFE_RELAY", "0")])
}

fn default_path(e: &Sandbox) -> String {
    format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        wrap_dir(e).display(),
        real_dir(e).display()
    )
}

/// `hupsafe ARGS` with PATH `path`: (status, stdout, stderr).
fn hupsafe(e: &Sandbox, path: &str, args: &[&str]) -> (i32, String, String) {
    finish(e.hupsafe(args).env_clear().envs(vars(e, path)))
}

fn launch(e: &Sandbox, program: impl AsRef<std::ffi::OsStr>, path: &str) -> Launch {
    let mut l = Launch::new(program);
    for (k, v) in vars(e, path) {
        l = l.env(k, v);
    }
    l
}

fn fixture(version: u32) -> PathBuf {
    CProgram::new("wrap_hup")
        .flag(&format!("-DWRAP_VERSION={version}"))
        .build()
}

/// Puts a copy of `from` at `to` the way a package upgrade does: a new
/// file renamed over the old one.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    fs::copy(from, &tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&tmp, to).unwrap();
}

/// Started with SIGHUP at its default, the program resets it again, is
/// hung up on, and still answers afterwards, from the same pid.
#[track_caller]
fn survives_hangup(mut r: Running, version: u32) {
    r.expect_line(&format!("version {version}"));
    r.expect_line("reset SIGHUP");
    r.expect_line("ready");
    let pid = r.pid();
    r.hang_up();
    assert!(
        r.is_alive(),
        "pid {pid} died of the hangup\n{}",
        r.transcript()
    );
    assert!(r.ping(), "no pong after the hangup\n{}", r.transcript());
    assert_eq!(r.pid(), pid);
    r.finish().assert_success().assert_line("bye");
}

fn hash(p: &Path) -> u64 {
    // FNV-1a 64: enough to tell a changed file.
    fs::read(p)
        .unwrap()
        .iter()
        .fold(0xcbf29ce484222325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        })
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_path_wrapper_protects_a_program_that_resets_sighup() {
    let e = sandbox("wrap-path");
    install(&fixture(1), &real_dir(&e).join("prog"));
    let wrap = wrap_dir(&e).display().to_string();
    let (st, out, err) = hupsafe(&e, &default_path(&e), &["wrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 0, "{out}{err}");
    let wrapper = wrap_dir(&e).join("prog");
    let head = fs::read_to_string(&wrapper).unwrap();
    assert!(head
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("# hupsafe-wrapper: prog"));

    // The control: run plainly, the same program dies of the hangup.
    let mut plain = launch(&e, real_dir(&e).join("prog"), &default_path(&e)).spawn();
    plain.expect_line("ready");
    plain.hang_up();
    assert!(
        !plain.ping(),
        "the control survived\n{}",
        plain.transcript()
    );

    // Found through PATH, as a launcher would find it.
    let through_path = launch(&e, "/bin/sh", &default_path(&e)).args(["-c", "exec prog"]);
    survives_hangup(through_path.spawn(), 1);

    // Listed, and removed by unwrap.
    let (st, out, _) = hupsafe(&e, &default_path(&e), &["wrap", "--list", "--dir", &wrap]);
    assert_eq!((st, out.as_str()), (0, "prog\n"));
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["unwrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 0, "{err}");
    assert!(!wrapper.exists());
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["unwrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 1, "{err}");
    assert!(err.contains("'prog' is not wrapped"), "{err}");
}

#[test]
fn a_path_wrapper_survives_an_upgrade_of_the_real_program() {
    let e = sandbox("wrap-upgrade");
    install(&fixture(1), &real_dir(&e).join("prog"));
    let wrap = wrap_dir(&e).display().to_string();
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["wrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 0, "{err}");
    survives_hangup(
        launch(&e, wrap_dir(&e).join("prog"), &default_path(&e)).spawn(),
        1,
    );
    install(&fixture(2), &real_dir(&e).join("prog"));
    survives_hangup(
        launch(&e, wrap_dir(&e).join("prog"), &default_path(&e)).spawn(),
        2,
    );
}

#[test]
fn a_path_wrapper_never_calls_itself() {
    let e = sandbox("wrap-recursion");
    install(&fixture(1), &real_dir(&e).join("prog"));
    let wrap = wrap_dir(&e).display().to_string();
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["wrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 0, "{err}");
    // The wrap directory twice, and once more through a symlink.
    let link = e.root().join("wraplink");
    std::os::unix::fs::symlink(wrap_dir(&e), &link).unwrap();
    let path = format!(
        "{w}:{l}:{w}:{r}:/usr/bin:/bin",
        w = wrap_dir(&e).display(),
        l = link.display(),
        r = real_dir(&e).display()
    );
    survives_hangup(
        launch(&e, "/bin/sh", &path)
            .args(["-c", "exec prog"])
            .spawn(),
        1,
    );
    // With the real program gone, the wrapper says so and ends.
    fs::remove_file(real_dir(&e).join("prog")).unwrap();
    let out = Command::new(wrap_dir(&e).join("prog"))
        .env_clear()
        .env("PATH", &path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("prog: not found on PATH outside"));
}

#[test]
fn a_wrapper_runs_the_program_unprotected_when_hupsafe_is_gone() {
    let e = sandbox("wrap-gone");
    install(&fixture(1), &real_dir(&e).join("prog"));
    let copy = e.root().join("hupsafe-copy");
    fs::copy(hupsafe_bin(), &copy).unwrap();
    let wrap = wrap_dir(&e).display().to_string();
    let out = hupsafe_tests::process::output_of_fresh_binary(
        Command::new(&copy)
            .args(["wrap", "prog", "--dir", &wrap])
            .env("PATH", default_path(&e)),
    );
    assert!(out.status.success(), "{out:?}");
    fs::remove_file(&copy).unwrap();
    let out = Command::new(wrap_dir(&e).join("prog"))
        .env_clear()
        .env("PATH", default_path(&e))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is gone; running") && err.contains("unprotected"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bye"));
}

#[test]
fn an_embedded_copy_is_protected_without_ld_preload() {
    hupsafe_tests::require_tool!("patchelf", "patchelf");
    let e = sandbox("wrap-embed");
    let prog = real_dir(&e).join("prog");
    install(&fixture(1), &prog);
    let before = hash(&prog);
    let out = e.root().join("out").join("prog.hupsafe");
    fs::create_dir(out.parent().unwrap()).unwrap();
    let (st, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &[
            "wrap",
            "--embed",
            prog.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(st, 0, "{err}");
    assert!(err.contains("DT_NEEDED"), "{err}");
    assert_eq!(hash(&prog), before, "the original was changed");
    assert_eq!(listing(out.parent().unwrap()), vec!["prog.hupsafe"]);

    // The control: the original under `env -i` dies of the hangup.
    let mut plain = Launch::new("/usr/bin/env").arg("-i").arg(&prog).spawn();
    plain.expect_line("ready");
    plain.hang_up();
    assert!(
        !plain.ping(),
        "the control survived\n{}",
        plain.transcript()
    );

    let r = Launch::new("/usr/bin/env").arg("-i").arg(&out).spawn();
    survives_hangup(r, 1);
    let r = Launch::new("/usr/bin/env")
        .args(["-u", "LD_PRELOAD"])
        .arg(&out)
        .env("LD_PRELOAD", "")
        .spawn();
    survives_hangup(r, 1);
    assert_eq!(hash(&prog), before, "the original was changed");
}

#[test]
fn embed_in_place_keeps_a_backup() {
    hupsafe_tests::require_tool!("patchelf", "patchelf");
    let e = sandbox("wrap-inplace");
    let prog = real_dir(&e).join("prog");
    install(&fixture(1), &prog);
    let before = hash(&prog);
    let (st, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &["wrap", "--embed", "--in-place", prog.to_str().unwrap()],
    );
    assert_eq!(st, 0, "{err}");
    let backup = real_dir(&e).join("prog.hupsafe-orig");
    assert_eq!(hash(&backup), before);
    assert_ne!(hash(&prog), before);
    assert_eq!(listing(&real_dir(&e)), vec!["prog", "prog.hupsafe-orig"]);
    survives_hangup(Launch::new("/usr/bin/env").arg("-i").arg(&prog).spawn(), 1);
}

/// A 32-bit ELF header with a PT_INTERP (enough for inspection).
fn elf32() -> Vec<u8> {
    let interp = b"/lib/ld-linux.so.2\0";
    let mut b = vec![0u8; 52 + 32];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 1;
    b[5] = 1;
    b[6] = 1;
    b[16] = 2;
    b[18..20].copy_from_slice(&3u16.to_le_bytes());
    b[28..32].copy_from_slice(&52u32.to_le_bytes());
    b[42..44].copy_from_slice(&32u16.to_le_bytes());
    b[44..46].copy_from_slice(&1u16.to_le_bytes());
    b[52..56].copy_from_slice(&3u32.to_le_bytes());
    b[56..60].copy_from_slice(&84u32.to_le_bytes());
    b[68..72].copy_from_slice(&(interp.len() as u32).to_le_bytes());
    b.extend_from_slice(interp);
    b
}

#[test]
fn every_refusal_says_why_and_leaves_no_file() {
    let e = sandbox("wrap-refuse");
    let src = e.dir("src");
    let put = |name: &str, bytes: &[u8]| {
        let p = src.join(name);
        fs::write(&p, bytes).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let static_prog = src.join("static");
    fs::copy(
        CProgram::new("wrap_hup").flag("-static").build(),
        &static_prog,
    )
    .unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (static_prog, "is statically linked"),
        (put("i386", &elf32()), "is a 32-bit program"),
        (
            put("script", b"#!/bin/sh\necho hi\n"),
            "is a script (#!/bin/sh)",
        ),
        (put("text", b"echo hi\n"), "is not an ELF program"),
    ];
    let out_dir = e.dir("out");
    let out = out_dir.join("copy");
    for (prog, why) in &cases {
        let before = hash(prog);
        let (st, _, err) = hupsafe(
            &e,
            &default_path(&e),
            &[
                "wrap",
                "--embed",
                prog.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(st, 125, "{}: {err}", prog.display());
        assert!(err.contains(why), "{}: {err}", prog.display());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(listing(&out_dir).is_empty(), "{:?}", listing(&out_dir));
        assert_eq!(hash(prog), before);
    }
    let (_, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &[
            "wrap",
            "--embed",
            cases[0].0.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(err.contains("hupsafe --strict"), "{err}");
    let (_, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &[
            "wrap",
            "--embed",
            cases[2].0.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(err.contains("PATH wrapper: hupsafe wrap script"), "{err}");

    // A name not on PATH, for both ways.
    let wrap = wrap_dir(&e).display().to_string();
    let (st, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &["wrap", "no-such-prog", "--dir", &wrap],
    );
    assert_eq!(st, 127, "{err}");
    assert!(err.contains("'no-such-prog' is not found on PATH"), "{err}");
    assert!(listing(&wrap_dir(&e)).is_empty());
    let (st, _, err) = hupsafe(
        &e,
        &default_path(&e),
        &[
            "wrap",
            "--embed",
            "no-such-prog",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(st, 127, "{err}");
    assert!(err.contains("'no-such-prog' is not found on PATH"), "{err}");
    assert!(listing(&out_dir).is_empty());

    // Without patchelf on PATH.
    let prog = real_dir(&e).join("prog");
    install(&fixture(1), &prog);
    let (st, _, err) = hupsafe(
        &e,
        "/nonexistent",
        &[
            "wrap",
            "--embed",
            prog.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(st, 125, "{err}");
    assert!(err.contains("needs the patchelf program"), "{err}");
    assert!(listing(&out_dir).is_empty());

    // A file in the wrap directory that hupsafe did not write is kept.
    let foreign = wrap_dir(&e).join("prog");
    fs::write(&foreign, "#!/bin/sh\n# mine\n").unwrap();
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["wrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 125, "{err}");
    assert!(err.contains("was not written by hupsafe"), "{err}");
    let (st, _, err) = hupsafe(&e, &default_path(&e), &["unwrap", "prog", "--dir", &wrap]);
    assert_eq!(st, 125, "{err}");
    assert!(
        err.contains("was not written by hupsafe; not removing it"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "#!/bin/sh\n# mine\n");
}

/// A root-owned program must not get a shim its runner could swap: a user
/// whose shim directory is their own is refused, with the fix. Runs as
/// uid 65534 through setpriv when the tests run as root.
#[test]
fn a_user_writable_shim_is_not_embedded_into_a_root_owned_program() {
    use std::os::unix::fs::chown;
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = if root {
        Some(hupsafe_tests::require_tool!("setpriv", "util-linux"))
    } else {
        None
    };
    // Open to uid 65534, which runs hupsafe from it.
    let sandbox = Sandbox::new("wrap-root");
    let base = sandbox.root();
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
    let lib = base.join("lib");
    let out_dir = base.join("out");
    for d in [&lib, &out_dir] {
        fs::create_dir(d).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
        if root {
            chown(d, Some(65534), Some(65534)).unwrap();
        }
    }
    let mut c = if let Some(setpriv) = &setpriv {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(hupsafe_bin());
        c
    } else {
        Command::new(hupsafe_bin())
    };
    let out = c
        .args(["wrap", "--embed", "/bin/true", "-o"])
        .arg(out_dir.join("true"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &lib)
        .env("HUPSAFE_LIB_DIR", &lib)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let left = listing(&out_dir);
    if err.contains("Permission denied") && !err.contains("refusing") {
        eprintln!("skipped: the hupsafe binary is not reachable by uid 65534: {err}");
        return;
    }
    if Path::new("/usr/local/lib/hupsafe").exists() {
        eprintln!("skipped: a system shim is installed");
        return;
    }
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("refusing to embed"), "{err}");
    assert!(err.contains("is owned by root"), "{err}");
    assert!(err.contains("sudo hupsafe install --system"), "{err}");
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn install_system_needs_root() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let setpriv = hupsafe_tests::require_tool!("setpriv", "util-linux");
        let out = Command::new(&setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(hupsafe_bin())
            .args(["install", "--system"])
            .env_clear()
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("Permission denied") {
            return;
        }
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains("sudo hupsafe install --system"), "{err}");
    } else {
        let out = Command::new(hupsafe_bin())
            .args(["install", "--system"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains("sudo hupsafe install --system"), "{err}");
    }
}

/// `hupsafe init` puts an existing wrap directory first on PATH (once),
/// and leaves PATH alone when there is none.
#[test]
fn init_puts_the_wrap_directory_first_on_path() {
    let e = sandbox("wrap-init");
    for shell in ["bash", "zsh"] {
        let Some(sh) = hupsafe_tests::require_tool(shell, shell) else {
            continue;
        };
        for (dir, exists) in [(wrap_dir(&e), true), (e.root().join("none"), false)] {
            let mut c = Command::new(hupsafe_bin());
            c.env_clear().args(["init", shell]);
            for (k, v) in vars(&e, "/usr/bin:/bin") {
                c.env(k, v);
            }
            let script = c.env("HUPSAFE_WRAP_DIR", &dir).output().unwrap();
            assert!(script.status.success());
            let file = e.root().join(format!("init.{shell}"));
            fs::write(&file, &script.stdout).unwrap();
            let out = Command::new(&sh)
                .arg("-c")
                .arg(format!(
                    ". '{}'; . '{}'; echo \"$PATH\"",
                    file.display(),
                    file.display()
                ))
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", e.root().join("home"))
                .output()
                .unwrap();
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let want = if exists {
                format!("{}:/usr/bin:/bin", dir.display())
            } else {
                "/usr/bin:/bin".to_string()
            };
            assert_eq!(
                path,
                want,
                "{shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
