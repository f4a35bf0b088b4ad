//! Retention per selector: rules `match → keep`, the first rule whose
//! matchers a series satisfies decides how long its samples are kept, the
//! global retention when none does. Enforced by compaction, which rewrites
//! the partitions holding expired samples (the bytes leave the disk), and
//! at ingest, which refuses what a rule would remove (`head/age_limit.rs`).

use crate::compact::RewriteStep;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;
use crate::partition::Partition;

/// One rule, as configured.
#[derive(Debug, Clone)]
pub struct RetentionRule {
    /// The selector as written, for logs and errors.
    pub selector: String,
    /// Selects the series (all must match).
    pub matchers: Vec<Matcher>,
    /// How long samples are kept, ms (> 0).
    pub keep_ms: i64,
}

impl RetentionRule {
    pub(crate) fn selects(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }
}

/// The rules, the fallback, and "now" (the newest sample stored, capped
/// at the wall clock: the head's `store_now`).
#[derive(Debug)]
pub(crate) struct RuleRetention<'a> {
    pub(crate) rules: &'a [RetentionRule],
    pub(crate) fallback_ms: Option<i64>,
    pub(crate) now: i64,
}

impl RuleRetention<'_> {
    /// Samples of `labels` before this time are expired (none: kept).
    pub(crate) fn cutoff(&self, labels: &Labels) -> Option<i64> {
        let keep = match self.rules.iter().find(|r| r.selects(labels)) {
            Some(r) => Some(r.keep_ms),
            None => self.fallback_ms,
        }?;
        Some(self.now.saturating_sub(keep))
    }
}

/// The age past which whole partitions may be dropped: the longest any
/// series is kept (none when some series are kept for ever).
pub(crate) fn partition_age_limit(
    rules: &[RetentionRule],
    fallback_ms: Option<i64>,
) -> Option<i64> {
    let fallback = fallback_ms?;
    Some(rules.iter().map(|r| r.keep_ms).fold(fallback, i64::max))
}

impl RewriteStep for RuleRetention<'_> {
    fn touches(&self, p: &Partition) -> bool {
        p.series_spans()
            .any(|(labels, min_t, _)| self.cutoff(labels).is_some_and(|c| min_t < c))
    }

    fn apply(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        if let Some(c) = self.cutoff(labels) {
            samples.retain(|s| s.t >= c);
        }
    }

    fn keeps_histogram(&self, labels: &Labels, t: i64) -> bool {
        self.cutoff(labels).is_none_or(|c| t >= c)
    }
}

/// A rule keeping `{job="<job>"}` for `keep_ms` (tests).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn job_rule(job: &str, keep_ms: i64) -> RetentionRule {
    RetentionRule {
        selector: format!("{{job={job:?}}}"),
        matchers: vec![Matcher::new(crate::model::matcher::MatchOp::Equal, "job", job).unwrap()],
        keep_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::retention_rules::job_rule as rule;

    #[test]
    fn first_matching_rule_wins_and_the_fallback_covers_the_rest() {
        let rules = [rule("debug", 10), rule("debug", 1000), rule("slo", 500)];
        let r = RuleRetention {
            rules: &rules,
            fallback_ms: Some(100),
            now: 1000,
        };
        let l = |job| Labels::from_pairs([("__name__", "x"), ("job", job)]);
        assert_eq!(r.cutoff(&l("debug")), Some(990));
        assert_eq!(r.cutoff(&l("slo")), Some(500));
        assert_eq!(r.cutoff(&l("other")), Some(900));
        let mut s: Vec<Sample> = (0..1000)
            .step_by(100)
            .map(|t| Sample::new(t, 1.0))
            .collect();
        r.apply(&l("slo"), &mut s);
        assert_eq!(s.first().map(|x| x.t), Some(500));
        assert_eq!(partition_age_limit(&rules, Some(100)), Some(1000));
        assert_eq!(partition_age_limit(&rules, None), None);
    }
}
