//! Waiting for a condition by polling it until a deadline. Tests never
//! sleep a fixed time and hope: they wait for the thing itself, and a
//! deadline only decides when to give up.

use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test gives up. Generous:
/// a loaded 2-core CI machine starting node is slow, and the deadline only
/// matters when something is already wrong.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Polls `probe` until it returns `Some`, backing off from 1 ms to 20 ms.
/// Returns `None` once `timeout` has passed.
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`poll`] with [`PATIENCE`], but panics naming `what` on timeout.
#[track_caller]
pub fn until<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    poll(PATIENCE, probe).unwrap_or_else(|| panic!("gave up after {PATIENCE:?} waiting for {what}"))
}
