//! `hupsafe CMD` / `hupsafe run -- CMD` given bad input: each story checks
//! the exit status, that the message names the problem and the fix, and,
//! when the command runs, what it was handed (through the reporting child).

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use hupsafe_tests::cli::{child_bin, hupsafe, hupsafe_bin, is_root, os, run_reporting, Status};
use hupsafe_tests::Sandbox;

fn code(n: i32) -> Status {
    Status::Code(n)
}

#[test]
fn the_command_runs_protected_with_its_own_exit_status() {
    let tmp = Sandbox::new("run-ok");
    let r = run_reporting(&tmp, hupsafe(&tmp).arg(child_bin()));
    assert_eq!(r.status, code(3), "the child's own status: {r:?}");
    assert_eq!(r.stdout, b"child-stdout\n");
    assert_eq!(r.stderr, "child-stderr\n", "nothing from hupsafe");
    assert!(r.child_ignores_hup(), "SIGHUP not ignored: {r:?}");
    assert_eq!(r.field("shim-mapped"), Some("yes"));
    let r2 = run_reporting(&tmp, hupsafe(&tmp).args(["run", "--"]).arg(child_bin()));
    assert_eq!(r2.status, code(3));
    assert_eq!(r2.field("shim-mapped"), Some("yes"));
}

#[test]
fn a_command_that_is_not_found_is_127() {
    let tmp = Sandbox::new("run-127");
    let r = run_reporting(&tmp, hupsafe(&tmp).arg("no-such-command-for-hupsafe"));
    assert_eq!(r.status, code(127), "{r:?}");
    assert!(
        r.stderr
            .contains("'no-such-command-for-hupsafe': command not found"),
        "{}",
        r.stderr
    );
    let r = run_reporting(&tmp, hupsafe(&tmp).arg("/no/such/dir/cmd"));
    assert_eq!(r.status, code(127), "{r:?}");
}

#[test]
fn a_directory_or_a_file_without_x_is_126() {
    let tmp = Sandbox::new("run-126");
    let dir = tmp.dir("adir");
    let r = run_reporting(&tmp, hupsafe(&tmp).arg(&dir));
    assert_eq!(r.status, code(126), "{r:?}");
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);

    let file = tmp.root().join("plain");
    fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let r = run_reporting(&tmp, hupsafe(&tmp).arg(&file));
    assert_eq!(r.status, code(126), "{r:?}");
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
}

#[test]
fn no_command_is_125_with_usage() {
    let tmp = Sandbox::new("run-125");
    let r = run_reporting(&tmp, &mut hupsafe(&tmp));
    assert_eq!(r.status, code(125), "{r:?}");
    assert!(r.stderr.contains("no command given"), "{}", r.stderr);
    assert!(r.stderr.contains("Usage: hupsafe"), "{}", r.stderr);
    let r = run_reporting(&tmp, hupsafe(&tmp).arg("run"));
    assert_eq!(r.status, code(125), "{r:?}");
    assert!(r.stderr.contains("Usage: hupsafe run"), "{}", r.stderr);
}

#[test]
fn a_shell_builtin_is_explained_and_127() {
    let tmp = Sandbox::new("run-cd");
    for word in ["cd", "export", "source"] {
        let r = run_reporting(&tmp, hupsafe(&tmp).args([word, "/tmp"]));
        assert_eq!(r.status, code(127), "{word}: {r:?}");
        assert!(
            r.stderr.contains("is a shell builtin, not a program") && r.stderr.contains("bash -c"),
            "{word}: {}",
            r.stderr
        );
    }
}

#[test]
fn arguments_with_spaces_newlines_and_non_utf8_bytes_pass_unchanged() {
    let tmp = Sandbox::new("run-args");
    let args = [
        os(b"two words"),
        os(b"line\nbreak"),
        os(b"\xff\xfe\x80 not utf-8"),
        os(b""),
        os(b"--quiet"),
        os(b"-q"),
        os(b"--"),
        os(b"$HOME 'q' \"d\" \\"),
    ];
    for form in [&[][..], &["run", "--"]] {
        let r = run_reporting(&tmp, hupsafe(&tmp).args(form).arg(child_bin()).args(&args));
        assert_eq!(r.status, code(3), "{r:?}");
        for (i, a) in args.iter().enumerate() {
            let hex: String = a.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                r.field(&format!("argv[{}]", i + 1)),
                Some(hex.as_str()),
                "argument {i} changed: {:?}",
                r.report
            );
        }
        assert_eq!(r.field(&format!("argv[{}]", args.len() + 1)), None);
    }
}

#[test]
fn without_home_the_shim_goes_to_var_tmp_or_tmp() {
    let tmp = Sandbox::new("run-nohome");
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut fallbacks = vec![
        format!("/var/tmp/hupsafe-{uid}/"),
        format!("/tmp/hupsafe-{uid}/"),
    ];
    if is_root() {
        // Root's programs load the system copy, readable by every user
        // they may become (security.rs).
        fallbacks = vec!["/usr/local/lib/hupsafe/".to_string()];
    }
    for home in [None, Some("/proc"), Some("/dev/null")] {
        let mut cmd = hupsafe(&tmp);
        cmd.env_remove("HUPSAFE_LIB_DIR")
            .env_remove("XDG_DATA_HOME");
        match home {
            None => cmd.env_remove("HOME"),
            Some(h) => cmd.env("HOME", h),
        };
        let r = run_reporting(&tmp, cmd.arg(child_bin()));
        assert_eq!(r.status, code(3), "HOME={home:?}: {r:?}");
        let shim = r.preload().into_iter().next().unwrap_or_default();
        assert!(
            fallbacks.iter().any(|f| shim.starts_with(f.as_str())),
            "HOME={home:?}: shim at {shim:?}, expected under {fallbacks:?}"
        );
        assert_eq!(r.field("shim-mapped"), Some("yes"), "HOME={home:?}");
    }
}

#[test]
fn a_shim_dir_others_can_write_is_refused_with_the_fix() {
    let tmp = Sandbox::new("run-lib0770");
    for mode in [0o770, 0o707, 0o755] {
        let lib = tmp.dir(&format!("lib{mode:o}"));
        fs::set_permissions(&lib, fs::Permissions::from_mode(mode)).unwrap();
        let r = run_reporting(
            &tmp,
            hupsafe(&tmp).env("HUPSAFE_LIB_DIR", &lib).arg(child_bin()),
        );
        assert_eq!(r.status, code(125), "mode {mode:o}: {r:?}");
        assert!(r.report.is_none(), "the command must not run");
        assert!(
            r.stderr.contains("refusing to use")
                && r.stderr.contains(&format!("not private (mode {mode:o})"))
                && r.stderr.contains("chmod 700"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_shim_dir_owned_by_someone_else_is_refused() {
    if !is_root() {
        eprintln!("skipped: only root can hand a directory to another user");
        return;
    }
    let tmp = Sandbox::new("run-libnobody");
    let lib = tmp.dir("lib-nobody");
    std::os::unix::fs::chown(&lib, Some(65534), Some(65534)).unwrap();
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp).env("HUPSAFE_LIB_DIR", &lib).arg(child_bin()),
    );
    assert_eq!(r.status, code(125), "{r:?}");
    assert!(r.report.is_none(), "the command must not run");
    assert!(
        r.stderr
            .contains("is owned by uid 65534, not by you (uid 0)")
            && r.stderr.contains("HUPSAFE_LIB_DIR"),
        "{}",
        r.stderr
    );
}

#[test]
fn relative_or_missing_ld_preload_entries_are_kept_with_a_note() {
    let tmp = Sandbox::new("run-ldp");
    let existing = "rel/lib.so:/no/such/lib.so";
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp).env("LD_PRELOAD", existing).arg(child_bin()),
    );
    assert_eq!(r.status, code(3), "{r:?}");
    let p = r.preload();
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].contains("/libnohup-"), "shim first: {p:?}");
    assert_eq!(&p[1..], ["rel/lib.so", "/no/such/lib.so"]);
    let notes = r.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("'rel/lib.so' is a relative path")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("'/no/such/lib.so' does not exist")),
        "{notes:?}"
    );
    // --quiet silences the notes, not the entries.
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp)
            .env("LD_PRELOAD", existing)
            .arg("--quiet")
            .arg(child_bin()),
    );
    assert!(r.notes().is_empty(), "{}", r.stderr);
    assert_eq!(r.preload().len(), 3);
}

#[test]
fn the_shim_is_never_preloaded_twice() {
    let tmp = Sandbox::new("run-twice");
    // hupsafe inside hupsafe.
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp)
            .arg(hupsafe_bin())
            .arg("run")
            .arg("--")
            .arg(child_bin()),
    );
    assert_eq!(r.status, code(3), "{r:?}");
    let shims = r
        .preload()
        .iter()
        .filter(|e| e.contains("/libnohup-"))
        .count();
    assert_eq!(shims, 1, "{:?}", r.preload());
    // A LD_PRELOAD that already names the shim (from `hupsafe shim`),
    // and an older version's shim elsewhere.
    let shim = hupsafe(&tmp).arg("shim").output().unwrap();
    assert!(shim.status.success());
    let shim = String::from_utf8(shim.stdout).unwrap().trim().to_string();
    let old = "/opt/old/libnohup-0123456789abcdef.so";
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp)
            .env("LD_PRELOAD", format!("{shim} {old}:{shim}"))
            .arg(child_bin()),
    );
    assert_eq!(r.preload(), vec![shim], "{r:?}");
}

#[test]
fn notes_are_one_line_and_quiet_silences_them_errors_never() {
    let tmp = Sandbox::new("run-quiet");
    let r = run_reporting(&tmp, hupsafe(&tmp).args(["--quiet", "no-such-cmd-hs"]));
    assert_eq!(r.status, code(127));
    assert!(
        r.stderr.contains("command not found"),
        "errors are never silenced"
    );
    let r = run_reporting(
        &tmp,
        hupsafe(&tmp).args(["run", "--quiet", "--", "no-such-cmd-hs"]),
    );
    assert_eq!(r.status, code(127));
    assert!(r.stderr.contains("command not found"));
}
