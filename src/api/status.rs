//! The smaller endpoints: TSDB, runtime and build status, exemplars (none
//! stored yet), and the query formatter.

use super::envelope::{ApiError, ApiResult, success};
use super::labels::{blocking, deadline, select_labels};
use super::params::{Params, parse_error_text};
use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS};
use crate::server::AppState;
use axum::extract::State;
use hourglass_storage::calendar::format_rfc3339_ms;
use hourglass_storage::{MatchOp, Matcher};
use serde_json::{Value, json};
use std::collections::HashMap;

fn top(counts: HashMap<String, u64>, limit: usize) -> Value {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    Value::Array(
        v.into_iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
    )
}

/// `GET /api/v1/status/tsdb[?limit=N][&match[]=…]`: cardinality in
/// Prometheus's shape, over all series or those matching `match[]`.
pub async fn tsdb(State(state): State<AppState>, params: Params) -> ApiResult {
    let limit = match params.get("limit") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(ApiError::param("limit", "limit must be a positive number")),
        },
    };
    let mut sets = params.match_sets()?;
    if sets.is_empty() {
        let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+")
            .map_err(|e| ApiError::internal(e.to_string()))?;
        sets.push(vec![all]);
    }
    let storage = state.storage();
    let max_t = storage.stats().max_t;
    let slot = super::query::admitted(&state).await?;
    let until = deadline(&state);
    let series = blocking(move || {
        let _slot = slot;
        select_labels(&storage, &sets, MIN_TIME_MS, MAX_TIME_MS, until)
    })
    .await?;

    let mut by_metric: HashMap<String, u64> = HashMap::new();
    let mut values_by_name: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    let mut bytes_by_name: HashMap<String, u64> = HashMap::new();
    let mut by_pair: HashMap<String, u64> = HashMap::new();
    for labels in &series {
        *by_metric
            .entry(labels.metric_name().unwrap_or_default().to_string())
            .or_default() += 1;
        for l in labels.iter() {
            values_by_name
                .entry(l.name.to_string())
                .or_default()
                .insert(l.value.to_string());
            *by_pair
                .entry(format!("{}={}", l.name, l.value))
                .or_default() += 1;
        }
    }
    for (name, values) in &values_by_name {
        bytes_by_name.insert(name.clone(), values.iter().map(|v| v.len() as u64).sum());
    }
    let value_counts: HashMap<String, u64> = values_by_name
        .iter()
        .map(|(k, v)| (k.clone(), v.len() as u64))
        .collect();
    let mut head = json!({
        "numSeries": series.len(),
        "numLabelPairs": by_pair.len(),
    });
    if let Some(t) = max_t {
        head["maxTime"] = json!(t);
    }
    Ok(success(
        json!({
            "headStats": head,
            "seriesCountByMetricName": top(by_metric, limit),
            "labelValueCountByLabelName": top(value_counts, limit),
            "memoryInBytesByLabelName": top(bytes_by_name, limit),
            "seriesCountByLabelValuePair": top(by_pair, limit),
        }),
        &[],
    ))
}

/// `GET /api/v1/status/runtimeinfo`.
pub async fn runtimeinfo(State(state): State<AppState>) -> ApiResult {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started_ms = (state.start_time_unix() * 1000.0) as i64;
    let storage = state.storage();
    let recovery = storage.wal_recovery();
    let corruption_count = recovery.damage.len() as u64 + u64::from(recovery.corruption.is_some());
    Ok(success(
        json!({
            "startTime": format_rfc3339_ms(started_ms),
            "CWD": cwd,
            "reloadConfigSuccess": true,
            "lastConfigTime": format_rfc3339_ms(started_ms),
            "corruptionCount": corruption_count,
            "goroutineCount": 0,
            "GOMAXPROCS": threads,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": state.retention_text(),
        }),
        &[],
    ))
}

/// `GET|POST /api/v1/query_exemplars`: exemplars are not stored yet, so the
/// answer is an empty success, whatever the times (Grafana sends ms).
pub async fn query_exemplars(params: Params) -> ApiResult {
    if let Some(q) = params.get("query") {
        hourglass_query::parse(q).map_err(|e| ApiError::param("query", parse_error_text(&e)))?;
    }
    Ok(success(json!([]), &[]))
}

/// `GET|POST /api/v1/format_query`: the canonical form of `query`.
pub async fn format_query(params: Params) -> ApiResult {
    let q = params
        .get("query")
        .ok_or_else(|| ApiError::param("query", "query is required"))?;
    let expr =
        hourglass_query::parse(q).map_err(|e| ApiError::param("query", parse_error_text(&e)))?;
    Ok(success(Value::String(expr.to_string()), &[]))
}

/// Prometheus's buildinfo fields. `version` is the Prometheus release whose
/// API we follow (Grafana gates features on it); `features` is left out on
/// purpose, since Grafana takes a non-empty one to mean Mimir.
pub async fn buildinfo() -> axum::Json<Value> {
    axum::Json(json!({
        "status": "success",
        "data": {
            "version": crate::build_info::PROMETHEUS_COMPAT_VERSION,
            "revision": crate::build_info::REVISION,
            "branch": "main",
            "buildUser": "hourglass",
            "buildDate": crate::build_info::BUILD_DATE,
            "goVersion": crate::build_info::RUSTC,
            "hourglassVersion": crate::build_info::VERSION,
        }
    }))
}
