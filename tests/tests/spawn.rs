//! posix_spawn / posix_spawnp with SIGHUP in POSIX_SPAWN_SETSIGDEF (and in
//! POSIX_SPAWN_SETSIGMASK) and an environment without LD_PRELOAD: glibc
//! resets the child's SIGHUP through an internal call that no hook sees
//! (docs/HANGUPS.md, "Children"). The child must still start with SIGHUP
//! ignored and unblocked, and survive a hangup, with no shim of its own.

use hupsafe_tests::procfs::{has_mapped, ProcStatus};
use hupsafe_tests::{find_by_tag, unique_tag, wait, CProgram, KillTaggedOnDrop, Launch};

fn spawn_story(how: &str) {
    let spawner = CProgram::new("spawn").build();
    let report = CProgram::new("report").build();

    // Control: under plain nohup the reset reaches the child.
    let tag = unique_tag("spawn-control");
    let _cleanup = KillTaggedOnDrop { tag: tag.clone() };
    let control = Launch::new(&spawner)
        .arg(how)
        .arg(&report)
        .arg(&tag)
        .like_nohup()
        .run();
    assert!(
        !control.success()
            && control.has_line(
                "FAIL: in the child at start: the kernel's SIGHUP disposition is SIG_DFL, not SIG_IGN"
            ),
        "control: under plain nohup the spawned child should start with SIGHUP at SIG_DFL:\n{control}"
    );

    let tag = unique_tag("spawned");
    let _cleanup = KillTaggedOnDrop { tag: tag.clone() };
    let mut run = Launch::new(&spawner)
        .arg(how)
        .arg(&report)
        .arg(&tag)
        .with_shim()
        .spawn();
    let spawned = run.expect_line("spawned ");
    let child: i32 = spawned["spawned ".len()..].parse().expect("a pid");
    // Once the child itself speaks, its exec is complete and /proc shows
    // its new arguments (right after a vfork-style spawn returns, it may not).
    run.expect_line("ready");
    let tagged: Vec<i32> = find_by_tag(&tag)
        .into_iter()
        .filter(|pid| *pid != run.pid())
        .collect();
    assert_eq!(
        tagged,
        vec![child],
        "the spawner's only tagged process is its child"
    );

    let status = ProcStatus::of(child).expect("the child is running");
    assert!(
        status.ignores(libc::SIGHUP),
        "child SigIgn {:#x}",
        status.sig_ign
    );
    assert!(
        !status.blocks(libc::SIGHUP),
        "child SigBlk {:#x}",
        status.sig_blk
    );
    assert!(
        !has_mapped(child, "libnohup.so"),
        "the child must run without the shim"
    );

    run.hang_up();
    wait::until("the hangup to settle in the child", || {
        hupsafe_tests::procfs::signal_settled(child, libc::SIGHUP).then_some(())
    });
    assert!(
        run.ping(),
        "the spawned child stopped answering:\n{}",
        run.transcript()
    );
    run.finish()
        .assert_success()
        .assert_line(&format!("child {child} tag {tag} LD_PRELOAD unset"))
        .assert_line("child exited 0");
}

#[test]
fn posix_spawn_with_setsigdef_sighup_still_starts_the_child_ignoring_sighup() {
    spawn_story("posix_spawn");
}

#[test]
fn posix_spawnp_with_setsigdef_sighup_still_starts_the_child_ignoring_sighup() {
    spawn_story("posix_spawnp");
}
