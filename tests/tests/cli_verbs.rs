//! The verbs around `run`: `--help` (examples, environment knobs),
//! `completions`, `man`, and `install-nohup`, which makes `nohup` mean
//! hupsafe's drop-in without ever replacing someone else's `nohup`.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use hupsafe_tests::cli::{hupsafe, hupsafe_bin};
use hupsafe_tests::require_tool;
use hupsafe_tests::Sandbox;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_shows_examples_and_every_environment_knob() {
    let tmp = Sandbox::new("help");
    let o = hupsafe(&tmp).arg("--help").output().unwrap();
    assert!(o.status.success());
    let (out, _) = text(&o);
    for needle in [
        "Examples:",
        "hupsafe python train.py",
        "hupsafe run --quiet -- make",
        "install-nohup",
        "Environment:",
        "HUPSAFE_LIB_DIR",
        "XDG_DATA_HOME",
        "LD_PRELOAD",
        "POSIXLY_CORRECT",
        "Exit status:",
        "completions",
        "man",
    ] {
        assert!(out.contains(needle), "--help lacks {needle:?}:\n{out}");
    }
}

#[test]
fn help_into_a_full_or_closed_stdout_fails_like_any_write() {
    let tmp = Sandbox::new("help-full");
    for args in [
        &["--help"][..],
        &["man"],
        &["completions", "bash"],
        &["--version"],
    ] {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = hupsafe(&tmp)
            .args(args)
            .stdout(Stdio::from(full))
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.contains("write error: No space left on device"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let tmp = Sandbox::new("completions");
    for (shell, check) in [
        ("bash", Some(("bash", "-n"))),
        ("zsh", Some(("zsh", "-n"))),
        ("fish", None),
    ] {
        let o = hupsafe(&tmp).args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}: {:?}", text(&o).1);
        let (script, _) = text(&o);
        assert!(
            script.contains("install-nohup") && script.contains("completions"),
            "{shell} completion lacks the verbs:\n{script}"
        );
        let Some((prog, flag)) = check else { continue };
        let Some(prog) = require_tool(prog, prog) else {
            continue;
        };
        let f = tmp.root().join(format!("completion.{shell}"));
        fs::write(&f, &script).unwrap();
        let c = Command::new(prog).arg(flag).arg(&f).output().unwrap();
        assert!(
            c.status.success(),
            "{shell} rejects its completion: {:?}",
            text(&c).1
        );
    }
    let o = hupsafe(&tmp)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn man_prints_a_roff_page() {
    let tmp = Sandbox::new("man");
    let o = hupsafe(&tmp).arg("man").output().unwrap();
    assert!(o.status.success());
    let (page, _) = text(&o);
    assert!(page.contains(".TH hupsafe 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS"] {
        assert!(page.contains(section), "man page lacks {section}");
    }
    assert!(
        page.contains("HUPSAFE_LIB_DIR"),
        "the environment is documented"
    );
    let Some(man) = require_tool("man", "man-db") else {
        return;
    };
    let f = tmp.root().join("hupsafe.1");
    fs::write(&f, &page).unwrap();
    let r = Command::new(man)
        .args(["-l", "-P", "cat"])
        .arg(&f)
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(r.status.success(), "man -l: {:?}", text(&r).1);
    assert!(text(&r).0.contains("hupsafe"));
}

fn install(tmp: &Sandbox, dir: &Path, path: &str) -> Output {
    hupsafe(tmp)
        .env("PATH", path)
        .arg("install-nohup")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn install_nohup_links_to_this_binary_and_explains_path() {
    let tmp = Sandbox::new("install");
    let dir = tmp.root().join("new/bin");
    let o = install(&tmp, &dir, "/usr/bin:/bin");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let link = dir.join("nohup");
    assert_eq!(
        fs::canonicalize(&link).unwrap(),
        fs::canonicalize(hupsafe_bin()).unwrap()
    );
    assert!(out.contains("Installed"), "{out}");
    assert!(
        out.contains("is not on PATH")
            && out.contains(&format!("export PATH=\"{}:$PATH\"", dir.display())),
        "{out}"
    );
    // Again: nothing to do, and PATH order is checked.
    let o = install(&tmp, &dir, &format!("/usr/bin:{}", dir.display()));
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(out.contains("already points to"), "{out}");
    assert!(
        out.contains("comes after '/usr/bin'") && out.contains("Put it first"),
        "{out}"
    );
    let o = install(&tmp, &dir, &format!("{}:/usr/bin", dir.display()));
    let (out, _) = text(&o);
    assert!(
        out.contains("comes before '/usr/bin'") && out.contains("hash -r"),
        "{out}"
    );

    // The link behaves as nohup.
    let v = Command::new(&link).arg("--version").output().unwrap();
    assert!(text(&v).0.starts_with("nohup (hupsafe) "), "{:?}", text(&v));
}

#[test]
fn install_nohup_never_replaces_someone_elses_nohup() {
    let tmp = Sandbox::new("install-refuse");
    let dir = tmp.dir("bin");
    let theirs = dir.join("nohup");
    fs::write(&theirs, "#!/bin/sh\necho theirs\n").unwrap();
    let o = install(&tmp, &dir, "/usr/bin:/bin");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(125));
    assert!(err.contains("refusing to replace"), "{err}");
    assert_eq!(
        fs::read_to_string(&theirs).unwrap(),
        "#!/bin/sh\necho theirs\n"
    );

    // A link to another nohup is not ours either.
    let dir2 = tmp.dir("bin2");
    std::os::unix::fs::symlink("/usr/bin/nohup", dir2.join("nohup")).unwrap();
    let o = install(&tmp, &dir2, "/usr/bin:/bin");
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o).1.contains("a link to '/usr/bin/nohup'"),
        "{:?}",
        text(&o)
    );
    assert_eq!(
        fs::read_link(dir2.join("nohup")).unwrap(),
        Path::new("/usr/bin/nohup")
    );

    // A dangling link to a hupsafe that moved away is ours: replaced.
    let dir3 = tmp.dir("bin3");
    std::os::unix::fs::symlink("/old/place/hupsafe", dir3.join("nohup")).unwrap();
    let o = install(&tmp, &dir3, "/usr/bin:/bin");
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        fs::canonicalize(dir3.join("nohup")).unwrap(),
        fs::canonicalize(hupsafe_bin()).unwrap()
    );
}
