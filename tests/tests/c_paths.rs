//! Every libc entry point that can change SIGHUP (docs/HANGUPS.md, "libc
//! paths that change SIGHUP"),
//! one C program each. Each program checks the kernel's own disposition
//! (raw `rt_sigaction`, `/proc/thread-self/status`) after its calls,
//! survives `kill(getpid(), SIGHUP)`, and then a real `kill -HUP` on its
//! process group from here.
//!
//! Where plain `nohup` is defeated by the path, the test first shows that
//! (the control), so that the shim's success is not an accident of the
//! fixture.

use hupsafe_tests::{hangup, CProgram, Exit, Launch};

/// Control: with SIGHUP inherited ignored and no shim, the path takes
/// SIGHUP back and the program does not come through the hangup.
fn nohup_alone_is_defeated_by(program: &CProgram) {
    hangup(Launch::new(program.build()).like_nohup()).assert_defeated();
}

/// The shim: the program starts with SIGHUP at SIG_DFL, goes through its
/// path, and survives both hangups.
fn survives_with_the_shim(program: &CProgram) -> Exit {
    let outcome = hangup(Launch::new(program.build()).with_shim());
    outcome
        .assert_survived()
        .exit
        .assert_line("kernel ignores SIGHUP at start")
        .assert_line("survived kill(getpid(), SIGHUP)");
    outcome.exit
}

fn path_story(fixture: &str) -> Exit {
    let program = CProgram::new(fixture);
    nohup_alone_is_defeated_by(&program);
    survives_with_the_shim(&program)
}

#[test]
fn sigaction_cannot_take_sighup_back() {
    path_story("path_sigaction");
}

#[test]
fn dunder_sigaction_cannot_take_sighup_back() {
    path_story("path___sigaction");
}

#[test]
fn signal_cannot_take_sighup_back() {
    path_story("path_signal");
}

#[test]
fn bsd_signal_cannot_take_sighup_back() {
    path_story("path_bsd_signal");
}

#[test]
fn ssignal_cannot_take_sighup_back() {
    path_story("path_ssignal");
}

#[test]
fn sysv_signal_cannot_take_sighup_back() {
    path_story("path_sysv_signal");
}

#[test]
fn dunder_sysv_signal_cannot_take_sighup_back() {
    path_story("path___sysv_signal");
}

#[test]
fn signal_in_a_strict_c11_build_cannot_take_sighup_back() {
    let program = CProgram::new("path_signal_c11").flag("-std=c11");
    // The point of this build: signal() is linked to __sysv_signal.
    let binary = std::fs::read(program.build()).expect("the fixture was built");
    assert!(
        binary.windows(14).any(|w| w == b"__sysv_signal\0"),
        "a -std=c11 build should import __sysv_signal"
    );
    nohup_alone_is_defeated_by(&program);
    survives_with_the_shim(&program);
}

#[test]
fn sigset_cannot_take_sighup_back() {
    path_story("path_sigset");
}

#[test]
fn sigset_hold_keeps_sighup_unblocked_in_the_kernel() {
    // Under plain nohup the held SIGHUP is queued, then delivered to the
    // handler when released.
    path_story("path_sigset_hold").assert_line("released SIGHUP");
}

#[test]
fn compat_sigvec_cannot_take_sighup_back() {
    path_story("path_sigvec");
}

#[test]
fn siginterrupt_leaves_sighup_ignored() {
    // Harmless under plain nohup (it writes back what it read): no control.
    survives_with_the_shim(&CProgram::new("path_siginterrupt"));
}

#[test]
fn sigignore_leaves_sighup_ignored() {
    // Harmless under plain nohup (it writes SIG_IGN): no control.
    survives_with_the_shim(&CProgram::new("path_sigignore"));
}

#[test]
fn raw_syscall_rt_sigaction_cannot_take_sighup_back() {
    path_story("path_syscall_rt_sigaction");
}

#[test]
fn raw_syscall_rt_sigprocmask_keeps_sighup_unblocked_in_the_kernel() {
    path_story("path_syscall_rt_sigprocmask").assert_line("unblocked SIGHUP");
}
