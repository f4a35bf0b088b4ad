//! `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0, told apart
//! by `Content-Type` (`proto=io.prometheus.write.v2.Request` for 2.0).
//!
//! Status codes follow the spec's retry contract: 204 when everything was
//! stored; 400 for data that will never be accepted (the valid series of
//! the same request are stored all the same); 413 for an oversized body;
//! 415 for a content type or encoding we do not speak; 500 only for our own
//! failures, which the sender retries.

use crate::api::envelope::plain;
use crate::ingest::remote_write::{self, Bounds, DecodeError, SnappyError, v1, v2};
use crate::metadata::MetricMetadata;
use crate::scrape::registry::arrivals::Channel;
use crate::server::AppState;
use crate::server::inflight::Reservation;
use crate::server::request_body::over_budget;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{AppendStats, BorrowedBatch, KnownSeries, Labels, Sample, SentKey};
use std::fmt::Write as _;

const V1_PROTO: &str = "prometheus.WriteRequest";
const V2_PROTO: &str = "io.prometheus.write.v2.Request";

/// Which message the body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    V1,
    V2,
}

pub async fn remote_write(
    State(state): State<AppState>,
    caller: Option<axum::Extension<crate::server::auth::Caller>>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    res: axum::Extension<Reservation>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    // A write token named like a registered STREAMING source reports its
    // health.
    let name = caller.as_ref().map(|axum::Extension(c)| c.name.clone());
    let watch = crate::api::arrival::watch(&state, Channel::RemoteWrite, name.as_deref());
    let response = write(state.clone(), caller, res, headers, body).await;
    if crate::events::emit::enabled() {
        // One event per sender per second: the token's name, else the
        // remote address.
        let sender =
            name.unwrap_or_else(|| peer.map_or_else(String::new, |p| p.0.0.ip().to_string()));
        let stored = response
            .extensions()
            .get::<crate::api::arrival::Stored>()
            .map_or(0, |s| s.0);
        crate::events::streaming::note(
            &sender,
            stored,
            started.elapsed(),
            !response.status().is_success(),
            crate::events::Summary::default(),
        );
    }
    crate::api::arrival::observe(&state, watch, response).await
}

async fn write(
    state: AppState,
    caller: Option<axum::Extension<crate::server::auth::Caller>>,
    axum::Extension(res): axum::Extension<Reservation>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let proto = match check_headers(&headers) {
        Ok(p) => p,
        Err((code, msg)) => return plain(code, msg),
    };
    let max = state.limits().max_body_bytes;
    // The decompressed body is reserved before it is allocated.
    match remote_write::decompressed_len(&body) {
        Ok(len) if len <= max => {
            if let Err(e) = res.add(len) {
                return over_budget(&state, &e.to_string());
            }
        }
        Ok(len) => {
            let e = SnappyError::TooLarge { len, max };
            return plain(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    }
    // Decompressing, decoding and appending (which waits for the WAL's
    // fsync) stay off the async worker threads; each blocking thread keeps
    // its decompression buffer from request to request.
    let caller = caller.map(|axum::Extension(c)| c);
    match tokio::task::spawn_blocking(move || {
        thread_local! {
            static RAW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            static BUFS: std::cell::RefCell<v1::DecodeBuffers> = std::cell::RefCell::default();
        }
        RAW.with(|raw| {
            let mut raw = raw.borrow_mut();
            let mut bufs = BUFS.with(|b| b.take());
            match remote_write::decompress_into(&body, max, &mut raw) {
                Ok(()) => {}
                Err(e @ SnappyError::TooLarge { .. }) => {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
                }
                Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
            }
            let ctx = Ctx {
                state: &state,
                caller: caller.as_ref(),
                res: &res,
            };
            let response = match proto {
                Proto::V1 => ingest_v1(&ctx, &raw, &mut bufs),
                Proto::V2 => ingest_v2(&ctx, &raw, &mut bufs),
            };
            BUFS.with(|b| b.replace(bufs));
            // A one-off huge body should not pin its memory in every thread.
            if raw.capacity() > 4 << 20 {
                *raw = Vec::new();
            }
            response
        })
    })
    .await
    {
        Ok(response) => response,
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("write task failed: {e}"),
        ),
    }
}

fn check_headers(h: &HeaderMap) -> Result<Proto, (StatusCode, String)> {
    let mut proto = Proto::V1;
    if let Some(ct) = h.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default();
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/x-protobuf") {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported Content-Type {ct:?}: remote write sends application/x-protobuf"
                ),
            ));
        }
        for p in parts {
            match p.strip_prefix("proto=") {
                None | Some(V1_PROTO) => {}
                Some(V2_PROTO) => proto = Proto::V2,
                Some(other) => {
                    return Err((
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!(
                            "unsupported protobuf message {other:?}; send {V1_PROTO} or {V2_PROTO}"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(enc) = h.get(header::CONTENT_ENCODING)
        && !enc.as_bytes().eq_ignore_ascii_case(b"snappy")
    {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Encoding {:?}: remote write bodies are snappy block-compressed",
                String::from_utf8_lossy(enc.as_bytes())
            ),
        ));
    }
    Ok(proto)
}

/// Enforces the request's series limit and the caller's samples/s budget:
/// the refusal to send, if any.
fn refusal(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    req: &v1::WriteRequest<'_>,
) -> Option<Response> {
    let max = state.limits().max_series_per_request;
    if req.series.len() > max {
        state.refused("limit", "series_per_request");
        return Some(plain(
            StatusCode::BAD_REQUEST,
            format!(
                "request has {} series, over the limit of {max}",
                req.series.len()
            ),
        ));
    }
    match crate::server::auth::charge(state, caller, req.samples.len()) {
        Ok(()) => None,
        Err(limited) => {
            Some(limited.with_retry_after(plain(StatusCode::TOO_MANY_REQUESTS, &limited.message)))
        }
    }
}

/// One request's context for decoding and storing.
struct Ctx<'c> {
    state: &'c AppState,
    caller: Option<&'c crate::server::auth::Caller>,
    res: &'c Reservation,
}

impl Ctx<'_> {
    /// Decodes within the series limit, reserving what the decoded request
    /// holds from the in-flight budget.
    fn decode<'a, T>(
        &self,
        raw: &'a [u8],
        req: v1::WriteRequest<'a>,
        f: fn(&'a [u8], v1::WriteRequest<'a>, &mut Bounds<'_>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut allow = |n: usize| self.res.add(n).is_ok();
        let max_series = self.state.limits().max_series_per_request;
        f(raw, req, &mut Bounds::new(max_series, &mut allow))
    }

    /// The series storage knows by the keys of `req`'s float series (one
    /// per series), after which the labels of the others are decoded: a
    /// series sent before is stored without its labels being read.
    fn known_series<'a>(
        &self,
        raw: &'a [u8],
        req: &mut v1::WriteRequest<'a>,
    ) -> Result<Vec<Option<KnownSeries>>, DecodeError> {
        let keys: Vec<Option<SentKey>> = req
            .series
            .iter()
            .map(|ts| {
                ts.sent_key
                    .filter(|_| ts.histograms == 0 && !ts.samples.is_empty())
            })
            .collect();
        let mut allow = |n: usize| self.res.add(n).is_ok();
        let mut bounds = Bounds::new(self.state.limits().max_series_per_request, &mut allow);
        // The keys and what storage finds for them, one each a series.
        let each =
            std::mem::size_of::<Option<SentKey>>() + std::mem::size_of::<Option<KnownSeries>>();
        bounds.hold(keys.capacity() * each)?;
        let known = self.state.storage().find_sent(&keys);
        for (i, k) in known.iter().enumerate() {
            if k.is_none() {
                req.decode_labels(i, raw, &mut bounds)?;
            }
        }
        Ok(known)
    }

    /// The answer to a request that did not decode (`what` names the
    /// message).
    fn refuse(&self, what: &str, e: DecodeError) -> Response {
        match e {
            DecodeError::Wire(e) => plain(
                StatusCode::BAD_REQUEST,
                format!("cannot decode {what}: {e}"),
            ),
            e @ DecodeError::TooManySeries { .. } => {
                self.state.refused("limit", "series_per_request");
                plain(StatusCode::BAD_REQUEST, e.to_string())
            }
            e @ DecodeError::OverBudget { .. } => over_budget(self.state, &e.to_string()),
        }
    }
}

fn ingest_v1(ctx: &Ctx<'_>, raw: &[u8], bufs: &mut v1::DecodeBuffers) -> Response {
    let (state, caller) = (ctx.state, ctx.caller);
    match ctx.decode(raw, bufs.take(), v1::decode_deferring) {
        Ok(mut req) => {
            let response = match refusal(state, caller, &req) {
                Some(r) => r,
                None => match ctx.known_series(raw, &mut req) {
                    Err(e) => ctx.refuse("WriteRequest", e),
                    Ok(known) => match store(state, caller, &req, None, known) {
                        Ok((stats, bad)) => answer(&stats, &bad),
                        Err(e) => storage_failed(&e),
                    },
                },
            };
            bufs.give_back(req);
            response
        }
        Err(e) => ctx.refuse("WriteRequest", e),
    }
}

/// 2.0 also reports what was written in headers, whatever the status.
fn ingest_v2(ctx: &Ctx<'_>, raw: &[u8], bufs: &mut v1::DecodeBuffers) -> Response {
    let (state, caller) = (ctx.state, ctx.caller);
    let decoded = match ctx.decode(raw, bufs.take(), v2::decode_bounded) {
        Ok(r) => r,
        Err(e) => return with_written(ctx.refuse(V2_PROTO, e), 0, 0),
    };
    let response = match refusal(state, caller, &decoded.req) {
        Some(r) => with_written(r, 0, 0),
        None => store_v2(state, caller, &decoded),
    };
    bufs.give_back(decoded.req);
    response
}

fn store_v2(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    decoded: &v2::Request<'_>,
) -> Response {
    // A start ("created") timestamp marks where a counter began: with
    // --created-timestamp-zero-ingestion storage stores a zero there when
    // it is newer than the series' last sample (as Prometheus's
    // created-timestamp zero ingestion does), so rate() sees the whole
    // first increase and nothing lands between samples.
    // Without it, float samples' start timestamps are stored as they are
    // (storage's start-timestamp companions) for rate() and friends to
    // read; histograms' are not used.
    let zeros = state.limits().created_timestamp_zero_ingestion;
    let starts = if zeros {
        Starts {
            samples: &decoded.start_timestamps,
            histograms: &decoded.histogram_starts,
            kept: false,
        }
    } else {
        Starts {
            samples: &decoded.start_timestamps,
            histograms: &[],
            kept: true,
        }
    };
    match store(state, caller, &decoded.req, Some(starts), Vec::new()) {
        Ok((stats, bad)) => with_written(
            answer(&stats, &bad),
            stats.appended + stats.duplicates - stats.histograms,
            stats.histograms,
        ),
        Err(e) => with_written(storage_failed(&e), 0, 0),
    }
}

/// Our own failure: 500, so the sender retries.
fn storage_failed(e: &hourglass_storage::StorageError) -> Response {
    tracing::error!(error = %e, "remote write: storage failed");
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("storage failed, nothing from this request is acknowledged: {e}"),
    )
}

fn with_written(mut r: Response, samples: u64, histograms: u64) -> Response {
    let h = r.headers_mut();
    h.insert("X-Prometheus-Remote-Write-Samples-Written", samples.into());
    h.insert(
        "X-Prometheus-Remote-Write-Histograms-Written",
        histograms.into(),
    );
    h.insert("X-Prometheus-Remote-Write-Exemplars-Written", 0u64.into());
    r
}

/// Remote write 2.0 start timestamps, parallel to a request's samples and
/// histograms (empty: none used).
#[derive(Debug, Clone, Copy, Default)]
struct Starts<'s> {
    samples: &'s [i64],
    histograms: &'s [i64],
    /// Float samples' start timestamps are kept as such rather than
    /// turned into zero samples.
    kept: bool,
}

/// Stores a decoded request, new series charged to the caller's series
/// quota (`starts`: 2.0 start timestamps; `known`: the series storage
/// found for `req`'s, or none); returns what storage did and the invalid
/// histograms.
fn store(
    state: &AppState,
    caller: Option<&crate::server::auth::Caller>,
    req: &v1::WriteRequest<'_>,
    starts: Option<Starts<'_>>,
    mut known: Vec<Option<KnownSeries>>,
) -> Result<(AppendStats, BadHistograms), hourglass_storage::StorageError> {
    for md in &req.metadata {
        if !md.family.is_empty() {
            let kept = state.metadata().set(
                md.family,
                MetricMetadata {
                    kind: md.kind.as_str(),
                    help: md.help.to_string(),
                    unit: md.unit.to_string(),
                },
            );
            if let Err(why) = kept {
                state.refused("metadata", why.reason());
            }
        }
    }
    // 2.0 metadata is per series: with type-and-unit labels on, each
    // series carries its family's type and unit.
    let typed: Vec<Option<Vec<(&str, &str)>>> =
        if starts.is_some() && state.limits().type_and_unit_labels {
            type_and_unit(req)
        } else {
            Vec::new()
        };
    let mut batch = BorrowedBatch::default();
    batch.series.reserve(req.series.len());
    // The found series, one per series of `batch`.
    let mut batch_known: Vec<Option<KnownSeries>> = Vec::new();
    let mut kept = Vec::new();
    let mut h_at = 0usize;
    for (i, (ts, histograms)) in req.series_with_histograms().enumerate() {
        let samples = req.samples_of(ts);
        let h_starts = starts
            .and_then(|st| st.histograms.get(h_at..h_at + histograms.len()))
            .unwrap_or_default();
        h_at += histograms.len();
        let mut sample_starts = starts
            .and_then(|st| st.samples.get(ts.samples.clone()))
            .unwrap_or_default();
        // The key names the labels as sent, so not those typed here.
        let (labels, key) = match typed.get(i) {
            Some(Some(l)) => (l.as_slice(), None),
            _ => (req.labels_of(ts), ts.sent_key),
        };
        if starts.is_some_and(|st| st.kept) {
            if let Some(pairs) = kept_starts(samples, sample_starts) {
                kept.push((Labels::from_pairs(labels.iter().copied()), pairs));
            }
            sample_starts = &[];
        }
        if !samples.is_empty() {
            batch.push_with_starts(labels, samples, sample_starts);
            if let Some(s) = batch.series.last_mut() {
                s.sent_key = key;
            }
            if !known.is_empty() {
                batch_known.resize(batch.series.len() - 1, None);
                batch_known.push(known.get_mut(i).and_then(Option::take));
            }
        }
        if !histograms.is_empty() {
            batch.push_histograms_with_starts(labels, histograms, h_starts);
        }
    }
    let bad = BadHistograms::of(req);
    let stats = if batch.is_empty() {
        AppendStats::default()
    } else {
        let quota = caller.and_then(|c| c.series.as_ref());
        let stats = state.storage().append_known(&batch, &batch_known, quota)?;
        // After their samples: a start timestamp whose sample was refused
        // is never read. Companions are not charged to the writer's quota
        // (it never sees them), only to the server's series limit.
        let st = state.storage().append_start_times(&kept, None)?;
        if st.rejected.total() > 0 {
            tracing::debug!(
                rejected = st.rejected.total(),
                "remote write: start timestamps refused"
            );
        }
        stats
    };
    state
        .collection()
        .remote_write(stats.appended + stats.duplicates);
    Ok((stats, bad))
}

/// The `(t, st)` pairs of samples with a usable start timestamp, if any.
fn kept_starts(samples: &[Sample], starts: &[i64]) -> Option<Vec<(i64, i64)>> {
    let pairs: Vec<(i64, i64)> = samples
        .iter()
        .zip(starts)
        .filter(|(s, st)| hourglass_storage::valid_start(**st, s.t))
        .map(|(s, st)| (s.t, *st))
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// Native histograms a request carried that failed validation.
#[derive(Debug, Default)]
struct BadHistograms {
    count: u64,
    /// The first one: its series and the reason.
    first: Option<String>,
}

impl BadHistograms {
    fn of(req: &v1::WriteRequest<'_>) -> Self {
        let first = req.invalid_histograms.first().map(|(i, e)| {
            let labels = req
                .series
                .get(*i)
                .map(|ts| hourglass_storage::Labels::from_pairs(req.labels_of(ts).iter().copied()))
                .unwrap_or_default();
            format!("series {labels}: {e}")
        });
        BadHistograms {
            count: req.invalid_histogram_count,
            first,
        }
    }
}

/// Each series' labels with its family's `__type__` and `__unit__`
/// (`None` when its family sent no metadata).
fn type_and_unit<'a>(req: &'a v1::WriteRequest<'a>) -> Vec<Option<Vec<(&'a str, &'a str)>>> {
    let families: std::collections::HashMap<&str, (&str, &str)> = req
        .metadata
        .iter()
        .map(|md| (md.family, (md.kind.as_str(), md.unit)))
        .collect();
    req.series
        .iter()
        .map(|ts| {
            let labels = req.labels_of(ts);
            let name = labels.iter().find(|(n, _)| *n == "__name__")?.1;
            let (kind, unit) = families.get(name)?;
            Some(crate::ingest::type_unit::labelled(labels, kind, unit))
        })
        .collect()
}

/// 204 when everything was stored; 429 (with `Retry-After`) when the only
/// refusals are new series over the per-minute budget, since sending the
/// same request again once the minute turns stores them (what was stored
/// comes back as exact duplicates, accepted silently); else 400 saying
/// what was refused.
fn answer(stats: &AppendStats, bad: &BadHistograms) -> Response {
    if stats.rejected.total() == 0 && bad.count == 0 {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.extensions_mut().insert(crate::api::arrival::Stored(
            stats.appended + stats.duplicates,
        ));
        return r;
    }
    let msg = refusal_message(stats, bad);
    tracing::debug!(%msg, "remote write: samples refused");
    if bad.count == 0 && stats.rejected.only_rate_limited() {
        let mut r = plain(StatusCode::TOO_MANY_REQUESTS, msg);
        r.headers_mut()
            .insert(header::RETRY_AFTER, seconds_to_next_minute().into());
        return r;
    }
    plain(StatusCode::BAD_REQUEST, msg)
}

/// Whole seconds until the new-series budget's minute turns (at least 1).
fn seconds_to_next_minute() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    60 - now % 60
}

/// Says what was stored, what was refused and why, naming the first series
/// that failed validation.
fn refusal_message(stats: &AppendStats, bad: &BadHistograms) -> String {
    let r = &stats.rejected;
    let mut msg = format!(
        "stored {} samples, refused {}: {r}",
        stats.appended,
        r.total() + bad.count,
    );
    if bad.count > 0 {
        let _ = write!(msg, " invalid_native_histogram={}", bad.count);
    }
    if let Some(first) = &bad.first {
        let _ = write!(msg, "; first invalid histogram: {first}");
    }
    if let Some(first) = stats.invalid_series.first() {
        let _ = write!(msg, "; first invalid series: {first}");
    }
    msg
}
