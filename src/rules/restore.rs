//! Restoring alerts' `for` state after a restart from `ALERTS_FOR_STATE`,
//! as Prometheus does: the time the server was down does not count
//! towards `for`, and an alert about to fire waits at least the grace
//! period.

use super::file::RuleKind;
use super::group::{Env, Group};
use hourglass_storage::{MatchOp, Matcher, Querier as _, is_stale_nan};
use hourglass_wal::lock::lock;
use std::time::Duration;

/// `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// How far back `ALERTS_FOR_STATE` is looked for (1h).
    pub outage_tolerance: Duration,
    /// Least time an alert waits after a restart before firing (10m).
    pub grace: Duration,
}

impl Default for RestoreOptions {
    fn default() -> RestoreOptions {
        RestoreOptions {
            outage_tolerance: Duration::from_secs(3600),
            grace: Duration::from_secs(600),
        }
    }
}

/// The new `activeAt` of an alert whose series says it was active since
/// `v_ms` until `t_down_ms`, for a rule with `for` = `hold_ms`.
pub fn restored_active_at(
    v_ms: i64,
    t_down_ms: i64,
    now_ms: i64,
    hold_ms: i64,
    grace_ms: i64,
) -> i64 {
    let remaining = hold_ms - (t_down_ms - v_ms);
    if remaining <= 0 {
        v_ms
    } else if remaining < grace_ms {
        now_ms + grace_ms - hold_ms
    } else {
        v_ms + (now_ms - t_down_ms)
    }
}

/// Restores every alerting rule of `group` at `now_ms`, then marks it
/// restored so its `ALERTS` series are written from the next evaluation.
pub fn restore(group: &Group, env: &Env, opts: &RestoreOptions, now_ms: i64) {
    let grace_ms = opts.grace.as_millis() as i64;
    let mint = now_ms - opts.outage_tolerance.as_millis() as i64;
    for r in &group.rules {
        let mut rule = lock(r);
        let RuleKind::Alerting { hold, .. } = rule.spec.kind else {
            rule.restored = true;
            continue;
        };
        let hold_ms = hold.as_millis() as i64;
        if hold_ms < grace_ms || rule.alerts.is_empty() {
            rule.restored = true;
            continue;
        }
        let mut matchers = vec![
            Matcher::new(MatchOp::Equal, "__name__", "ALERTS_FOR_STATE"),
            Matcher::new(MatchOp::Equal, "alertname", rule.spec.name.clone()),
        ];
        for (k, v) in &rule.spec.labels {
            if !v.contains("{{") {
                matchers.push(Matcher::new(MatchOp::Equal, k.clone(), v.clone()));
            }
        }
        let Ok(matchers) = matchers.into_iter().collect::<Result<Vec<_>, _>>() else {
            rule.restored = true;
            continue;
        };
        let q = env.storage.querier(mint, now_ms);
        let set = match q.select(&matchers, mint, now_ms) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, rule = %rule.spec.name, "cannot read ALERTS_FOR_STATE; for state not restored");
                rule.restored = true;
                continue;
            }
        };
        let mut restored = 0;
        for series in set {
            let mut labels = super::rule::to_map(&series.labels);
            labels.remove("__name__");
            let Some(last) = series.samples.last() else {
                continue;
            };
            if is_stale_nan(last.v) {
                continue;
            }
            let Some(alert) = rule.alerts.get_mut(&labels) else {
                continue;
            };
            let v_ms = (last.v * 1000.0) as i64;
            alert.active_at = restored_active_at(v_ms, last.t, now_ms, hold_ms, grace_ms);
            restored += 1;
        }
        if restored > 0 {
            tracing::info!(rule = %rule.spec.name, alerts = restored, "for state restored from ALERTS_FOR_STATE");
        }
        rule.restored = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_does_not_count_towards_for() {
        let m = 60_000;
        // active 10m before a 5m outage, for 30m: 20m remain after restart.
        assert_eq!(restored_active_at(0, 10 * m, 15 * m, 30 * m, 10 * m), 5 * m);
        // 25m of 30m done: fires grace after the restart.
        assert_eq!(
            restored_active_at(0, 25 * m, 40 * m, 30 * m, 10 * m),
            40 * m + 10 * m - 30 * m
        );
        // already over: keeps its activeAt.
        assert_eq!(restored_active_at(0, 31 * m, 40 * m, 30 * m, 10 * m), 0);
    }
}
