//! `hupsafe check` on background jobs of a real interactive shell on a
//! real pty, one per SIGHUP disposition: ignored, caught by a handler, at
//! its default, blocked (and read with sigwait), held ignored by the shim
//! (LD_PRELOAD of `hupsafe shim`, and `hupsafe CMD`). Then the terminal
//! is hung up for real (the pty master closed): what `check` said survives
//! is alive, what it said dies is gone, and the two "at risk" because the
//! kernel queues their SIGHUP show it: the one in sigwait got it and is
//! gone, the one that only blocks it has it pending.

use hupsafe_tests::check::{check, dies, stays_alive, write_programs, Subject};
use hupsafe_tests::cli::hupsafe_bin;
use hupsafe_tests::shell::{quote, Shell};
use hupsafe_tests::Sandbox;
use hupsafe_tests::{procfs, require_tool, until};

#[test]
fn bash_background_jobs_each_disposition() {
    let world = Sandbox::with_programs("check-dispositions");
    write_programs(&world);
    let bin = quote(&hupsafe_bin().to_string_lossy());
    let mut s = world.open_plain(Shell::Bash);

    let ignored = Subject::new(&world, "check-ignored");
    let caught = Subject::new(&world, "check-caught");
    let default = Subject::new(&world, "check-default");
    let blocked = Subject::new(&world, "check-blocked");
    let held = Subject::new(&world, "check-held");
    let preloaded = Subject::new(&world, "check-preloaded");
    let run = Subject::new(&world, "check-run");
    for (who, line) in [
        (&ignored, "python3 ignore.py".to_string()),
        (&caught, "python3 catch.py".to_string()),
        (&default, "python3 default.py".to_string()),
        (&blocked, "python3 block.py".to_string()),
        (&held, "python3 hold.py".to_string()),
        // The program puts SIGHUP back to its default; the shim refuses.
        (
            &preloaded,
            format!("LD_PRELOAD=$({bin} shim) python3 default.py"),
        ),
        // Output redirected: hupsafe execs in place with the shim.
        (&run, format!("{bin} python3 catch.py")),
    ] {
        s.run(&format!("{line} {} > /dev/null 2>&1 &", who.args()));
    }
    let pids: Vec<i32> = [
        &ignored, &caught, &default, &blocked, &held, &preloaded, &run,
    ]
    .iter()
    .map(|w| w.wait_ready())
    .collect();
    let [p_ignored, p_caught, p_default, p_blocked, p_held, p_preloaded, p_run] = pids[..] else {
        unreachable!()
    };

    let v = check(&world.env(), &pids);
    v.expect(
        p_ignored,
        "survives",
        "SIGHUP ignored (inherited SIG_IGN without the shim",
    );
    v.expect(p_ignored, "survives", "sends SIGHUP to its jobs on hangup");
    v.expect(
        p_caught,
        "dies",
        "SIGHUP caught by handler and not protected",
    );
    v.expect(p_default, "dies", "SIGHUP at its default action");
    v.expect(
        p_blocked,
        "at risk",
        "SIGHUP ignored but a thread waits for it in sigwait",
    );
    v.expect(
        p_held,
        "at risk",
        "SIGHUP ignored but blocked, so the kernel queues it",
    );
    v.expect(p_preloaded, "survives", "the hupsafe shim keeps it ignored");
    v.expect(p_run, "survives", "the hupsafe shim keeps it ignored");
    assert_eq!(v.row(p_preloaded)["facts"]["shim"], true);
    assert_eq!(v.row(p_ignored)["facts"]["shim"], false);
    assert_eq!(v.row(p_blocked)["facts"]["sighup"]["awaited"], true);
    assert_eq!(v.row(p_caught)["facts"]["sighup"]["caught"], true);
    // The fixes: protect it, and mark the command for next time.
    let fixes = v.fixes(p_caught);
    assert!(
        fixes.contains(&format!("hupsafe rescue {p_caught}"))
            && fixes.contains("hupsafe mark python3"),
        "{fixes}"
    );
    assert!(v.fixes(p_ignored).is_empty(), "{}", v.stdout);
    assert_eq!(v.status, 1, "something dies: exit 1\n{}", v.stdout);

    s.hang_up();
    for (pid, what) in [
        (p_ignored, "ignored"),
        (p_preloaded, "preloaded"),
        (p_run, "hupsafe"),
    ] {
        assert!(
            stays_alive(pid),
            "{what}: check said it survives, but the hangup killed it\n{}",
            v.stdout
        );
    }
    // Held: alive, but the hangup's SIGHUP sits in its queue, as check said.
    assert!(stays_alive(p_held), "{}", v.stdout);
    until("the held SIGHUP to be pending", || {
        procfs::ProcStatus::of(p_held)
            .filter(|s| s.pending(libc::SIGHUP))
            .map(|_| ())
    });
    for (pid, what) in [
        (p_caught, "caught"),
        (p_default, "default"),
        (p_blocked, "blocked"),
    ] {
        assert!(
            dies(pid),
            "{what}: check said it dies (or is at risk of the queued SIGHUP), but it \
             outlived the hangup\n{}",
            v.stdout
        );
    }
}

#[test]
fn zsh_background_jobs() {
    require_tool!("zsh", "zsh");
    let world = Sandbox::with_programs("check-zsh");
    write_programs(&world);
    let mut s = world.open_plain(Shell::Zsh);
    let ignored = Subject::new(&world, "check-zsh-ignored");
    let default = Subject::new(&world, "check-zsh-default");
    s.run(&format!(
        "python3 ignore.py {} > /dev/null 2>&1 &",
        ignored.args()
    ));
    s.run(&format!(
        "python3 default.py {} > /dev/null 2>&1 &",
        default.args()
    ));
    let (p_ignored, p_default) = (ignored.wait_ready(), default.wait_ready());

    let v = check(&world.env(), &[p_ignored, p_default]);
    v.expect(p_ignored, "survives", "zsh, pid");
    v.expect(
        p_default,
        "dies",
        "sends SIGHUP to its running jobs on hangup",
    );
    assert_eq!(v.status, 1);

    s.hang_up();
    assert!(stays_alive(p_ignored), "{}", v.stdout);
    assert!(dies(p_default), "{}", v.stdout);
}
