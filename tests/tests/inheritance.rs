//! Where the kernel carries a real signal mask or handler request over
//! (a new thread, an exec'd image) or where glibc has a quirk (`sigset`
//! accepting SIG_ERR), SIGHUP under the shim must be reported exactly as
//! glibc and the kernel report SIGUSR1 after the same calls. Each is a
//! minimal differential test (see [`hupsafe_tests::differential`]); all
//! three were shim bugs once, found by these tests.

use hupsafe_tests::differential::assert_sighup_reported_like_sigusr1;
use hupsafe_tests::{CProgram, Launch};

/// glibc and the kernel: a thread starts with its creator's signal mask.
/// The shim keeps the program's view of SIGHUP blocked per thread, so its
/// `pthread_create` hands the creator's view to the new thread.
#[test]
fn a_new_thread_inherits_its_creators_view_of_sighup_blocked() {
    let exit = Launch::new(CProgram::new("mask_inheritance").build())
        .arg("thread")
        .with_shim()
        .run();
    exit.assert_success().assert_preloaded();
    assert_sighup_reported_like_sigusr1(&exit);
}

/// POSIX: the signal mask survives execve. The shim keeps SIGHUP out of
/// the kernel's mask, so its exec hooks (execl here, variadic) block it in
/// the kernel for the hand-over and the new image's shim picks it up.
#[test]
fn an_execd_program_inherits_the_view_of_sighup_blocked() {
    let program = CProgram::new("mask_inheritance").build();
    let exit = Launch::new(&program)
        .arg("exec")
        .arg(&program)
        .with_shim()
        .run();
    exit.assert_success().assert_preloaded();
    assert_sighup_reported_like_sigusr1(&exit);
}

/// glibc 2.36's sigset() does not reject SIG_ERR: it installs it and
/// returns the previous handler, errno untouched.
#[test]
fn sigset_with_sig_err_behaves_as_glibcs_sigset() {
    let exit = Launch::new(CProgram::new("sigset_sig_err").build())
        .with_shim()
        .run();
    exit.assert_success().assert_preloaded();
    assert_sighup_reported_like_sigusr1(&exit);
}
