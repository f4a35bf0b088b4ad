//! The smaller endpoints: TSDB, runtime and build status, exemplars (none
//! stored yet), and the query formatter.

use super::envelope::{ApiError, ApiResult, success};
use super::labels::blocking;
use super::params::{Params, parse_error_text};
use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS};
use crate::server::AppState;
use axum::extract::State;
use hourglass_storage::calendar::{self, format_rfc3339_ms};
use hourglass_storage::{CardinalityQuery, HistoryCardinality};
use serde_json::{Value, json};

/// Most entries of each list `topN` (or `limit`) may ask for.
const MAX_TOP_N: usize = 10_000;
/// Most hours listed in `newSeriesByHour` (the latest are kept).
const MAX_CHURN_HOURS: usize = 10_000;

fn pairs(list: &[(String, u64)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
    )
}

/// `topN` (VictoriaMetrics) or `limit` (Prometheus); 10 when absent.
fn top_n(params: &Params) -> Result<usize, ApiError> {
    let (name, v) = match (params.get("topN"), params.get("limit")) {
        (Some(v), _) => ("topN", v),
        (None, Some(v)) => ("limit", v),
        (None, None) => return Ok(10),
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_TOP_N).contains(&n) => Ok(n),
        _ => Err(ApiError::param(
            name,
            format!("{name} must be a whole number from 1 to {MAX_TOP_N}"),
        )),
    }
}

/// The range: `date` (`YYYY-MM-DD`, one UTC day; `1970-01-01` means all
/// time, as in VictoriaMetrics) or `start`/`end`; all time when none.
fn time_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let Some(d) = params.get("date") else {
        return params.range();
    };
    if params.get("start").is_some() || params.get("end").is_some() {
        return Err(ApiError::param("date", "give either date or start/end"));
    }
    let bad = || ApiError::param("date", format!("cannot parse {d:?} as YYYY-MM-DD"));
    let mut it = d.splitn(3, '-');
    let (Some(y), Some(m), Some(day)) = (it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || day.len() != 2 {
        return Err(bad());
    }
    let (y, m, day) = match (y.parse::<i64>(), m.parse::<u32>(), day.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(day))
            if (1..=12).contains(&m) && (1..=calendar::days_in_month(y, m)).contains(&day) =>
        {
            (y, m, day)
        }
        _ => return Err(bad()),
    };
    let days = calendar::days_from_civil(y, m, day);
    if days == 0 {
        return Ok((MIN_TIME_MS, MAX_TIME_MS));
    }
    let start = days * 86_400_000;
    Ok((start, start + 86_400_000 - 1))
}

/// `GET /api/v1/status/tsdb`: cardinality over any time range, counted
/// from the partitions' indexes and the head, in Prometheus's shape and
/// VictoriaMetrics's: `start`/`end` or `date`, `match[]`, `focusLabel`,
/// `topN` (or `limit`). Adds `seriesCountBySource` and `newSeriesByHour`
/// (churn: series first seen in the range, per hour).
pub async fn tsdb(State(state): State<AppState>, params: Params) -> ApiResult {
    let top = top_n(&params)?;
    let (mint, maxt) = time_range(&params)?;
    let query = CardinalityQuery {
        match_sets: params.match_sets()?,
        mint,
        maxt,
        focus_label: params.get("focusLabel").map(str::to_string),
        top,
    };
    let storage = state.storage();
    let max_t = storage.stats().max_t;
    let source_label = storage.source_label().to_string();
    let slot = super::query::admitted(&state).await?;
    let c = blocking(move || {
        let _slot = slot;
        Ok(storage.cardinality_over(&query, &mut |_, _| {}))
    })
    .await?;
    let mut data = render(&c, max_t);
    // The label `seriesCountBySource` counts by (`--source-label`).
    data["sourceLabel"] = json!(source_label);
    Ok(success(data, &[]))
}

/// The status/tsdb `data` object.
fn render(c: &HistoryCardinality, max_t: Option<i64>) -> Value {
    let mut head = json!({
        "numSeries": c.total_series,
        "numLabelPairs": c.distinct_label_value_pairs,
    });
    if let Some(t) = max_t {
        head["maxTime"] = json!(t);
    }
    let skip = c.new_series_by_hour.len().saturating_sub(MAX_CHURN_HOURS);
    let churn: Vec<Value> = c.new_series_by_hour[skip..]
        .iter()
        .map(|(hour, n)| json!({ "hour": format_rfc3339_ms(*hour), "value": n }))
        .collect();
    json!({
        "headStats": head,
        "totalSeries": c.total_series,
        "totalLabelValuePairs": c.total_label_value_pairs,
        "seriesCountByMetricName": pairs(&c.by_metric),
        "seriesCountByLabelName": pairs(&c.by_label_name),
        "seriesCountByFocusLabelValue": pairs(&c.by_focus_label_value),
        "seriesCountByLabelValuePair": pairs(&c.by_label_value_pair),
        "labelValueCountByLabelName": pairs(&c.value_count_by_label_name),
        "memoryInBytesByLabelName": pairs(&c.value_bytes_by_label_name),
        "seriesCountBySource": pairs(&c.by_source),
        "newSeriesByHour": churn,
    })
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
    Ok(success(Value::String(params.expr()?.to_string()), &[]))
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
