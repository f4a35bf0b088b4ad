//! `POST /api/v1/metrics/custom`: a JSON list of metrics, each accepted or
//! refused on its own.
//!
//! Answers `{accepted, rejected, errors: [{index, field, reason}]}` (counts
//! are items; `errors` lists the first [`MAX_ERRORS`] by index and
//! `errors_omitted` counts the rest): 200 when every item was stored, 207
//! when some were, 400 when none were; a body that is not a JSON list is a
//! 400 in Prometheus's error envelope, one with more items than a write
//! request may have series a 413, refused while decoding. Counters may not
//! go backwards within one push.

use crate::api::envelope::ApiError;
use crate::metadata::MetricMetadata;
use crate::push::custom_list::{self, ListError};
use crate::push::custom_model::{self, FieldError, Item};
use crate::push::{Path, now_ms};
use crate::scrape::registry::arrivals::Channel;
use crate::server::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{AppendStats, Labels, Sample, WriteBatch};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Most item errors an answer lists.
pub const MAX_ERRORS: usize = 100;

/// The answer.
#[derive(Debug, Serialize)]
struct IngestionResult {
    accepted: usize,
    rejected: usize,
    /// The first [`MAX_ERRORS`] refusals, by index.
    errors: Vec<ItemError>,
    #[serde(skip_serializing_if = "is_zero")]
    errors_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Item errors, keeping only the [`MAX_ERRORS`] lowest indexes (in any
/// order of arrival) and counting all.
#[derive(Debug, Default)]
struct ItemErrors {
    kept: Vec<ItemError>,
    total: usize,
}

impl ItemErrors {
    fn push(&mut self, e: ItemError) {
        self.total += 1;
        self.kept.push(e);
        if self.kept.len() >= 2 * MAX_ERRORS {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept.sort_by_key(|e| e.index);
        self.kept.truncate(MAX_ERRORS);
    }

    /// The kept errors by index, and how many were left out.
    fn finish(mut self) -> (Vec<ItemError>, usize) {
        self.trim();
        let omitted = self.total - self.kept.len();
        (self.kept, omitted)
    }
}

#[derive(Debug, Serialize)]
struct ItemError {
    index: usize,
    field: String,
    reason: String,
}

pub async fn custom_metrics(
    State(state): State<AppState>,
    super::body::Pusher { caller, res }: super::body::Pusher,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A write token named like a registered BATCH_UPLOAD source reports
    // its health.
    let name = caller.as_ref().map(|c| c.name.as_str());
    let watch = crate::api::arrival::watch(&state, Channel::CustomBatch, name);
    let source = name.unwrap_or("custom").to_string();
    let started = std::time::Instant::now();
    let st = state.clone();
    let task = tokio::task::spawn_blocking(move || {
        let max = state.limits().max_body_bytes;
        match super::body::decode(&headers, body, max, &res) {
            Ok(body) => ingest(&state, caller.as_ref(), &body),
            Err((code, msg)) => {
                state.push().refused(Path::Custom);
                // Prometheus's envelope, with 413/415 where they apply.
                ApiError::bad_data(msg).with_status(code)
            }
        }
    });
    let r = match task.await {
        Ok(r) => r,
        Err(e) => ApiError::internal(format!("push task failed: {e}")).into_response(),
    };
    super::emit_event(&r, crate::events::Method::BatchUpload, &source, started).await;
    crate::api::arrival::observe(&st, watch, r).await
}

fn ingest(state: &AppState, caller: Option<&crate::server::auth::Caller>, body: &[u8]) -> Response {
    let push = state.push();
    let now = now_ms();
    let max = state.limits().max_series_per_request;
    let mut errors = ItemErrors::default();
    let mut good: Vec<(usize, Item)> = Vec::new();
    // Series the good items write (a histogram's buckets one each).
    let mut series = 0usize;
    let mut each = |index: usize, tree: custom_list::ItemTree| {
        let decoded = match tree {
            Some(v) => custom_model::decode(&v, now),
            None => Err(FieldError {
                field: String::new(),
                reason: format!(
                    "item has more than {} JSON values",
                    custom_list::MAX_ITEM_NODES
                ),
            }),
        };
        match decoded {
            Ok(item) => {
                series += item.num_samples();
                good.push((index, item));
            }
            Err(FieldError { field, reason }) => errors.push(ItemError {
                index,
                field,
                reason,
            }),
        }
        series <= max
    };
    if let Err(e) = custom_list::decode(body, max, &mut each) {
        push.refused(Path::Custom);
        let (code, msg) = match e {
            ListError::TooManyItems(_) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            ListError::Stopped => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "body has more than {max} series (each bucket or quantile is one), \
                     the limit per request; nothing was stored"
                ),
            ),
            ListError::NotAList | ListError::Json(_) => (StatusCode::BAD_REQUEST, e.to_string()),
        };
        return ApiError::bad_data(msg).with_status(code);
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
            if let Err(why) = state.metadata().set(&item.name, md) {
                state.refused("metadata", why.reason());
            }
        }
    }
    let samples: u64 = written
        .iter()
        .map(|(_, item)| item.num_samples() as u64)
        .sum();
    let rejected = errors.total;
    push.count(Path::Custom, samples, rejected as u64);
    let (errors, errors_omitted) = errors.finish();
    let result = IngestionResult {
        accepted: written.len(),
        rejected,
        errors,
        errors_omitted,
    };
    let code = match (result.accepted, result.rejected) {
        (_, 0) => StatusCode::OK,
        (0, _) => StatusCode::BAD_REQUEST,
        _ => StatusCode::MULTI_STATUS,
    };
    let mut summary = crate::events::Summary::default();
    for (_, item) in &written {
        summary.count(item.kind.metadata());
    }
    let mut r = (code, Json(result)).into_response();
    r.extensions_mut()
        .insert(crate::api::arrival::Stored(samples));
    r.extensions_mut().insert(summary);
    r
}

/// Within one push, a counter series must not decrease as its timestamps
/// grow; items that would are refused (the earliest stays).
fn refuse_backward_counters(good: &mut Vec<(usize, Item)>, errors: &mut ItemErrors) {
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
    errors: &mut ItemErrors,
) -> Result<(), hourglass_storage::StorageError> {
    let storage = &state.storage();
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
