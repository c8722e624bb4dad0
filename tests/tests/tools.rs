//! The harness's outside-tool helper (`tests/src/tools.rs`): a test whose
//! tool is missing is skipped with exactly one line naming the tool and its
//! package, and with `HUPSAFE_TEST_REQUIRE_ALL=1` the same test fails with
//! that line. The story runs in a child process (this very test binary),
//! so the variable is set for it alone.

use std::process::{Command, Output};

use hupsafe_tests::tools::{require_tool, which, REQUIRE_ALL_ENV};

const MISSING: &str = "hupsafe-test-no-such-tool";
const LINE: &str =
    "skipped: hupsafe-test-no-such-tool not found (apt-get install hupsafe-test-package)";

/// Not run on its own (it would print a skip line, or fail under CI's
/// `HUPSAFE_TEST_REQUIRE_ALL=1`): the tests below run it in a child.
#[test]
#[ignore = "run in a child process by the tests below"]
fn story_needing_a_missing_tool() {
    hupsafe_tests::require_tool!(MISSING, "hupsafe-test-package");
    panic!("went on past a missing tool");
}

/// This test binary running only the story above, with
/// `HUPSAFE_TEST_REQUIRE_ALL` set to `require_all` (or unset).
fn run_story(require_all: Option<&str>) -> Output {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "story_needing_a_missing_tool",
        "--ignored",
        "--test-threads=1",
    ]);
    match require_all {
        Some(v) => c.env(REQUIRE_ALL_ENV, v),
        None => c.env_remove(REQUIRE_ALL_ENV),
    };
    c.output().expect("cannot run this test binary")
}

fn skip_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| l.contains("skipped:"))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn a_missing_tool_skips_the_test_with_one_line() {
    for require_all in [None, Some(""), Some("0")] {
        let out = run_story(require_all);
        assert!(
            out.status.success(),
            "{REQUIRE_ALL_ENV}={require_all:?}: the story failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(skip_lines(&out.stderr), vec![LINE.to_string()]);
    }
}

#[test]
fn require_all_turns_the_skip_into_a_failure() {
    let out = run_story(Some("1"));
    let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    assert!(
        !out.status.success(),
        "the story passed under {REQUIRE_ALL_ENV}=1:\n{}",
        String::from_utf8_lossy(&all)
    );
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.contains("panicked at") && text.contains(LINE),
        "{text}"
    );
    assert!(!text.contains("went on past a missing tool"), "{text}");
}

/// The control: a tool that is there is found, by a path that runs it.
#[test]
fn a_present_tool_is_found_by_its_path() {
    let sh = require_tool("sh", "dash").expect("sh is on PATH");
    assert!(sh.is_absolute() || sh.components().count() > 1, "{sh:?}");
    assert!(Command::new(&sh)
        .args(["-c", "exit 0"])
        .status()
        .unwrap()
        .success());
    assert_eq!(which(MISSING), None);
}
