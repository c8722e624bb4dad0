//! Known shim bugs, each a minimal differential test (see
//! [`hupsafe_tests::differential`]): SIGHUP under the shim is reported
//! differently from how glibc and the kernel report SIGUSR1 after the same
//! calls. These fail until the shim is fixed; they pass trivially without
//! the shim except for the check that it was loaded.
//!
//! (Named to sort last: cargo runs test binaries in name order and stops at
//! the first failing one, so every other test still runs first.)

use hupsafe_tests::differential::assert_sighup_reported_like_sigusr1;
use hupsafe_tests::{CProgram, Launch};

/// glibc and the kernel: a thread starts with its creator's signal mask.
/// The shim keeps the program's view of SIGHUP blocked in a per-thread
/// byte that starts at 0 in every new thread, and glibc's pthread_create
/// sets the new thread's mask through an internal call no hook sees.
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
/// the kernel's mask, so the exec'd program's shim finds it unblocked
/// (its constructor only looks at the kernel's mask).
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
/// returns the previous handler, errno untouched. The shim answers
/// SIG_ERR/EINVAL and keeps the old handler in its shadow.
#[test]
fn sigset_with_sig_err_behaves_as_glibcs_sigset() {
    let exit = Launch::new(CProgram::new("sigset_sig_err").build())
        .with_shim()
        .run();
    exit.assert_success().assert_preloaded();
    assert_sighup_reported_like_sigusr1(&exit);
}
