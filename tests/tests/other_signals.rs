//! Every signal but SIGHUP passes through the shim untouched: handler,
//! flags, mask, and blocking, as the kernel itself reports them.
//!
//! These tests pass without the shim too (that is their point: the shim
//! changes nothing here). With the shim, the fixture itself checks that
//! the shim was really loaded.

use hupsafe_tests::{procfs::sigbit, CProgram, Launch};

/// read(2): the system call a program sits in while waiting for input.
const SYS_READ: i64 = libc::SYS_read;

#[test]
fn a_sigusr1_handler_keeps_sa_restart_and_runs() {
    let mut run = Launch::new(CProgram::new("other_signals").build())
        .arg("usr1")
        .with_shim()
        .spawn();
    run.expect_line("kernel holds the SIGUSR1 handler with SA_RESTART and its mask");
    run.expect_line("SIGUSR1 handler ran");
    run.expect_line("ready");
    assert!(run.status().catches(libc::SIGUSR1));

    // Interrupt a read(2) in progress: with SA_RESTART it resumes.
    run.wait_blocked_in(SYS_READ);
    run.signal(libc::SIGUSR1);
    run.wait_signal_settled(libc::SIGUSR1);
    run.send("ping");
    run.expect_line("pong usr1=2");
    run.finish().assert_success();
}

#[test]
fn sigusr2_blocked_together_with_sighup_stays_blocked_in_the_kernel() {
    let mut run = Launch::new(CProgram::new("other_signals").build())
        .arg("usr2")
        .with_shim()
        .spawn();
    run.expect_line("kernel blocks SIGUSR2");
    run.expect_line("ready");
    let status = run.status();
    assert!(status.blocks(libc::SIGUSR2), "SigBlk {:#x}", status.sig_blk);

    // SIGUSR2's default action would end the program: blocked, it waits.
    run.signal(libc::SIGUSR2);
    run.wait_signal_settled(libc::SIGUSR2);
    let status = run.status();
    assert!(
        status.pending(libc::SIGUSR2),
        "SIGUSR2 should be pending: SigPnd {:#x} ShdPnd {:#x}",
        status.sig_pnd,
        status.shd_pnd
    );
    assert_eq!(
        status.shd_pnd & sigbit(libc::SIGUSR2),
        sigbit(libc::SIGUSR2)
    );
    run.send("ping");
    run.expect_line("pong usr1=0");
    run.finish().assert_success();
}
