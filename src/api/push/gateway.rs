//! `PUT`/`POST`/`DELETE /metrics/job/<job>{/<label>/<value>}`: the
//! Pushgateway's API over the text format 0.0.4, so its clients work
//! unchanged.
//!
//! A push is stored as samples stamped at receive time (bodies with
//! timestamps are refused, as the Pushgateway does). PUT replaces the
//! group, POST the families it carries, DELETE the whole group; series a
//! group no longer has get a stale marker. The grouping labels override
//! labels of the same name in the body, and every push also writes
//! `push_time_seconds` for the group. Bodies may be gzip- or
//! snappy-compressed. Any Content-Type but the Pushgateway's protobuf one
//! is read as text (curl's form type included), with the Pushgateway's
//! strictness. A push or delete that is refused (parsing, limits or
//! storage) leaves its group as it was. Success: 200 (PUT/POST), 202
//! (DELETE); 400 for a bad path or body, 413 for an oversized one, 415 for
//! protobuf or an unknown encoding.

use crate::api::envelope::plain;
use crate::ingest::text::{self, Entry, MetricKind};
use crate::metadata::MetricMetadata;
use crate::push::Families;
use crate::push::grouping::{self, GroupKey};
use crate::push::groups::{Change, Plan, Replace};
use crate::push::{Path, now_ms};
use crate::scrape::registry::arrivals::Channel;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{Labels, STALE_NAN_BITS, Sample, SeriesQuota, WriteBatch};
use std::collections::HashSet;
use std::sync::Arc;

const PUSH_TIME: &str = "push_time_seconds";

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
    if let Err(msg) = check_headers(&headers) {
        push.refused(Path::Pushgateway);
        let r = plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg);
        return crate::api::arrival::observe(&state, watch, r).await;
    }
    let st = state.clone();
    let r = run(state, move |s| {
        let max = s.limits().max_body_bytes;
        match super::body::decode(&headers, body, max, &res) {
            Ok(body) => ingest(s, caller.as_ref(), &key, mode, &body),
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

/// The Pushgateway reads every body that is not its delimited protobuf
/// type as text (curl's default form type included); protobuf bodies are
/// not supported here.
fn check_headers(h: &HeaderMap) -> Result<(), String> {
    if let Some(ct) = h.get(header::CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes());
        let media = ct.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
            return Err(format!(
                "unsupported Content-Type {ct:?}: protobuf pushes are not supported; \
                 send the text format 0.0.4 (text/plain; version=0.0.4)"
            ));
        }
    }
    Ok(())
}

/// One parsed series of a push.
struct Pushed {
    family: String,
    labels: Labels,
    value: f64,
}

fn ingest(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    key: &GroupKey,
    mode: Replace,
    body: &[u8],
) -> Response {
    let push = state.push();
    let series = match parse_body(state, key, body) {
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
    let mut samples: Vec<(Labels, f64)> = series.into_iter().map(|p| (p.labels, p.value)).collect();
    let change = Change::Push(mode, families);
    let stored = push.groups.apply(key, now, change, |plan| {
        samples.push((time_labels, plan.t as f64 / 1000.0));
        store(state, caller.and_then(|c| c.series.as_ref()), samples, plan)
    });
    let mut r = answer(stored, StatusCode::OK);
    r.extensions_mut()
        .insert(crate::api::arrival::Stored(pushed));
    r
}

/// Why storage did not take a push: the status and reason to answer.
type Refusal = (StatusCode, String);

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

/// Parses the body (strictly, as the Pushgateway does) into series with the
/// grouping labels applied; refuses timestamps, series that appear twice
/// and more series than a write request may have.
fn parse_body(state: &AppState, key: &GroupKey, body: &[u8]) -> Result<Vec<Pushed>, String> {
    let bad = |e: text::ParseError| format!("text format parsing error: {e}");
    let max = state.limits().max_series_per_request;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut helps: Vec<(String, String)> = Vec::new();
    let mut kinds: Vec<(String, MetricKind)> = Vec::new();
    let mut parser = text::parse_strict_bytes(body).map_err(bad)?;
    while let Some(entry) = parser.next() {
        match entry.map_err(bad)? {
            Entry::Help { family, text } => helps.push((family.into_owned(), text.into_owned())),
            Entry::Type { family, kind } => kinds.push((family.into_owned(), kind)),
            Entry::Sample(s) => {
                if s.timestamp_ms.is_some() {
                    return Err(format!(
                        "line {}: sample {} has a timestamp; pushed samples are stamped at \
                         receive time, so timestamps are refused (as the Pushgateway does)",
                        parser.line(),
                        s.name,
                    ));
                }
                if s.name == PUSH_TIME {
                    return Err(format!(
                        "line {}: {PUSH_TIME} is written by the server for each push",
                        parser.line()
                    ));
                }
                let body_labels = s
                    .labels
                    .iter()
                    .filter(|(name, _)| !key.iter().any(|(k, _)| k == name))
                    .map(|(n, v)| (n.as_ref(), v.as_ref()));
                let grouping = key.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                let labels = Labels::from_pairs(
                    std::iter::once(("__name__", s.name.as_ref()))
                        .chain(body_labels)
                        .chain(grouping),
                );
                if !seen.insert(labels.clone()) {
                    return Err(format!(
                        "line {}: series {labels} appears twice in the push",
                        parser.line()
                    ));
                }
                if out.len() >= max {
                    return Err(format!(
                        "line {}: push has more than {max} series, the limit per request",
                        parser.line()
                    ));
                }
                out.push(Pushed {
                    family: s.family.into_owned(),
                    labels,
                    value: s.value,
                });
            }
        }
    }
    record_metadata(state, helps, kinds);
    Ok(out)
}

fn record_metadata(
    state: &AppState,
    helps: Vec<(String, String)>,
    kinds: Vec<(String, MetricKind)>,
) {
    let mut families: Vec<&str> = helps
        .iter()
        .map(|(f, _)| f.as_str())
        .chain(kinds.iter().map(|(f, _)| f.as_str()))
        .collect();
    families.sort_unstable();
    families.dedup();
    for family in families {
        let kind =
            kinds
                .iter()
                .rev()
                .find(|(f, _)| f == family)
                .map_or("unknown", |(_, k)| match k {
                    MetricKind::Untyped => "unknown",
                    k => k.as_str(),
                });
        let help = helps
            .iter()
            .rev()
            .find(|(f, _)| f == family)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        let md = MetricMetadata {
            kind,
            help,
            unit: String::new(),
        };
        if let Err(why) = state.metadata().set(family, md) {
            state.refused("metadata", why.reason());
        }
    }
}

/// Appends the push's samples, then (only when storage took them all) the
/// stale markers, at the plan's timestamp; `Err` when anything was
/// refused, so the group is left as it was.
fn store(
    state: &AppState,
    quota: Option<&Arc<SeriesQuota>>,
    samples: Vec<(Labels, f64)>,
    plan: &Plan,
) -> Result<(), Refusal> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    append(state, quota, samples, plan.t)?;
    append(
        state,
        quota,
        plan.stale.iter().map(|l| (l.clone(), stale)),
        plan.t,
    )
}

/// Appends `samples` at `t`, new series charged to the caller's quota; the
/// refusal to send when storage failed or refused any.
fn append(
    state: &AppState,
    quota: Option<&Arc<SeriesQuota>>,
    samples: impl IntoIterator<Item = (Labels, f64)>,
    t: i64,
) -> Result<(), Refusal> {
    let mut batch = WriteBatch::new();
    for (labels, v) in samples {
        batch.push(labels, vec![Sample::new(t, v)]);
    }
    if batch.is_empty() {
        return Ok(());
    }
    let stats = match state.storage().append_for(&batch, quota) {
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
