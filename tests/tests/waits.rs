//! A program that blocks SIGHUP and waits for signals (signalfd, sigwait,
//! sigwaitinfo, sigtimedwait, and their raw system calls) must never
//! receive SIGHUP: the kernel queues a blocked signal even when it is
//! ignored (docs/HANGUPS.md, "Blocked SIGHUP is queued"), so plain `nohup`
//! hands it over.
//!
//! Story: the program blocks SIGHUP and SIGUSR1 and waits; its process
//! group gets a real `kill -HUP`; then it gets SIGUSR1. It must report
//! SIGUSR1, and keep answering.

use hupsafe_tests::{CProgram, Exit, Launch};

/// Runs the waiter through the story and returns how it ended.
fn wait_story(launch: Launch) -> Exit {
    let mut run = launch.spawn();
    if run.try_line("ready").is_some() {
        run.hang_up();
        run.signal(libc::SIGUSR1);
        run.try_line("received ");
        run.ping();
    }
    run.finish()
}

fn blocked_wait(block: &str, wait: &str) {
    let program = CProgram::new("wait").build();
    let control = wait_story(Launch::new(&program).args([block, wait]).like_nohup());
    assert!(
        control.has_line("received SIGHUP"),
        "control: under plain nohup the blocked SIGHUP should be received:\n{control}"
    );

    let exit = wait_story(Launch::new(&program).args([block, wait]).with_shim());
    exit.assert_success()
        .assert_line("kernel blocks SIGHUP: no")
        .assert_line("received SIGUSR1")
        .assert_line("pong");
}

#[test]
fn signalfd_never_reports_sighup_blocked_by_sigprocmask() {
    blocked_wait("sigprocmask", "signalfd");
}

#[test]
fn sigwait_never_returns_sighup_blocked_by_pthread_sigmask() {
    blocked_wait("pthread_sigmask", "sigwait");
}

#[test]
fn sigwaitinfo_never_returns_sighup_blocked_by_sigblock() {
    blocked_wait("sigblock", "sigwaitinfo");
}

#[test]
fn sigtimedwait_with_a_timeout_never_returns_sighup_blocked_by_sighold() {
    blocked_wait("sighold", "sigtimedwait");
}

#[test]
fn sigwaitinfo_never_returns_sighup_held_by_sigset() {
    blocked_wait("sigset_hold", "sigwaitinfo");
}

#[test]
fn raw_rt_sigtimedwait_never_returns_sighup_blocked_by_raw_rt_sigprocmask() {
    blocked_wait("raw_rt_sigprocmask", "raw_rt_sigtimedwait");
}

#[test]
fn raw_signalfd4_never_reports_sighup_blocked_by_sigsetmask() {
    blocked_wait("sigsetmask", "raw_signalfd4");
}
