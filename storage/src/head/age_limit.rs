//! Retention at ingest: a sample that its series' retention (the first
//! `[[retention]]` rule selecting the series, else the global retention)
//! would remove at the next persist is refused instead (`past_retention`).
//! Each batch is judged against one "now": the store's, moved by the
//! batch's own newest sample the future bound allows, so a batch mixing
//! 1970 and current samples into an empty store keeps none of the 1970
//! ones, whatever their order (they would be acknowledged, then deleted).

use crate::model::labels::Labels;
use crate::retention_rules::{RetentionRule, RuleRetention};
use hourglass_wal::lock::{read, write};
use std::sync::{Arc, RwLock};

/// The retention rules in force.
#[derive(Debug, Default)]
pub(crate) struct AgeRules {
    list: RwLock<Arc<Vec<RetentionRule>>>,
}

impl AgeRules {
    pub(crate) fn get(&self) -> Arc<Vec<RetentionRule>> {
        Arc::clone(&read(&self.list))
    }

    pub(crate) fn set(&self, rules: Vec<RetentionRule>) {
        *write(&self.list) = Arc::new(rules);
    }

    /// One batch's limits, with "now" (none while nothing is stored).
    pub(crate) fn limit(&self, now: Option<i64>, fallback_ms: Option<i64>) -> AgeLimit {
        let list = read(&self.list);
        AgeLimit {
            now,
            fallback_ms,
            rules: Arc::clone(&list),
        }
    }
}

/// The age limits one batch applies.
#[derive(Debug, Clone)]
pub(crate) struct AgeLimit {
    now: Option<i64>,
    fallback_ms: Option<i64>,
    rules: Arc<Vec<RetentionRule>>,
}

impl AgeLimit {
    fn retention(&self) -> Option<RuleRetention<'_>> {
        Some(RuleRetention {
            rules: &self.rules,
            fallback_ms: self.fallback_ms,
            now: self.now?,
        })
    }

    /// Samples of `labels` before this are refused.
    pub(crate) fn floor_of(&self, labels: &Labels) -> i64 {
        self.retention()
            .and_then(|r| r.cutoff(labels))
            .unwrap_or(i64::MIN)
    }

    /// Samples of a series before this are refused; its `labels` are
    /// built only when some rule needs them.
    pub(crate) fn floor(&self, labels: impl FnOnce() -> Labels) -> i64 {
        if self.rules.is_empty() {
            let keep = self.now.zip(self.fallback_ms);
            return keep.map_or(i64::MIN, |(now, k)| now.saturating_sub(k));
        }
        self.floor_of(&labels())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use crate::retention_rules::job_rule as rule;

    #[test]
    fn the_first_matching_rule_sets_the_floor_and_a_rule_change_is_seen() {
        let rules = AgeRules::default();
        rules.set(vec![rule("debug", 10), rule("slo", 5_000)]);
        let l = |job| Labels::from_pairs([("__name__", "x"), ("job", job)]);
        let s = || l("debug");
        let o = || l("other");
        let lim = rules.limit(Some(1_000), Some(100));
        assert_eq!(lim.floor(s), 990);
        assert_eq!(lim.floor(s), 990, "again");
        assert_eq!(lim.floor(o), 900, "the fallback");
        assert_eq!(lim.floor_of(&l("slo")), -4_000);
        rules.set(vec![rule("debug", 500)]);
        assert_eq!(rules.limit(Some(1_000), Some(100)).floor(s), 500);
        assert_eq!(rules.limit(None, Some(100)).floor(s), i64::MIN);
        rules.set(Vec::new());
        assert_eq!(rules.limit(Some(1_000), None).floor(s), i64::MIN);
        assert_eq!(rules.limit(Some(1_000), Some(100)).floor(s), 900);
    }
}
