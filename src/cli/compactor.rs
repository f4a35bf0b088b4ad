//! The background compactor of `serve`: after each persist round (one runs
//! as soon as an hour is ready), the retention rules (the config's, then
//! those of targets registered with a `retention_policy`) are refreshed and
//! one compaction runs. A stop interrupts a merge in progress; the first
//! round after the next start does it again.

use crate::server::AppState;
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{MatchOp, Matcher, RetentionRule};

/// The rules of registered targets: `{job="<source_id>"}` kept for their
/// `retention_policy`.
fn registry_rules(state: &AppState) -> Vec<RetentionRule> {
    let reg = state.registry().lock().unwrap_or_else(|p| p.into_inner());
    reg.iter()
        .filter_map(|t| {
            let keep = i64::try_from(t.retention_policy.as_ref()?.duration_ms).ok()?;
            let m = Matcher::new(MatchOp::Equal, "job", t.source_id.clone()).ok()?;
            (keep > 0).then(|| RetentionRule {
                selector: format!("{{job={:?}}} (target {})", t.source_id, t.target_id),
                matchers: vec![m],
                keep_ms: keep,
            })
        })
        .collect()
}

/// One compaction round; errors are logged (the store stays whole and the
/// next round tries again).
pub(crate) fn round(state: &AppState, opts: &CompactOptions, config_rules: &[RetentionRule]) {
    let storage = state.storage();
    let mut rules = config_rules.to_vec();
    rules.extend(registry_rules(state));
    storage.set_retention_rules(rules);
    let _span = tracing::debug_span!("compact").entered();
    match storage.compact(opts, &mut |_| {}) {
        Ok(s) if s.interrupted => tracing::info!(
            groups_done = s.groups,
            "compaction interrupted by the stop; the next start resumes it"
        ),
        Ok(s) if s.groups > 0 => tracing::info!(
            groups = s.groups,
            partitions_in = s.partitions_in,
            partitions_out = s.partitions_out,
            samples_in = s.counts.samples_in,
            samples_out = s.counts.samples_out,
            bytes_in = s.bytes_in,
            bytes_out = s.bytes_out,
            took_ms = s.elapsed.as_millis() as u64,
            "compacted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "compaction failed; will retry"),
    }
}
