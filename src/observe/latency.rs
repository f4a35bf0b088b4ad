//! Latency histograms: HTTP requests by route pattern, method and status
//! class; queries by kind and phase; persist rounds. Every label takes
//! values from a fixed set (the route table's patterns, a few methods,
//! five status classes), and each family is capped besides.

use hourglass_wal::histogram::{FINE_BUCKETS, Snapshot};
use hourglass_wal::{Histogram, HistogramFamily};
use std::time::Duration;

/// Most label combinations of the HTTP family: routes × methods × status
/// classes stay far below it.
const MAX_HTTP_KEYS: usize = 1024;

/// `(route pattern, method, status class)`.
pub type HttpKey = (String, &'static str, &'static str);

/// Which query API a query came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QueryKind {
    /// `/api/v1/query`.
    Instant,
    /// `/api/v1/query_range`.
    Range,
}

impl QueryKind {
    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Instant => "instant",
            QueryKind::Range => "range",
        }
    }
}

/// Where a query's time went, as Prometheus's
/// `prometheus_engine_query_duration_seconds{slice}` splits it, with the
/// writing of the response and the whole added.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryPhases {
    /// Waiting for a query slot.
    pub queue: Duration,
    /// Selecting series from storage.
    pub prepare: Duration,
    /// Evaluating.
    pub inner_eval: Duration,
    /// Sorting the result.
    pub result_sort: Duration,
    /// Writing the JSON response.
    pub encode: Duration,
    /// From the request's arrival to its response written.
    pub total: Duration,
}

/// How many phases [`QueryPhases::each`] yields.
const SLICES: usize = 6;

impl QueryPhases {
    /// Every phase with its `slice` label value.
    fn each(&self) -> [(&'static str, Duration); SLICES] {
        [
            ("queue_time", self.queue),
            ("prepare_time", self.prepare),
            ("inner_eval", self.inner_eval),
            ("result_sort", self.result_sort),
            ("encode_time", self.encode),
            ("total", self.total),
        ]
    }
}

/// The server's latency histograms.
#[derive(Debug)]
pub struct Latencies {
    http: HistogramFamily<HttpKey>,
    queries: HistogramFamily<(QueryKind, &'static str)>,
    persist: Histogram,
}

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies {
            http: HistogramFamily::new(FINE_BUCKETS, MAX_HTTP_KEYS),
            queries: HistogramFamily::new(FINE_BUCKETS, 2 * SLICES),
            persist: Histogram::new(FINE_BUCKETS),
        }
    }
}

/// A method as a label value from a fixed set.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `2xx`, `4xx`, …
pub fn status_class(code: u16) -> &'static str {
    match code / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

impl Latencies {
    /// Records one answered request.
    pub fn http(&self, route: &str, method: &'static str, code: u16, took: Duration) {
        let key = (route.to_string(), method, status_class(code));
        self.http.observe(&key, took.as_secs_f64());
    }

    /// Records one query's phases.
    pub fn query(&self, kind: QueryKind, phases: &QueryPhases) {
        for (slice, d) in phases.each() {
            self.queries.observe(&(kind, slice), d.as_secs_f64());
        }
    }

    /// Records one persist round.
    pub fn persist(&self, took: Duration) {
        self.persist.observe_duration(took);
    }

    /// HTTP request latencies by `(route, method, status class)`.
    pub fn http_snapshot(&self) -> Vec<(HttpKey, Snapshot)> {
        self.http.snapshot()
    }

    /// Query latencies by `(kind, slice)`.
    pub fn query_snapshot(&self) -> Vec<((&'static str, &'static str), Snapshot)> {
        self.queries
            .snapshot()
            .into_iter()
            .map(|((k, s), snap)| ((k.as_str(), s), snap))
            .collect()
    }

    /// Persist round latencies.
    pub fn persist_snapshot(&self) -> Snapshot {
        self.persist.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_kept_apart_by_route_method_and_status_class() {
        let l = Latencies::default();
        l.http("/api/v1/query", "GET", 200, Duration::from_millis(3));
        l.http("/api/v1/query", "GET", 204, Duration::from_millis(30));
        l.http("/api/v1/query", "GET", 400, Duration::from_millis(3));
        l.http("/api/v1/query", "POST", 503, Duration::from_millis(3));
        let snap = l.http_snapshot();
        let keys: Vec<_> = snap
            .iter()
            .map(|((r, m, c), s)| (r.as_str(), *m, *c, s.count))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("/api/v1/query", "GET", "2xx", 2),
                ("/api/v1/query", "GET", "4xx", 1),
                ("/api/v1/query", "POST", "5xx", 1),
            ]
        );
    }

    #[test]
    fn a_query_is_counted_once_in_every_slice() {
        let l = Latencies::default();
        let phases = QueryPhases {
            inner_eval: Duration::from_millis(20),
            total: Duration::from_millis(25),
            ..QueryPhases::default()
        };
        l.query(QueryKind::Range, &phases);
        let snap = l.query_snapshot();
        assert_eq!(snap.len(), SLICES);
        for ((kind, slice), s) in &snap {
            assert_eq!(*kind, "range");
            assert_eq!(s.count, 1, "{slice}");
        }
        let total = snap.iter().find(|((_, s), _)| *s == "total").unwrap();
        assert!((total.1.sum - 0.025).abs() < 1e-9);
    }
}
