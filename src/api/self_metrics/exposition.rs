//! The text exposition format 0.0.4 as `/metrics` writes it: families,
//! samples, and classic histograms (cumulative `_bucket{le=…}` lines, then
//! `_sum` and `_count`) from the workspace's one histogram type
//! ([`hourglass_wal::Histogram`]).

use hourglass_query::prom_text::{Quoting, exposition_float, plain_float, write_quoted};
use hourglass_wal::histogram::Snapshot;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// An exposition being written.
pub(super) struct Exposition(pub(super) String);

impl Exposition {
    /// `# HELP` and `# TYPE` of a family.
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample line.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push('=');
                write_quoted(&mut self.0, v, Quoting::Exposition);
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", plain_float(value));
    }

    /// A family with one sample per item of `samples`: its labels, its value.
    pub(super) fn family_of<const N: usize>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'static str, String); N], f64)>,
    ) {
        self.family(name, kind, help);
        for (labels, value) in samples {
            self.sample(
                name,
                &labels.each_ref().map(|(k, v)| (*k, v.as_str())),
                value,
            );
        }
    }

    /// A family of one unlabelled sample.
    pub(super) fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// One unlabelled counter family per row `(name, help, count)`.
    pub(super) fn counters(&mut self, rows: &[(&str, &str, &AtomicU64)]) {
        for &(name, help, count) in rows {
            self.single(name, "counter", help, count.load(Relaxed) as f64);
        }
    }

    /// One histogram of the family `name` (declared with
    /// [`Exposition::family`] and kind `histogram`): a `_bucket` line per
    /// bound, `le` last and spelled as Prometheus normalises it (`0.005`,
    /// `1.0`, `+Inf`), then `_sum` and `_count`.
    pub(super) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], s: &Snapshot) {
        let bucket = format!("{name}_bucket");
        for &(bound, count) in &s.buckets {
            let le = exposition_float(bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count as f64);
        }
        self.sample(&format!("{name}_sum"), labels, s.sum);
        self.sample(&format!("{name}_count"), labels, s.count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::text::{Entry, MetricKind, parse_strict};
    use hourglass_wal::Histogram;

    #[test]
    fn label_values_are_escaped() {
        let mut e = Exposition(String::new());
        e.sample("m", &[("l", "a\"b\\c\nd")], f64::INFINITY);
        assert_eq!(e.0, "m{l=\"a\\\"b\\\\c\\nd\"} +Inf\n");
    }

    #[test]
    fn a_family_of_labelled_samples_is_declared_once_then_one_line_each() {
        let mut e = Exposition(String::new());
        let samples = [("nats", 1.0), ("kafka", 2.5)].map(|(k, v)| ([("sink", k.to_string())], v));
        e.family_of("m", "gauge", "Help.", samples);
        assert_eq!(
            e.0,
            "# HELP m Help.\n# TYPE m gauge\nm{sink=\"nats\"} 1\nm{sink=\"kafka\"} 2.5\n"
        );
    }

    #[test]
    fn counters_are_one_family_each_with_their_current_count() {
        let mut e = Exposition(String::new());
        let (a, b) = (AtomicU64::new(3), AtomicU64::new(0));
        e.counters(&[("a_total", "As.", &a), ("b_total", "Bs.", &b)]);
        assert_eq!(
            e.0,
            "# HELP a_total As.\n# TYPE a_total counter\na_total 3\n\
             # HELP b_total Bs.\n# TYPE b_total counter\nb_total 0\n"
        );
    }

    #[test]
    fn exposition_of_a_histogram_is_cumulative_with_sum_and_count() {
        let h = Histogram::new(&[0.005, 1.0]);
        h.observe(0.001);
        h.observe(0.5);
        h.observe(2.0);
        let mut e = Exposition(String::new());
        e.family("x_seconds", "histogram", "Time.");
        e.histogram("x_seconds", &[("handler", "/q")], &h.snapshot());
        assert_eq!(
            e.0,
            "# HELP x_seconds Time.\n\
             # TYPE x_seconds histogram\n\
             x_seconds_bucket{handler=\"/q\",le=\"0.005\"} 1\n\
             x_seconds_bucket{handler=\"/q\",le=\"1.0\"} 2\n\
             x_seconds_bucket{handler=\"/q\",le=\"+Inf\"} 3\n\
             x_seconds_sum{handler=\"/q\"} 2.501\n\
             x_seconds_count{handler=\"/q\"} 3\n"
        );
    }

    #[test]
    fn exposition_of_histograms_parses_back_with_the_strict_text_parser() {
        let h = Histogram::new(hourglass_wal::histogram::FINE_BUCKETS);
        for us in [50, 300, 7_000, 2_000_000, 90_000_000] {
            h.observe_duration(std::time::Duration::from_micros(us));
        }
        let snap = h.snapshot();
        let mut e = Exposition(String::new());
        e.family("hourglass_t_seconds", "histogram", "A test family.");
        e.histogram("hourglass_t_seconds", &[("a", "x\"y\n")], &snap);
        e.histogram("hourglass_t_seconds", &[("a", "z")], &snap);

        let mut buckets = Vec::new();
        let mut sums = Vec::new();
        let mut counts = Vec::new();
        for entry in parse_strict(&e.0) {
            let Entry::Sample(s) = entry.unwrap() else {
                continue;
            };
            assert_eq!(s.family, "hourglass_t_seconds");
            assert_eq!(s.kind, MetricKind::Histogram);
            assert_eq!(s.labels[0].0, "a");
            match s.name.as_ref() {
                "hourglass_t_seconds_bucket" => {
                    assert_eq!(s.labels[1].0, "le");
                    let le: f64 = s.labels[1].1.parse().unwrap();
                    buckets.push((s.labels[0].1.to_string(), le, s.value as u64));
                }
                "hourglass_t_seconds_sum" => sums.push(s.value),
                "hourglass_t_seconds_count" => counts.push(s.value),
                other => panic!("unexpected sample {other}"),
            }
        }
        let first: Vec<(f64, u64)> = buckets
            .iter()
            .filter(|b| b.0 == "x\"y\n")
            .map(|b| (b.1, b.2))
            .collect();
        assert_eq!(first, snap.buckets);
        assert_eq!(buckets.len(), 2 * snap.buckets.len());
        assert_eq!(sums, vec![snap.sum, snap.sum]);
        assert_eq!(counts, vec![5.0, 5.0]);
    }
}
