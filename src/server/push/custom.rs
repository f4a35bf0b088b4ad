//! `POST /api/v1/metrics/custom`: a JSON list of metrics, each accepted or
//! refused on its own.
//!
//! Answers `{accepted, rejected, errors: [{index, field, reason}]}` (counts
//! are items): 200 when every item was stored, 207 when some were, 400
//! when none were; a body that is not a JSON list is a 400 in Prometheus's
//! error envelope. Counters may not go backwards within one push.

use super::custom_model::{self, FieldError, Item};
use super::{Path, now_ms};
use crate::api::envelope::ApiError;
use crate::server::AppState;
use crate::server::metadata::MetricMetadata;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{AppendStats, Labels, Sample, WriteBatch};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The answer.
#[derive(Debug, Serialize)]
struct IngestionResult {
    accepted: usize,
    rejected: usize,
    /// The first [`MAX_LISTED_ERRORS`] refusals, by index.
    errors: Vec<ItemError>,
    /// Refusals past those listed.
    #[serde(skip_serializing_if = "is_zero")]
    errors_not_listed: usize,
}

/// Refusals listed in one answer: the rest are only counted, so a body of
/// millions of bad items cannot make an answer larger than itself.
const MAX_LISTED_ERRORS: usize = 100;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
struct ItemError {
    index: usize,
    field: String,
    reason: String,
}

pub async fn custom_metrics(
    State(state): State<AppState>,
    caller: Option<axum::Extension<crate::server::auth::Caller>>,
    axum::Extension(res): axum::Extension<crate::server::inflight::Reservation>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = caller.map(|axum::Extension(c)| c);
    let task = tokio::task::spawn_blocking(move || {
        let max = state.inner.limits.max_body_bytes;
        match super::body::decode(&headers, body, max, &res) {
            Ok(body) => ingest(&state, caller.as_ref(), &body),
            Err((code, msg)) => {
                state.inner.push.refused(Path::Custom);
                // Prometheus's envelope, with 413/415 where they apply.
                let body = serde_json::json!({
                    "status": "error",
                    "errorType": "bad_data",
                    "error": msg,
                });
                (code, Json(body)).into_response()
            }
        }
    });
    match task.await {
        Ok(r) => r,
        Err(e) => ApiError::internal(format!("push task failed: {e}")).into_response(),
    }
}

fn ingest(state: &AppState, caller: Option<&crate::server::auth::Caller>, body: &[u8]) -> Response {
    let push = &state.inner.push;
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(Value::Object(mut o)) if o.get("metrics").is_some_and(Value::is_array) => {
            match o.remove("metrics") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        Ok(_) => {
            push.refused(Path::Custom);
            return ApiError::bad_data("body must be a JSON list of metrics").into_response();
        }
        Err(e) => {
            push.refused(Path::Custom);
            return ApiError::bad_data(format!("invalid JSON: {e}")).into_response();
        }
    };
    let now = now_ms();
    let mut errors: Vec<ItemError> = Vec::new();
    let mut good: Vec<(usize, Item)> = Vec::new();
    for (index, v) in items.iter().enumerate() {
        match custom_model::decode(v, now) {
            Ok(item) => good.push((index, item)),
            Err(FieldError { field, reason }) => errors.push(ItemError {
                index,
                field,
                reason,
            }),
        }
    }
    refuse_backward_counters(&mut good, &mut errors);
    let samples: usize = good.iter().map(|(_, item)| item.num_samples()).sum();
    if let Err(limited) = crate::server::auth::charge(state, caller, samples) {
        push.refused(Path::Custom);
        let body = serde_json::json!({
            "status": "error",
            "errorType": "too_many_requests",
            "error": limited.message,
        });
        return limited
            .with_retry_after((StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response());
    }
    let mut written = good;
    if let Err(e) = append(state, caller, &mut written, &mut errors) {
        tracing::error!(error = %e, "custom metrics: storage failed");
        return ApiError::internal(format!(
            "storage failed, nothing from this request is acknowledged: {e}"
        ))
        .into_response();
    }
    for (_, item) in &written {
        if item.help.is_some() || item.unit.is_some() {
            let md = MetricMetadata {
                kind: item.kind.metadata(),
                help: item.help.clone().unwrap_or_default(),
                unit: item.unit.clone().unwrap_or_default(),
            };
            state.inner.metadata.set(&item.name, md);
        }
    }
    errors.sort_by_key(|e| e.index);
    let samples: u64 = written
        .iter()
        .map(|(_, item)| item.num_samples() as u64)
        .sum();
    push.count(Path::Custom, samples, errors.len() as u64);
    let rejected = errors.len();
    errors.truncate(MAX_LISTED_ERRORS);
    let result = IngestionResult {
        accepted: written.len(),
        rejected,
        errors_not_listed: rejected - errors.len(),
        errors,
    };
    let code = match (result.accepted, result.rejected) {
        (_, 0) => StatusCode::OK,
        (0, _) => StatusCode::BAD_REQUEST,
        _ => StatusCode::MULTI_STATUS,
    };
    (code, Json(result)).into_response()
}

/// Within one push, a counter series must not decrease as its timestamps
/// grow; items that would are refused (the earliest stays).
fn refuse_backward_counters(good: &mut Vec<(usize, Item)>, errors: &mut Vec<ItemError>) {
    let mut by_series: HashMap<Labels, Vec<(i64, usize, f64)>> = HashMap::new();
    for (index, item) in good.iter() {
        if let Some((labels, v)) = item.counter_value() {
            by_series
                .entry(labels)
                .or_default()
                .push((item.t, *index, v));
        }
    }
    let mut refused = HashSet::new();
    for points in by_series.values_mut() {
        points.sort_by_key(|&(t, i, _)| (t, i));
        let mut prev: Option<(i64, f64)> = None;
        for &(t, index, v) in points.iter() {
            match prev {
                Some((pt, pv)) if v < pv => {
                    refused.insert(index);
                    errors.push(ItemError {
                        index,
                        field: "value".into(),
                        reason: format!(
                            "counter went backwards: {v} at {t} ms is below {pv} at {pt} ms in the same push"
                        ),
                    });
                }
                _ => prev = Some((t, v)),
            }
        }
    }
    good.retain(|(i, _)| !refused.contains(i));
}

fn add(batch: &mut WriteBatch, item: &Item) {
    for (labels, v) in item.series() {
        batch.push(labels, vec![Sample::new(item.t, v)]);
    }
}

/// Appends everything in one batch; when storage refuses some samples,
/// replays item by item to tell which (what was stored comes back as
/// exact duplicates, which storage accepts).
fn append(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    written: &mut Vec<(usize, Item)>,
    errors: &mut Vec<ItemError>,
) -> Result<(), hourglass_storage::StorageError> {
    let storage = &state.inner.storage;
    let quota = caller.and_then(|c| c.series.as_ref());
    let mut all = WriteBatch::new();
    for (_, item) in written.iter() {
        add(&mut all, item);
    }
    if all.is_empty() || storage.append_for(&all, quota)?.rejected.total() == 0 {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(written.len());
    for (index, item) in written.drain(..) {
        let mut one = WriteBatch::new();
        add(&mut one, &item);
        let stats = storage.append_for(&one, quota)?;
        if stats.rejected.total() == 0 {
            kept.push((index, item));
        } else {
            errors.push(ItemError {
                index,
                field: String::new(),
                reason: storage_reason(&stats),
            });
        }
    }
    *written = kept;
    Ok(())
}

fn storage_reason(stats: &AppendStats) -> String {
    let r = &stats.rejected;
    if let Some(first) = stats.invalid_series.first() {
        return first.to_string();
    }
    if r.out_of_window > 0 {
        "timestamp is too old: outside the out-of-order window".into()
    } else if r.past_retention > 0 {
        "timestamp is older than the retention".into()
    } else if r.duplicate_conflict > 0 {
        "a different value is already stored at this timestamp".into()
    } else if r.too_far_in_future > 0 {
        "timestamp is too far in the future (past the wall clock plus the future grace)".into()
    } else if r.active_series_limit > 0 {
        "new series refused: the active series limit is reached".into()
    } else if r.new_series_rate_limit > 0 {
        "new series refused: the new series per minute limit is reached".into()
    } else {
        "refused by storage".into()
    }
}
