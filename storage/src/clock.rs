//! The wall clock the store checks sample times against, injectable so
//! tests are deterministic.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock unless a test
/// supplies its own.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        }))
    }

    /// For tests and benchmarks: a clock that starts at the system clock's
    /// time and runs `speed` times faster, so days pass in seconds.
    pub fn fast(speed: u32) -> Clock {
        let system = Clock::system();
        let start = system.now_ms();
        let speed = i64::from(speed.max(1));
        Clock(Arc::new(move || {
            let elapsed = system.now_ms().saturating_sub(start);
            start.saturating_add(elapsed.saturating_mul(speed))
        }))
    }

    /// A clock read from `now` (tests: a fixed or hand-moved time).
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now_ms={})", self.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_starts_now_and_runs_faster() {
        let sys = Clock::system();
        let before = sys.now_ms();
        let fast = Clock::fast(1_000);
        let (f0, after) = (fast.now_ms(), sys.now_ms());
        // It starts at the system's time: ahead only by the wall time that
        // passed meanwhile (a busy machine may preempt the test), run fast.
        assert!(f0 >= before, "{f0} before {before}");
        assert!(
            f0 <= before + (after - before + 1) * 1_000,
            "{f0} vs {before}..{after}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ahead = fast.now_ms() - sys.now_ms();
        assert!(ahead >= 19 * 999, "{ahead} ms ahead after 20 ms");
    }
}
