//! A musl-linked program under the shim. musl's loader reads LD_PRELOAD
//! too, so the shim must load there (it depends on `libc.so.6` only, which
//! musl takes as itself): a preload that cannot be loaded makes musl refuse
//! to start the program (exit 127), which would turn protection into harm
//! for every musl program below a protected one.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use hupsafe_tests::fixtures::source_dir;
use hupsafe_tests::shim::target_dir;
use hupsafe_tests::{hangup, Launch};

/// `tests/c/musl_serve.c` built with musl-gcc, or None (after the skip
/// line) when musl-gcc is missing.
fn musl_serve() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    let musl_gcc = hupsafe_tests::require_tool("musl-gcc", "musl-tools")?;
    BIN.get_or_init(|| {
        let out = target_dir().join("hupsafe-fixtures").join("musl_serve");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let ok = Command::new(&musl_gcc)
            .arg("-O1")
            .arg("-o")
            .arg(&out)
            .arg(source_dir().join("musl_serve.c"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{} could not build musl_serve.c", musl_gcc.display());
        Some(out)
    })
    .clone()
}

#[test]
fn a_musl_program_loads_the_shim_and_survives_a_hangup() {
    let Some(bin) = musl_serve() else { return };
    // The control: with nohup's inherited SIG_IGN alone, the program takes
    // SIGHUP back and dies of the hangup.
    hangup(Launch::new(&bin).like_nohup()).assert_defeated();
    let mut run = Launch::new(&bin).with_shim().spawn();
    assert!(
        run.try_line("ready").is_some(),
        "it must start under the shim"
    );
    // hang_up() first checks that musl's loader really mapped the shim.
    run.hang_up();
    assert!(run.is_alive(), "alive once the hangup has settled");
    assert!(run.ping(), "answers after the hangup");
    let exit = run.finish();
    assert!(exit.success(), "exits 0 by itself:\n{exit}");
}
