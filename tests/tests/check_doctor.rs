//! `hupsafe doctor [CMD]`: the shim really installed and loadable (and
//! refused when its directory is not private), the shell integration in
//! the rc file, the marks, logind and ptrace reported, and for a command,
//! the protection it would get: dynamic programs and scripts get the shim;
//! static and setuid programs get a warning and the fix. Exit statuses: 0
//! all in order, 1 something at risk, 2 a command that is not there.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use hupsafe_tests::check::hupsafe;
use hupsafe_tests::cli::{hupsafe_bin, is_root};
use hupsafe_tests::shell::{quote, write_script};
use hupsafe_tests::CProgram;
use hupsafe_tests::Sandbox;

/// `doctor --json ARGS...` in `world`: (status, findings by topic).
fn doctor(world: &Sandbox, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut a = vec!["doctor".to_string(), "--json".to_string()];
    a.extend(args.iter().map(|s| s.to_string()));
    let (status, out, err) = hupsafe(&world.env(), &a);
    let json: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {out}\n{err}"));
    assert_eq!(json["status"], status, "{out}");
    (status, json, out)
}

fn topic<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["topic"] == name)
        .unwrap_or_else(|| panic!("no {name} finding: {json:#}"))
}

/// The status when nothing but `extra` is at risk: logind may put a
/// developer's machine at risk (KillUserProcesses=yes).
fn expected_status(json: &serde_json::Value, extra: bool) -> i32 {
    i32::from(extra || topic(json, "logind")["level"] == "at_risk")
}

#[test]
fn a_fresh_environment() {
    let world = Sandbox::with_programs("doctor-fresh");
    let (status, json, out) = doctor(&world, &[]);
    let shim = topic(&json, "shim");
    assert_eq!(shim["level"], "ok", "{out}");
    let lib = world.root().join("lib");
    // HUPSAFE_LIB_DIR (the sandbox's) is used as given, by root too.
    assert!(
        shim["text"]
            .as_str()
            .unwrap()
            .contains(&lib.to_string_lossy().into_owned()),
        "{out}"
    );
    assert!(
        fs::read_dir(&lib).unwrap().count() > 0,
        "doctor installs the shim it tries"
    );
    assert!(
        shim["text"].as_str().unwrap().contains("SIGHUP ignored"),
        "{out}"
    );
    assert_eq!(topic(&json, "marks")["level"], "note", "{out}");
    assert_eq!(topic(&json, "shell")["level"], "note", "{out}");
    assert_eq!(topic(&json, "jobs")["level"], "ok", "{out}");
    assert!(topic(&json, "logind")["text"]
        .as_str()
        .unwrap()
        .contains("KillUserProcesses"));
    topic(&json, "ptrace");
    assert_eq!(status, expected_status(&json, false), "{out}");

    // The same as text: one finding a line.
    let (_, text, _) = hupsafe(&world.env(), &["doctor".into()]);
    assert!(
        text.lines().any(|l| l.starts_with("shim     ok       ")),
        "{text}"
    );
}

#[test]
fn a_shim_directory_others_can_write_is_refused() {
    let world = Sandbox::with_programs("doctor-open-lib");
    let lib = world.root().join("lib");
    fs::set_permissions(&lib, fs::Permissions::from_mode(0o755)).unwrap();
    let (status, json, out) = doctor(&world, &[]);
    let shim = topic(&json, "shim");
    assert_eq!(shim["level"], "at_risk", "{out}");
    assert!(
        shim["text"].as_str().unwrap().contains("not private"),
        "{out}"
    );
    assert_eq!(status, 1);
}

#[test]
fn shell_integration_and_marks() {
    let world = Sandbox::with_programs("doctor-shell");
    let home = world.root().join("home");
    world.mark(&["python3", "torchrun"]);
    let run_from_bash = |world: &Sandbox| {
        let line = format!(
            "{} doctor --json; :",
            quote(&hupsafe_bin().to_string_lossy())
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &line])
            .env_clear()
            .envs(world.env())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        (json, text)
    };
    let (json, out) = run_from_bash(&world);
    let shell = topic(&json, "shell");
    assert_eq!(shell["level"], "note", "{out}");
    assert!(
        shell["fix"]
            .as_str()
            .unwrap()
            .contains("eval \"$(hupsafe init bash)\""),
        "{out}"
    );
    let marks = topic(&json, "marks");
    assert_eq!(marks["level"], "ok", "{out}");
    assert!(
        marks["text"]
            .as_str()
            .unwrap()
            .ends_with("python3, torchrun"),
        "{out}"
    );

    fs::write(
        home.join(".bashrc"),
        "# mine\neval \"$(hupsafe init bash)\"\n",
    )
    .unwrap();
    let (json, out) = run_from_bash(&world);
    let shell = topic(&json, "shell");
    assert_eq!(shell["level"], "ok", "{out}");
    assert!(
        shell["text"]
            .as_str()
            .unwrap()
            .contains("declare -F __hupsafe_prompt"),
        "{out}"
    );
}

#[test]
fn a_dynamic_program_gets_the_shim() {
    let world = Sandbox::with_programs("doctor-dynamic");
    let (status, json, out) = doctor(&world, &["sleep", "600"]);
    let cmd = topic(&json, "command");
    assert_eq!(cmd["level"], "ok", "{out}");
    let text = cmd["text"].as_str().unwrap();
    assert!(
        text.contains("64-bit ELF, dynamically linked") && text.contains("the shim loads"),
        "{out}"
    );
    assert!(
        cmd["fix"].as_str().unwrap().contains("hupsafe mark sleep"),
        "{out}"
    );
    assert_eq!(status, expected_status(&json, false));

    // A script: judged by the program that runs it.
    let script = world.root().join("job.sh");
    write_script(&script, "#!/bin/sh\nsleep 1\n");
    let (_, json, out) = doctor(&world, &[&script.to_string_lossy()]);
    let cmd = topic(&json, "command");
    assert_eq!(cmd["level"], "ok", "{out}");
    assert!(
        cmd["text"].as_str().unwrap().contains("a script run by"),
        "{out}"
    );
}

#[test]
fn a_static_program_is_at_risk() {
    let world = Sandbox::with_programs("doctor-static");
    let program = CProgram::new("cli_child").flag("-static").build();
    let (status, json, out) = doctor(&world, &[&program.to_string_lossy()]);
    let cmd = topic(&json, "command");
    assert_eq!(cmd["level"], "at_risk", "{out}");
    assert!(
        cmd["text"].as_str().unwrap().contains("statically linked"),
        "{out}"
    );
    let fix = cmd["fix"].as_str().unwrap();
    assert!(
        fix.contains("HUPSAFE_RELAY=1") && fix.contains("--strict"),
        "{out}"
    );
    assert_eq!(status, 1);

    // A script whose interpreter is static is at risk the same way.
    let script = world.root().join("static-script");
    write_script(&script, &format!("#!{}\n", program.display()));
    let (status, json, out) = doctor(&world, &[&script.to_string_lossy()]);
    assert_eq!(topic(&json, "command")["level"], "at_risk", "{out}");
    assert_eq!(status, 1);
}

#[test]
fn a_setuid_program_is_at_risk() {
    if !is_root() {
        eprintln!("not root: cannot make a setuid program of another user: skipped");
        return;
    }
    let world = Sandbox::with_programs("doctor-setuid");
    let dir = world.root().join("suid");
    fs::create_dir(&dir).unwrap();
    let program = dir.join("true");
    fs::copy("/bin/true", &program).unwrap();
    std::os::unix::fs::chown(&program, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o4755)).unwrap();
    let (status, json, out) = doctor(&world, &[&program.to_string_lossy()]);
    let cmd = topic(&json, "command");
    assert_eq!(cmd["level"], "at_risk", "{out}");
    assert!(
        cmd["text"].as_str().unwrap().contains("runs setuid"),
        "{out}"
    );
    assert_eq!(status, 1);
}

#[test]
fn a_missing_command_is_bad_input() {
    let world = Sandbox::with_programs("doctor-missing");
    let (status, out, err) = hupsafe(
        &world.env(),
        &["doctor".into(), "hupsafe-no-such-command-here".into()],
    );
    assert_eq!(status, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("command not found"), "{err}");
}

/// `doctor` typed at the prompt of `session`: its JSON findings.
fn doctor_at_prompt(
    world: &Sandbox,
    session: &mut hupsafe_tests::shell::Session,
) -> serde_json::Value {
    let out = world.root().join("doctor.json");
    let _ = fs::remove_file(&out);
    session.run(&format!(
        "{} doctor --json > {} 2>/dev/null",
        quote(&hupsafe_bin().to_string_lossy()),
        quote(&out.to_string_lossy())
    ));
    let text = fs::read_to_string(&out).expect("doctor wrote its findings");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn the_calling_shell_is_known_to_have_loaded_the_integration() {
    use hupsafe_tests::shell::Shell;
    for shell in [Shell::Bash, Shell::Zsh] {
        if shell.require().is_none() {
            continue;
        }
        let world = Sandbox::with_programs("doctor-loaded");
        // With `eval "$(hupsafe init SHELL)"` run in this very shell.
        let mut with = world.open(shell);
        let json = doctor_at_prompt(&world, &mut with);
        let text = topic(&json, "shell")["text"].as_str().unwrap().to_string();
        assert!(
            text.contains("has loaded the integration"),
            "{}: {text}",
            shell.name()
        );
        assert_eq!(topic(&json, "shell")["level"], "ok");
        // The control: the same shell without it is not taken for one
        // that has it.
        let mut without = world.open_plain(shell);
        let json = doctor_at_prompt(&world, &mut without);
        let text = topic(&json, "shell")["text"].as_str().unwrap().to_string();
        assert!(
            !text.contains("has loaded the integration"),
            "{}: {text}",
            shell.name()
        );
    }
}
