//! Differential fixtures: one program runs the same calls on a real signal
//! (SIGUSR1, which the shim passes to libc and the kernel untouched) and on
//! SIGHUP (which the shim answers from its shadow), printing one line per
//! step: `<label>\t<step>\t<report>`. Whatever glibc and the kernel report
//! for SIGUSR1 is the oracle for SIGHUP.

use crate::process::Exit;

/// The `(step, report)` pairs a differential fixture printed for `label`
/// ("USR1", "HUP", "kernel", ...).
pub fn reports<'a>(exit: &'a Exit, label: &str) -> Vec<(&'a str, &'a str)> {
    exit.stdout
        .iter()
        .filter_map(|l| {
            let mut fields = l.splitn(3, '\t');
            (fields.next()? == label).then_some(())?;
            Some((fields.next()?, fields.next()?))
        })
        .collect()
}

/// Panics listing every step where SIGHUP's report differs from SIGUSR1's.
#[track_caller]
pub fn assert_sighup_reported_like_sigusr1(exit: &Exit) {
    let usr1 = reports(exit, "USR1");
    let hup = reports(exit, "HUP");
    assert!(!usr1.is_empty(), "no reports:\n{exit}");
    assert_eq!(
        usr1.len(),
        hup.len(),
        "the two sequences differ in length:\n{exit}"
    );
    let mismatches: Vec<String> = usr1
        .iter()
        .zip(&hup)
        .filter(|(u, h)| u != h)
        .map(|((step, u), (_, h))| format!("{step}\n    SIGUSR1: {u}\n    SIGHUP:  {h}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "SIGHUP is not reported as glibc reports a real signal:\n{}",
        mismatches.join("\n")
    );
}
