//! Requests the server answered, by route and status: counts and total
//! time, which the collection figures read.

use hourglass_wal::lock::lock;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Requests answered, by handler and status code.
#[derive(Default)]
pub struct HttpMetrics {
    by_handler: Mutex<BTreeMap<(String, u16), (u64, f64)>>,
}

impl HttpMetrics {
    /// Records one answered request.
    pub fn observe(&self, handler: &str, code: u16, took: Duration) {
        let mut m = lock(&self.by_handler);
        let e = m.entry((handler.to_string(), code)).or_default();
        e.0 += 1;
        e.1 += took.as_secs_f64();
    }

    /// Requests answered by the handlers of `paths` (as routed):
    /// all of them, and those answered with a status of 400 or more.
    pub fn answered(&self, paths: &[&str]) -> (u64, u64) {
        let m = lock(&self.by_handler);
        let mut all = 0;
        let mut failed = 0;
        for ((handler, code), (n, _)) in m.iter() {
            if paths.contains(&handler.as_str()) {
                all += n;
                if *code >= 400 {
                    failed += n;
                }
            }
        }
        (all, failed)
    }

    /// `(handler, code)` → `(requests, seconds)`.
    pub fn snapshot(&self) -> BTreeMap<(String, u16), (u64, f64)> {
        lock(&self.by_handler).clone()
    }
}
