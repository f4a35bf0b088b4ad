//! `GET /api/v1/rules` and `GET /api/v1/alerts` in Prometheus's shape:
//! groups sorted by file then name, rules with health, lastError,
//! evaluationTime and lastEvaluation, alerts with their state and value.

use super::envelope::{ApiError, ApiResult, success};
use super::params::Params;
use crate::rules::alert::{Alert, AlertState};
use crate::rules::file::RuleKind;
use crate::rules::rule::RuleState;
use crate::rules::template::gofmt::fmt_e;
use crate::server::AppState;
use axum::extract::State;
use hourglass_storage::calendar::format_rfc3339_ns;
use hourglass_wal::lock::lock;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

fn wall(t: Option<SystemTime>) -> String {
    match t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => format_rfc3339_ns(d.as_secs() as i64, d.subsec_nanos()),
        None => "0001-01-01T00:00:00Z".to_string(),
    }
}

fn slot_time(ms: i64) -> String {
    format_rfc3339_ns(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
}

fn alert_json(a: &Alert) -> Value {
    let mut v = json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": slot_time(a.active_at),
        "value": fmt_e(a.value, None),
    });
    if let Some(k) = a.keep_firing_since {
        v["keepFiringSince"] = json!(slot_time(k));
    }
    v
}

fn active(rule: &RuleState) -> impl Iterator<Item = &Alert> {
    rule.alerts
        .values()
        .filter(|a| a.state != AlertState::Inactive)
}

fn rule_json(rule: &RuleState, exclude_alerts: bool) -> Value {
    let mut v = match &rule.spec.kind {
        RuleKind::Recording => json!({
            "name": rule.spec.name,
            "query": rule.spec.query,
            "labels": rule.spec.labels,
            "type": "recording",
        }),
        RuleKind::Alerting {
            hold,
            keep_firing_for,
            annotations,
        } => {
            let state = if rule.last_evaluation.is_none() {
                "unknown"
            } else {
                active(rule)
                    .map(|a| a.state)
                    .max()
                    .unwrap_or(AlertState::Inactive)
                    .as_str()
            };
            let alerts: Value = if exclude_alerts {
                Value::Null
            } else {
                Value::Array(active(rule).map(alert_json).collect())
            };
            json!({
                "state": state,
                "name": rule.spec.name,
                "query": rule.spec.query,
                "duration": hold.as_secs_f64(),
                "keepFiringFor": keep_firing_for.as_secs_f64(),
                "labels": rule.spec.labels,
                "annotations": annotations,
                "alerts": alerts,
                "type": "alerting",
            })
        }
    };
    v["health"] = json!(rule.health.as_str());
    if let Some(e) = &rule.last_error {
        v["lastError"] = json!(e);
    }
    v["evaluationTime"] = json!(rule.evaluation_seconds);
    v["lastEvaluation"] = json!(wall(rule.last_evaluation));
    v
}

/// `GET /api/v1/rules[?type=alert|record][&rule_name[]=…][&rule_group[]=…][&file[]=…][&exclude_alerts=…]`
pub async fn rules(State(state): State<AppState>, params: Params) -> ApiResult {
    let kind = match params.get("type") {
        None | Some("") => None,
        Some("alert") => Some(true),
        Some("record") => Some(false),
        Some(other) => {
            return Err(ApiError::param(
                "type",
                format!("unsupported type {other:?}, want alert or record"),
            ));
        }
    };
    let exclude_alerts = params.flag("exclude_alerts")?;
    let names = params.all("rule_name[]");
    let groups_f = params.all("rule_group[]");
    let files = params.all("file[]");
    let mut out = Vec::new();
    if let Some(m) = state.rules() {
        for g in m.groups() {
            if !groups_f.is_empty() && !groups_f.contains(&g.spec.name.as_str()) {
                continue;
            }
            if !files.is_empty() && !files.contains(&g.spec.file.as_str()) {
                continue;
            }
            let mut rules = Vec::new();
            for r in &g.rules {
                let r = lock(r);
                let is_alert = matches!(r.spec.kind, RuleKind::Alerting { .. });
                if kind.is_some_and(|k| k != is_alert) {
                    continue;
                }
                if !names.is_empty() && !names.contains(&r.spec.name.as_str()) {
                    continue;
                }
                rules.push(rule_json(&r, exclude_alerts));
            }
            let filtered = kind.is_some() || !names.is_empty();
            if rules.is_empty() && filtered {
                continue;
            }
            let stats = lock(&g.stats).clone();
            let mut obj = Map::new();
            obj.insert("name".into(), json!(g.spec.name));
            obj.insert("file".into(), json!(g.spec.file));
            obj.insert("rules".into(), Value::Array(rules));
            obj.insert("interval".into(), json!(g.interval_ms as f64 / 1000.0));
            obj.insert("limit".into(), json!(g.spec.limit));
            obj.insert("evaluationTime".into(), json!(stats.evaluation_seconds));
            obj.insert("lastEvaluation".into(), json!(wall(stats.last_evaluation)));
            out.push(Value::Object(obj));
        }
    }
    Ok(success(json!({ "groups": out }), &[]))
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub async fn alerts(State(state): State<AppState>) -> ApiResult {
    let mut out = Vec::new();
    if let Some(m) = state.rules() {
        for g in m.groups() {
            for r in &g.rules {
                let r = lock(r);
                out.extend(active(&r).map(alert_json));
            }
        }
    }
    Ok(success(json!({ "alerts": out }), &[]))
}
