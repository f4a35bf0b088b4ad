//! `PUT`/`POST`/`DELETE /metrics/job/<job>{/<label>/<value>}`: the
//! Pushgateway's API over the text format 0.0.4 and delimited protobuf
//! (`gateway_body`), so its clients work unchanged.
//!
//! A push is stored as samples stamped at receive time (bodies with
//! timestamps are refused, as the Pushgateway does). PUT replaces the
//! group, POST the families it carries, DELETE the whole group; series a
//! group no longer has get a stale marker. The grouping labels override
//! labels of the same name in the body, and every push also writes
//! `push_time_seconds` for the group. With
//! `--created-timestamp-zero-ingestion` a protobuf metric's created
//! timestamp adds a zero there when it is newer than the series' last
//! sample (as Prometheus scraping the Pushgateway does). Bodies may be gzip- or
//! snappy-compressed. Any Content-Type but protobuf is read as text
//! (curl's form type included), with the Pushgateway's strictness. A push
//! or delete that is refused (parsing, limits or storage) leaves its group
//! as it was. Success: 200 (PUT/POST), 202 (DELETE); 400 for a bad path or
//! body, 413 for an oversized one, 415 for a protobuf type other than
//! delimited `MetricFamily` messages or an unknown encoding.

use super::gateway_body::{self, Format, PUSH_TIME};
use crate::api::envelope::plain;
use crate::ingest::metric_family::series::Value;
use crate::push::Families;
use crate::push::grouping::{self, GroupKey};
use crate::push::groups::{Change, Plan, Replace};
use crate::push::{Path, now_ms};
use crate::scrape::registry::arrivals::Channel;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{
    BorrowedBatch, FloatHistogram, Labels, STALE_NAN_BITS, Sample, SeriesQuota,
};
use std::sync::Arc;

pub async fn pushgateway(
    State(state): State<AppState>,
    super::body::Pusher { caller, res }: super::body::Pusher,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let push = state.push();
    let path = uri.path().strip_prefix("/metrics/").unwrap_or_default();
    let key = match grouping::parse(path) {
        Ok(k) => k,
        Err(e) => {
            push.refused(Path::Pushgateway);
            return plain(StatusCode::BAD_REQUEST, format!("bad grouping key: {e}"));
        }
    };
    let mode = match method {
        Method::PUT => Replace::Group,
        Method::POST => Replace::Families,
        Method::DELETE => {
            return run(state, move |s| {
                let groups = &s.push().groups;
                let stored = groups.apply(&key, now_ms(), Change::Delete, |plan| {
                    store(s, None, Vec::new(), plan)
                });
                answer(stored, StatusCode::ACCEPTED)
            })
            .await;
        }
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "use PUT, POST or DELETE"),
    };
    let job = key
        .iter()
        .find(|(n, _)| n == "job")
        .map(|(_, v)| v.as_str());
    let watch = crate::api::arrival::watch(&state, Channel::Pushgateway, job);
    let source = job.unwrap_or_default().to_string();
    let started = std::time::Instant::now();
    let format = match gateway_body::format(&headers) {
        Ok(f) => f,
        Err(msg) => {
            push.refused(Path::Pushgateway);
            let r = plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg);
            return crate::api::arrival::observe(&state, watch, r).await;
        }
    };
    let st = state.clone();
    let r = run(state, move |s| {
        let max = s.limits().max_body_bytes;
        match super::body::decode(&headers, body, max, &res) {
            Ok(body) => ingest(s, caller.as_ref(), &key, mode, format, &body),
            Err((code, msg)) => {
                s.push().refused(Path::Pushgateway);
                plain(code, msg)
            }
        }
    })
    .await;
    super::emit_event(&r, crate::events::Method::PushGateway, &source, started).await;
    crate::api::arrival::observe(&st, watch, r).await
}

/// Runs `f` off the async workers: parsing and the WAL's fsync block.
async fn run(state: AppState, f: impl FnOnce(&AppState) -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(r) => r,
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("push task failed: {e}"),
        ),
    }
}

fn ingest(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    key: &GroupKey,
    mode: Replace,
    format: Format,
    body: &[u8],
) -> Response {
    let push = state.push();
    let series = match gateway_body::parse(state, key, format, body) {
        Ok(s) => s,
        Err(msg) => {
            push.refused(Path::Pushgateway);
            return plain(StatusCode::BAD_REQUEST, msg);
        }
    };
    // Before the group changes: a refused push leaves it as it was.
    if let Err(limited) = crate::server::auth::charge(state, caller, series.len() + 1) {
        push.refused(Path::Pushgateway);
        return limited.with_retry_after(plain(StatusCode::TOO_MANY_REQUESTS, &limited.message));
    }
    let now = now_ms();
    let mut families = Families::new();
    for p in &series {
        families
            .entry(p.family.clone())
            .or_default()
            .insert(p.labels.clone());
    }
    let time_labels = push_time_labels(key);
    families
        .entry(PUSH_TIME.to_string())
        .or_default()
        .insert(time_labels.clone());
    let pushed = series.len() as u64;
    let created = state.limits().created_timestamp_zero_ingestion;
    let mut samples: Vec<Stamped> = series
        .into_iter()
        .map(|p| {
            let start = p.created_ms.filter(|_| created).unwrap_or(0);
            (p.labels, p.value, start)
        })
        .collect();
    let change = Change::Push(mode, families);
    let stored = push.groups.apply(key, now, change, |plan| {
        samples.push((time_labels, Value::Float(plan.t as f64 / 1000.0), 0));
        store(state, caller.and_then(|c| c.series.as_ref()), samples, plan)
    });
    let mut r = answer(stored, StatusCode::OK);
    r.extensions_mut()
        .insert(crate::api::arrival::Stored(pushed));
    r
}

/// Why storage did not take a push: the status and reason to answer.
type Refusal = (StatusCode, String);

/// A series to store, its value and its start timestamp (ms, `0`: none).
type Stamped = (Labels, Value, i64);

fn answer(stored: Result<(), Refusal>, ok: StatusCode) -> Response {
    match stored {
        Ok(()) => ok.into_response(),
        Err((code, msg)) => plain(code, msg),
    }
}

fn push_time_labels(key: &GroupKey) -> Labels {
    let name = std::iter::once(("__name__", PUSH_TIME));
    Labels::from_pairs(name.chain(key.iter().map(|(n, v)| (n.as_str(), v.as_str()))))
}

/// Appends the push's samples, then (only when storage took them all) the
/// stale markers, at the plan's timestamp; `Err` when anything was
/// refused, so the group is left as it was.
fn store(
    state: &AppState,
    quota: Option<&Arc<SeriesQuota>>,
    samples: Vec<Stamped>,
    plan: &Plan,
) -> Result<(), Refusal> {
    let stale = Value::Float(f64::from_bits(STALE_NAN_BITS));
    append(state, quota, samples, plan.t)?;
    append(
        state,
        quota,
        plan.stale.iter().map(|l| (l.clone(), stale.clone(), 0)),
        plan.t,
    )
}

/// One sample of a batch, as the batch borrows it.
enum Owned {
    Float([Sample; 1]),
    Histogram([(i64, FloatHistogram); 1]),
}

/// Appends `samples` at `t`, new series charged to the caller's quota; the
/// refusal to send when storage failed or refused any.
fn append(
    state: &AppState,
    quota: Option<&Arc<SeriesQuota>>,
    samples: impl IntoIterator<Item = Stamped>,
    t: i64,
) -> Result<(), Refusal> {
    let (mut labels, mut values, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    for (l, v, start) in samples {
        labels.push(l);
        values.push(match v {
            Value::Float(v) => Owned::Float([Sample::new(t, v)]),
            Value::Histogram(h) => Owned::Histogram([(t, h)]),
        });
        starts.push([start]);
    }
    let pairs: Vec<Vec<(&str, &str)>> = labels
        .iter()
        .map(|l| {
            l.iter()
                .map(|l| (l.name.as_ref(), l.value.as_ref()))
                .collect()
        })
        .collect();
    let mut batch = BorrowedBatch::default();
    for ((labels, v), start) in pairs.iter().zip(&values).zip(&starts) {
        let start: &[i64] = if start == &[0] { &[] } else { start };
        match v {
            Owned::Float(s) => batch.push_with_starts(labels, s, start),
            Owned::Histogram(h) => batch.push_histograms_with_starts(labels, h, start),
        }
    }
    if batch.is_empty() {
        return Ok(());
    }
    let stats = match state.storage().append_borrowed_for(&batch, quota) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "pushgateway: storage failed");
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("storage failed, nothing from this push is acknowledged: {e}"),
            ));
        }
    };
    let rejected = stats.rejected.total();
    let push = state.push();
    push.count(
        Path::Pushgateway,
        stats.appended + stats.duplicates,
        rejected,
    );
    if rejected == 0 {
        return Ok(());
    }
    let mut msg = format!(
        "storage refused {rejected} of {} samples ({}); the group is left as it was",
        batch.num_samples(),
        stats.rejected
    );
    if let Some(first) = stats.invalid_series.first() {
        msg.push_str(&format!("; first invalid series: {first}"));
    }
    Err((StatusCode::BAD_REQUEST, msg))
}
