//! The shim under pressure: many threads at once, signal handlers
//! re-entering the hooks, children sharing the parent's memory, and hooks
//! called before the shim's own constructor (docs/HANGUPS.md, "Children"
//! and "Interposer rules").
//! Each program checks its own invariants, then goes through the hangup.

use hupsafe_tests::{hangup, shared_library, CProgram, Launch};

#[test]
fn eight_threads_hammering_sigaction_and_signal_never_tear_a_record() {
    hangup(Launch::new(CProgram::new("stress_threads").build()).with_shim())
        .assert_survived()
        .exit
        .assert_line("8 threads x 100000 rounds: every record whole");
}

#[test]
fn a_sigalrm_handler_reentering_the_hooks_neither_deadlocks_nor_corrupts() {
    // A hook that took a lock would hang here: the harness reports "hung".
    let outcome = hangup(Launch::new(CProgram::new("stress_alarm").build()).with_shim());
    outcome.assert_survived();
    let exit = &outcome.exit;
    assert!(
        exit.stdout
            .iter()
            .any(|l| l.contains("SIGALRM handlers re-entered the hooks")),
        "{exit}"
    );
}

fn vfork_story(args: &[&str]) {
    hangup(
        Launch::new(CProgram::new("vfork").build())
            .args(args)
            .with_shim(),
    )
    .assert_survived();
}

#[test]
fn a_vfork_child_that_resets_sighup_and_exits_leaves_the_parents_view_intact() {
    vfork_story(&["exit"]);
}

#[test]
fn a_vfork_child_that_resets_sighup_and_execs_leaves_sighup_ignored_everywhere() {
    let report = CProgram::new("report").build();
    let exit = hangup(
        Launch::new(CProgram::new("vfork").build())
            .arg("exec")
            .arg(&report)
            .with_shim(),
    )
    .assert_survived()
    .exit
    .transcript();
    // The exec'd child had no LD_PRELOAD: only the kernel's SIG_IGN kept it.
    assert!(
        exit.contains("tag after-vfork LD_PRELOAD unset")
            && exit.contains("kernel ignores SIGHUP in the child at start"),
        "{exit}"
    );
}

#[test]
fn a_fork_child_has_its_own_view_and_the_parent_keeps_its_own() {
    vfork_story(&["fork"]);
}

#[test]
fn a_dt_needed_constructor_calling_signal_before_the_shims_constructor_works() {
    let library = shared_library("hupctor");
    let program = CProgram::new("dtneeded").link(&library);
    hangup(Launch::new(program.build()).with_shim())
        .assert_survived()
        .exit
        // The scenario really happened: the library's constructor ran while
        // the kernel still had SIGHUP at SIG_DFL, i.e. before the shim's.
        .assert_line("library constructor found SIGHUP at SIG_DFL")
        .assert_line("SIGUSR1 handler from the constructor ran");
}
