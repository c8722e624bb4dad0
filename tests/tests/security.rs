//! The threat model, as stories: another local user on the same machine
//! tries to get into a hupsafe user's jobs, programs or files, and an
//! unlucky user (a full disk, kill -9, an odd argv) tries not to lose a job.
//! Each story has its control: the same attack on an unprotected setup, or
//! the check that the attack really ran.

use hupsafe_tests::require_other_user;

/// The harness itself: the second user exists, is not us, and commands run
/// as that user really run with its ids (the base every story below uses).
#[test]
fn a_second_user_runs_commands_as_itself() {
    let other = require_other_user!();
    assert_ne!(other.uid, 0);
    let out = other.command("id").arg("-u").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        other.uid.to_string()
    );
}
