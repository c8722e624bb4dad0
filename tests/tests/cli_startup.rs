//! What hupsafe's own entry point (`no_main`, `startup::init`) must do
//! before `main`, as Rust's runtime would: ignore SIGPIPE, so a write into a
//! closed pipe is an error hupsafe reports, and put /dev/null on fds 0-2
//! that are closed, so no file hupsafe opens becomes a standard stream. Both
//! through clap (`--help`, `--quiet CMD`) and the fast path (`CMD`). And
//! what start-up checks cheaply must still be checked fully: a shim damaged
//! anywhere is written again.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hupsafe_tests::cli::hupsafe;
use hupsafe_tests::Sandbox;

/// A pipe whose read end is already closed: writing to it raises SIGPIPE.
fn broken_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two fds we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both fds are ours; the read end is closed at once.
    unsafe {
        libc::close(fds[0]);
        OwnedFd::from_raw_fd(fds[1])
    }
}

#[test]
fn a_closed_pipe_is_a_write_error_for_hupsafe_and_sigpipe_for_the_command() {
    let tmp = Sandbox::new("startup-pipe");
    let o = hupsafe(&tmp)
        .arg("--help")
        .stdout(Stdio::from(broken_pipe()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), None, "hupsafe died of a signal: {err}");
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("write error: Broken pipe"), "{err}");

    // Control: the pipe really raises SIGPIPE, and the command gets the
    // default disposition hupsafe inherited, on both paths.
    for args in [
        &["sh", "-c", "echo x"][..],
        &["--quiet", "sh", "-c", "echo x"],
    ] {
        let o = hupsafe(&tmp)
            .args(args)
            .env("HUPSAFE_RELAY", "0")
            .stdout(Stdio::from(broken_pipe()))
            .output()
            .unwrap();
        assert_eq!(
            o.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Runs `cmd` with fds 0 and 2 closed and stdout a pipe; returns stdout.
fn with_fds_0_and_2_closed(mut cmd: Command) -> String {
    cmd.stdin(Stdio::null()).stderr(Stdio::null());
    // SAFETY: close() only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(0);
            libc::close(2);
            Ok(())
        });
    }
    let o = cmd.stdout(Stdio::piped()).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn closed_standard_fds_reach_the_command_as_dev_null() {
    let tmp = Sandbox::new("startup-fds");
    // `readlink` of a closed fd prints nothing; `echo` marks the end.
    let script = "readlink /proc/self/fd/0; readlink /proc/self/fd/2; echo end";
    for args in [&["sh", "-c", script][..], &["--quiet", "sh", "-c", script]] {
        let mut c = hupsafe(&tmp);
        c.args(args).env("HUPSAFE_RELAY", "0");
        let out = with_fds_0_and_2_closed(c);
        assert_eq!(out, "/dev/null\n/dev/null\nend\n", "{args:?}");
    }

    // Control: without hupsafe, the same command sees them closed.
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    assert_eq!(with_fds_0_and_2_closed(c), "end\n");
}

/// Whether an ELF file names `libgcc_s.so.1` (in its DT_NEEDED strings).
fn names_libgcc_s(path: &std::path::Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(13).any(|w| w == b"libgcc_s.so.1")
}

#[test]
fn the_unwinder_is_linked_in_not_loaded_from_libgcc_s() {
    // cli/build.rs links libgcc_eh.a when the C compiler has it.
    let found = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| p.starts_with('/') && std::path::Path::new(p).is_file());
    if !cfg!(target_env = "gnu") || found.is_none() {
        eprintln!("skipped: no libgcc_eh.a here, so hupsafe loads libgcc_s.so.1");
        return;
    }
    assert!(
        !names_libgcc_s(hupsafe_tests::cli::hupsafe_bin()),
        "hupsafe still needs libgcc_s.so.1 (cli/build.rs)"
    );
    // Control: this test program, linked by the same toolchain without
    // that step, does need it.
    assert!(names_libgcc_s(&std::env::current_exe().unwrap()));
}

#[test]
fn a_shim_damaged_anywhere_is_written_again() {
    let tmp = Sandbox::new("startup-shim");
    let install = || {
        let o = hupsafe(&tmp).arg("shim").output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        PathBuf::from(String::from_utf8(o.stdout).unwrap().trim_end())
    };
    let path = install();
    let good = fs::read(&path).unwrap();
    let mode = |m| fs::set_permissions(&path, fs::Permissions::from_mode(m)).unwrap();
    // The first and last byte, both sides of the first 4 KiB, the middle.
    for at in [0, 4095, 4096, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0xff;
        mode(0o700);
        fs::write(&path, &bad).unwrap();
        mode(0o500);
        // Control: the file is damaged, same size, same mode.
        assert!(fs::read(&path).unwrap() == bad);
        assert_eq!(install(), path);
        assert!(
            fs::read(&path).unwrap() == good,
            "byte {at} was damaged and not noticed"
        );
    }
}
