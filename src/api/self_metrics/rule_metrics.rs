//! The rule engine's families, named as Prometheus names them.

use super::exposition::Exposition;
use crate::rules::RuleManager;
use crate::rules::group::Group;
use hourglass_wal::lock::lock;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn write(out: &mut Exposition, rules: Option<&RuleManager>) {
    let Some(m) = rules else { return };
    let c = m.counters();
    out.counters(&[
        (
            "prometheus_rule_evaluations_total",
            "Rule evaluations.",
            &c.evaluations,
        ),
        (
            "prometheus_rule_evaluation_failures_total",
            "Rule evaluations that failed.",
            &c.failures,
        ),
        (
            "prometheus_rule_group_iterations_total",
            "Group evaluations.",
            &c.iterations,
        ),
        (
            "prometheus_rule_group_iterations_missed_total",
            "Group slots skipped because an evaluation ran late.",
            &c.missed,
        ),
    ]);
    out.single(
        "hourglass_rule_evaluation_seconds_total",
        "counter",
        "Wall time spent evaluating rule groups.",
        c.eval_micros.load(Relaxed) as f64 / 1e6,
    );
    let groups = m.groups();
    let key = |g: &Group| [("rule_group", format!("{};{}", g.spec.file, g.spec.name))];
    out.family_of(
        "prometheus_rule_group_last_duration_seconds",
        "gauge",
        "How long the last evaluation of each group took.",
        groups
            .iter()
            .map(|g| (key(g), lock(&g.stats).evaluation_seconds)),
    );
    out.family_of(
        "prometheus_rule_group_rules",
        "gauge",
        "Rules of each group.",
        groups.iter().map(|g| (key(g), g.rules.len() as f64)),
    );
    let (n, queue) = m.notifications();
    out.counters(&[
        (
            "prometheus_notifications_sent_total",
            "Alerts sent to Alertmanager.",
            &n.sent,
        ),
        (
            "prometheus_notifications_errors_total",
            "POSTs to Alertmanager that failed.",
            &n.errors,
        ),
        (
            "prometheus_notifications_dropped_total",
            "Alerts dropped: full queue or failed POST.",
            &n.dropped,
        ),
    ]);
    out.single(
        "prometheus_notifications_queue_length",
        "gauge",
        "Alerts waiting to be sent.",
        queue as f64,
    );
    out.single(
        "prometheus_notifications_queue_capacity",
        "gauge",
        "Most alerts waiting per Alertmanager.",
        crate::rules::notifier::QUEUE_CAPACITY as f64,
    );
    let count = n.latency_count.load(Relaxed);
    out.family(
        "hourglass_notification_latency_seconds",
        "summary",
        "From queueing an alert to Alertmanager's 2xx.",
    );
    out.sample(
        "hourglass_notification_latency_seconds_sum",
        &[],
        n.latency_micros.load(Relaxed) as f64 / 1e6,
    );
    out.sample(
        "hourglass_notification_latency_seconds_count",
        &[],
        count as f64,
    );
    out.single(
        "hourglass_notification_latency_max_seconds",
        "gauge",
        "Longest time from queueing an alert to Alertmanager's 2xx.",
        n.latency_max_micros.load(Relaxed) as f64 / 1e6,
    );
}
