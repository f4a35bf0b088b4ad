//! Waiting for a condition, bounded in time.

use std::time::{Duration, Instant};

/// Polls `cond` every 100 ms until it holds; fails the test naming `what`
/// after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not reached in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`wait_until`] with a 30 s limit.
pub fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(30), ok);
}
