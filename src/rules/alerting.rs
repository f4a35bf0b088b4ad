//! An alerting rule's evaluation: alerts keyed by their label set move
//! pending → firing after `for`, stay firing for `keep_firing_for` once
//! the condition ends, then resolve (kept 15 minutes for re-sends). The
//! `ALERTS` and `ALERTS_FOR_STATE` series are written after each
//! evaluation once the rule's `for` state was restored.

use super::alert::{Alert, AlertState, Outgoing, RESOLVED_RETENTION_MS};
use super::file::RuleKind;
use super::rule::{self, Health, RuleState};
use super::template::{self, Data, QueryFn};
use hourglass_query::Engine;
use hourglass_storage::{Labels, Storage};
use std::collections::BTreeMap;

/// What templates see besides the sample.
pub struct TemplateEnv<'a> {
    /// `$externalLabels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// For `query`.
    pub query: &'a dyn QueryFn,
}

/// Evaluates `rule` at `t_ms`; returns the `ALERTS`/`ALERTS_FOR_STATE`
/// samples written.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    rule: &mut RuleState,
    engine: &Engine,
    storage: &Storage,
    t_ms: i64,
    query_offset_ms: i64,
    limit: usize,
    env: &TemplateEnv<'_>,
) -> usize {
    let RuleKind::Alerting {
        hold,
        keep_firing_for,
        annotations,
    } = rule.spec.kind.clone()
    else {
        return 0;
    };
    let hold_ms = hold.as_millis() as i64;
    let keep_ms = keep_firing_for.as_millis() as i64;
    let result = match rule::instant(engine, storage, &rule.spec.expr, t_ms - query_offset_ms) {
        Ok(r) => r,
        Err(e) => {
            rule.health = Health::Err;
            rule.last_error = Some(e);
            return 0;
        }
    };
    let mut template_error: Option<String> = None;
    let mut seen: BTreeMap<BTreeMap<String, String>, (BTreeMap<String, String>, f64)> =
        BTreeMap::new();
    for (l, v) in result {
        let sample_labels = rule::to_map(&l);
        let data = Data {
            labels: &sample_labels,
            value: v,
            external_labels: env.external_labels,
            external_url: env.external_url,
            query: Some(env.query),
            now_s: t_ms as f64 / 1000.0,
        };
        let name = format!("__alert_{}", rule.spec.name);
        let mut labels = sample_labels.clone();
        labels.remove("__name__");
        for (k, tmpl) in &rule.spec.labels {
            let (val, err) = template::expand_or_error(&name, tmpl, &data);
            if err.is_some() && template_error.is_none() {
                template_error = err;
            }
            if val.is_empty() {
                labels.remove(k);
            } else {
                labels.insert(k.clone(), val);
            }
        }
        labels.insert("alertname".into(), rule.spec.name.clone());
        let mut ann = BTreeMap::new();
        for (k, tmpl) in &annotations {
            let (val, err) = template::expand_or_error(&name, tmpl, &data);
            if err.is_some() && template_error.is_none() {
                template_error = err;
            }
            ann.insert(k.clone(), val);
        }
        if seen.insert(labels, (ann, v)).is_some() {
            rule.health = Health::Err;
            rule.last_error = Some(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
            return 0;
        }
    }
    // Present now: new, or updated.
    for (labels, (ann, v)) in &seen {
        match rule.alerts.get_mut(labels) {
            Some(a) if a.state != AlertState::Inactive => {
                a.value = *v;
                a.annotations = ann.clone();
                a.keep_firing_since = None;
            }
            _ => {
                rule.alerts.insert(
                    labels.clone(),
                    Alert {
                        labels: labels.clone(),
                        annotations: ann.clone(),
                        state: AlertState::Pending,
                        value: *v,
                        active_at: t_ms,
                        fired_at: None,
                        resolved_at: None,
                        last_sent: None,
                        valid_until: 0,
                        keep_firing_since: None,
                    },
                );
            }
        }
    }
    // Absent now: pending ones go, firing ones resolve or are held.
    rule.alerts.retain(|labels, a| {
        if seen.contains_key(labels) {
            return true;
        }
        match a.state {
            AlertState::Pending => false,
            AlertState::Inactive => a
                .resolved_at
                .is_some_and(|r| t_ms - r < RESOLVED_RETENTION_MS),
            AlertState::Firing => {
                if keep_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(t_ms);
                    if t_ms - since < keep_ms {
                        return true;
                    }
                }
                a.state = AlertState::Inactive;
                a.resolved_at = Some(t_ms);
                a.keep_firing_since = None;
                true
            }
        }
    });
    for a in rule.alerts.values_mut() {
        match a.state {
            AlertState::Pending if t_ms - a.active_at >= hold_ms => {
                a.state = AlertState::Firing;
                a.fired_at = Some(t_ms);
            }
            AlertState::Firing if t_ms - a.active_at < hold_ms => {
                a.state = AlertState::Pending;
                a.fired_at = None;
                a.last_sent = None;
                a.keep_firing_since = None;
            }
            _ => {}
        }
    }
    let active = rule
        .alerts
        .values()
        .filter(|a| a.state != AlertState::Inactive)
        .count();
    if limit > 0 && active > limit {
        rule.alerts.clear();
        rule.health = Health::Err;
        rule.last_error = Some(format!("exceeded limit of {limit} with {active} alerts"));
        return 0;
    }
    let mut written = 0;
    if rule.restored {
        let out = series(rule);
        match rule::write(storage, &out, &rule.series, t_ms - query_offset_ms) {
            Ok(_) => {
                written = out.len();
                rule.series = out.into_iter().map(|(l, _)| l).collect();
            }
            Err(e) => template_error = template_error.or(Some(e)),
        }
    }
    match template_error {
        Some(e) => {
            rule.health = Health::Err;
            rule.last_error = Some(e);
        }
        None => {
            rule.health = Health::Ok;
            rule.last_error = None;
        }
    }
    written
}

/// `ALERTS{…, alertstate}` = 1 and `ALERTS_FOR_STATE{…}` = activeAt (s)
/// for every pending or firing alert.
pub fn series(rule: &RuleState) -> Vec<(Labels, f64)> {
    let mut out = Vec::new();
    for a in rule
        .alerts
        .values()
        .filter(|a| a.state != AlertState::Inactive)
    {
        let mut m = a.labels.clone();
        m.insert("__name__".into(), "ALERTS_FOR_STATE".into());
        out.push((
            Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            a.active_at as f64 / 1000.0,
        ));
        m.insert("__name__".into(), "ALERTS".into());
        m.insert("alertstate".into(), a.state.as_str().into());
        out.push((
            Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            1.0,
        ));
    }
    out
}

/// The alerts to send after an evaluation at `t_ms`, marked as sent:
/// firing ones every `resend_ms`, resolved ones at once and then every
/// `resend_ms` while they are kept.
pub fn due(
    rule: &mut RuleState,
    t_ms: i64,
    resend_ms: i64,
    interval_ms: i64,
    external_url: &str,
) -> Vec<Outgoing> {
    let url = format!(
        "{external_url}/graph?g0.expr={}&g0.tab=1",
        form_urlencoded::byte_serialize(rule.spec.query.as_bytes()).collect::<String>()
    );
    let mut out = Vec::new();
    for a in rule.alerts.values_mut() {
        if a.state == AlertState::Pending {
            continue;
        }
        let resolved_unsent = a
            .resolved_at
            .is_some_and(|r| a.last_sent.is_none_or(|s| r > s));
        let resend = a.last_sent.is_none_or(|s| s + resend_ms < t_ms);
        if !(resolved_unsent || resend) {
            continue;
        }
        a.last_sent = Some(t_ms);
        a.valid_until = t_ms + 4 * interval_ms.max(resend_ms);
        out.push(Outgoing {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: a.fired_at.unwrap_or(a.active_at),
            ends_at: a.resolved_at.unwrap_or(a.valid_until),
            generator_url: url.clone(),
        });
    }
    out
}
