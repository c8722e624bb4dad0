//! The program is told the truth: what it set, it reads back, exactly as
//! glibc would report it. Checked differentially: one program runs the
//! same calls on SIGUSR1 (which the shim passes to the real libc and
//! kernel) and on SIGHUP (which it answers from its shadow), and every
//! report must match. Invalid requests fail exactly as without the shim.

use hupsafe_tests::differential::{assert_sighup_reported_like_sigusr1, reports};
use hupsafe_tests::{CProgram, Exit, Launch};

#[test]
fn sighup_save_set_query_restore_reports_exactly_what_glibc_reports() {
    let exit = Launch::new(CProgram::new("roundtrip").build())
        .with_shim()
        // Both signals start where the shim leaves SIGHUP: ignored, as
        // inherited across exec.
        .ignoring(libc::SIGUSR1)
        .run();
    exit.assert_success().assert_preloaded().assert_line("done");
    assert_sighup_reported_like_sigusr1(&exit);

    // And the kernel never followed any of it.
    let kernel = reports(&exit, "kernel");
    assert_eq!(kernel.len(), reports(&exit, "HUP").len(), "{exit}");
    let moved: Vec<_> = kernel.iter().filter(|(_, r)| *r != "ok").collect();
    assert!(moved.is_empty(), "the kernel's SIGHUP changed: {moved:?}");
}

#[test]
fn invalid_requests_fail_exactly_as_without_the_shim() {
    let program = CProgram::new("einval").build();
    let without = Launch::new(&program).run();
    let with = Launch::new(&program).with_shim().run();
    without.assert_success().assert_line("done");
    with.assert_success().assert_preloaded().assert_line("done");
    let calls = |e: &Exit| -> Vec<String> {
        e.stdout
            .iter()
            .filter(|l| l.contains('\t'))
            .cloned()
            .collect()
    };
    let (without, with) = (calls(&without), calls(&with));
    assert!(without.len() > 100);
    let differences: Vec<String> = without
        .iter()
        .zip(&with)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("without: {a}\n   with: {b}"))
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
