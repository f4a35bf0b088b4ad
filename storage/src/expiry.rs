//! What has left the store without leaving the disk yet: samples a
//! tombstone deletes, and samples older than their series' retention rule
//! allows. Queries hide them at once, a persist leaves them out of the
//! partitions it writes (they never reach one), and compaction removes
//! them from the partitions that hold them.

use crate::compact::RewriteStep;
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use crate::retention_rules::{RetentionRule, RuleRetention};
use crate::tombstones::{Deletions, Tombstone};
use std::sync::Arc;

/// Deletions and retention as of one moment.
#[derive(Debug, Clone)]
pub(crate) struct Expiry {
    pub(crate) tombstones: Arc<Vec<Tombstone>>,
    pub(crate) rules: Arc<Vec<RetentionRule>>,
    /// The global retention; `None` leaves it to whole-partition drops
    /// (queries: no per-series work for a limit every series shares).
    pub(crate) fallback_ms: Option<i64>,
    /// The store's "now" ([`crate::head::Head::store_now`]; `i64::MIN`
    /// while nothing is stored: nothing expires).
    pub(crate) now: i64,
}

impl Expiry {
    fn retention(&self) -> RuleRetention<'_> {
        RuleRetention {
            rules: &self.rules,
            fallback_ms: self.fallback_ms,
            now: self.now,
        }
    }

    /// True when nothing can be removed from any series.
    pub(crate) fn is_empty(&self) -> bool {
        self.tombstones.is_empty() && self.rules.is_empty() && self.fallback_ms.is_none()
    }

    /// True when `apply` may remove samples at or after `mint` from the
    /// series `labels`.
    pub(crate) fn touches(&self, labels: &Labels, mint: i64) -> bool {
        Deletions(&self.tombstones).touches_series(labels)
            || self.retention().cutoff(labels).is_some_and(|c| c > mint)
    }

    /// Removes what has left from one series' samples and histograms.
    pub(crate) fn apply(
        &self,
        labels: &Labels,
        samples: &mut Vec<Sample>,
        histograms: &mut Vec<(i64, FloatHistogram)>,
    ) {
        let dels = Deletions(&self.tombstones);
        let rules = self.retention();
        for step in [&dels as &dyn RewriteStep, &rules] {
            step.apply(labels, samples);
            histograms.retain(|(t, _)| step.keeps_histogram(labels, *t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::{MatchOp, Matcher};

    #[test]
    fn tombstones_and_the_first_matching_rule_remove_samples() {
        let eq = |n: &str, v: &str| Matcher::new(MatchOp::Equal, n, v).unwrap();
        let e = Expiry {
            tombstones: Arc::new(vec![Tombstone {
                matchers: vec![eq("i", "a")],
                start: 50,
                end: 59,
            }]),
            rules: Arc::new(vec![RetentionRule {
                selector: "{job=\"d\"}".into(),
                matchers: vec![eq("job", "d")],
                keep_ms: 30,
            }]),
            fallback_ms: None,
            now: 100,
        };
        let l =
            |i: &str, job: &str| Labels::from_pairs([("__name__", "m"), ("i", i), ("job", job)]);
        let all: Vec<Sample> = (0..100).step_by(10).map(|t| Sample::new(t, 1.0)).collect();
        let times = |labels: &Labels| {
            let mut s = all.clone();
            let mut h = vec![
                (50, FloatHistogram::default()),
                (90, FloatHistogram::default()),
            ];
            e.apply(labels, &mut s, &mut h);
            (
                s.iter().map(|x| x.t).collect::<Vec<_>>(),
                h.iter().map(|x| x.0).collect::<Vec<_>>(),
            )
        };
        assert_eq!(times(&l("a", "p")).0, [0, 10, 20, 30, 40, 60, 70, 80, 90]);
        assert_eq!(times(&l("a", "p")).1, [90]);
        assert_eq!(times(&l("b", "d")), (vec![70, 80, 90], vec![90]));
        assert_eq!(times(&l("b", "p")).0.len(), 10);
        assert!(e.touches(&l("a", "p"), 0));
        assert!(e.touches(&l("b", "d"), 69));
        assert!(!e.touches(&l("b", "d"), 70), "a query from the cutoff on");
        assert!(!e.touches(&l("b", "p"), 0));
    }
}
