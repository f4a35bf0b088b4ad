//! The slow-query log: one structured `warn` line for every query that
//! took at least the threshold (`--query-slow-log-threshold`, as
//! VictoriaMetrics' `-search.logSlowQueryDuration`), failed ones included,
//! and a count of them for `/metrics`.

use super::QueryKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest query text a log line or span carries, in bytes.
pub const MAX_LOGGED_QUERY_BYTES: usize = 4096;

/// `text` cut to at most `max` bytes at a character boundary, with `…`
/// appended when cut.
pub fn bounded_text(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// What the log says about one query.
#[derive(Debug, Clone)]
pub struct SlowQuery<'a> {
    /// Which API it came through.
    pub kind: QueryKind,
    /// The PromQL text as sent.
    pub query: &'a str,
    /// Its evaluation time (`time=…`) or grid (`start=… end=… step=…`).
    pub params: &'a str,
    /// From arrival to response written.
    pub took: Duration,
    /// Samples read from storage.
    pub samples: usize,
    /// Series read from storage.
    pub series: usize,
    /// The authenticated caller's configured name, if any.
    pub caller: Option<&'a str>,
    /// The client's address.
    pub remote: Option<SocketAddr>,
    /// The `errorType` when the query failed.
    pub error: Option<&'a str>,
}

/// Logs and counts queries at or above a threshold.
#[derive(Debug)]
pub struct SlowQueryLog {
    threshold: Option<Duration>,
    logged: AtomicU64,
}

impl SlowQueryLog {
    /// A log of queries taking at least `threshold`; zero logs none.
    pub fn new(threshold: Duration) -> SlowQueryLog {
        SlowQueryLog {
            threshold: (!threshold.is_zero()).then_some(threshold),
            logged: AtomicU64::new(0),
        }
    }

    /// Logs `q` when it was slow; says whether it was.
    pub fn report(&self, q: &SlowQuery<'_>) -> bool {
        let Some(threshold) = self.threshold else {
            return false;
        };
        if q.took < threshold {
            return false;
        }
        self.logged.fetch_add(1, Ordering::Relaxed);
        let remote = q.remote.map(|a| a.to_string());
        tracing::warn!(
            target: "hourglass::slow_query",
            kind = q.kind.as_str(),
            query = ?bounded_text(q.query, MAX_LOGGED_QUERY_BYTES),
            params = q.params,
            duration_seconds = q.took.as_secs_f64(),
            samples = q.samples,
            series = q.series,
            caller = q.caller.unwrap_or("-"),
            remote = remote.as_deref().unwrap_or("-"),
            error = q.error.unwrap_or("-"),
            threshold_seconds = threshold.as_secs_f64(),
            "slow query"
        );
        true
    }

    /// Queries logged since start.
    pub fn count(&self) -> u64 {
        self.logged.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(took_ms: u64) -> SlowQuery<'static> {
        SlowQuery {
            kind: QueryKind::Instant,
            query: "up",
            params: "time=1",
            took: Duration::from_millis(took_ms),
            samples: 1,
            series: 1,
            caller: None,
            remote: None,
            error: None,
        }
    }

    #[test]
    fn queries_at_or_above_the_threshold_are_counted() {
        let log = SlowQueryLog::new(Duration::from_millis(10));
        assert!(!log.report(&query(9)));
        assert!(log.report(&query(10)));
        assert!(log.report(&query(5_000)));
        assert_eq!(log.count(), 2);
    }

    #[test]
    fn a_zero_threshold_turns_the_log_off() {
        let log = SlowQueryLog::new(Duration::ZERO);
        assert!(!log.report(&query(60_000)));
        assert_eq!(log.count(), 0);
    }

    #[test]
    fn long_query_text_is_cut_at_a_character_boundary() {
        assert_eq!(bounded_text("abc", 3), "abc");
        assert_eq!(bounded_text("abcd", 3), "abc…");
        // 'é' is two bytes: a cut inside it moves back before it.
        assert_eq!(bounded_text("aéb", 2), "a…");
    }
}
