//! `POST /api/v1/read`: Prometheus remote read. A snappy `ReadRequest` in;
//! out, the client's first accepted response type: `SAMPLES` (one snappy
//! `ReadResponse`) or `STREAMED_XOR_CHUNKS` (CRC-checked frames of
//! Prometheus XOR chunks, streamed as they are encoded).
//!
//! Limits: a `SAMPLES` answer holds at most the engine's
//! `--query-max-samples` samples (400 past it, as Prometheus's
//! `--storage.remote.read-sample-limit`) and draws them from the query
//! memory budget (503 when it is spent); a streamed answer holds one frame
//! of at most [`MAX_FRAME_BYTES`] at a time (plus a few queued for the
//! connection). Both wait for a query slot.

use super::labels::deadline;
use crate::remote_read::request::{self, Query, ResponseType};
use crate::remote_read::response::{self, QueryResult, Streamer};
use crate::server::AppState;
use crate::server::inflight::Reservation;
use crate::server::request_body::over_budget;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{Querier, Sample, Series, Storage};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Largest frame of a streamed answer, as Prometheus's
/// `--storage.remote.read-max-bytes-in-frame` default.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Frames queued for a slow connection before encoding waits.
const QUEUED_FRAMES: usize = 4;

fn plain(code: StatusCode, msg: impl std::fmt::Display) -> Response {
    (code, format!("{msg}\n")).into_response()
}

pub async fn remote_read(
    State(state): State<AppState>,
    axum::Extension(res): axum::Extension<Reservation>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let media = ct.to_str().unwrap_or_default().split(';').next();
        if !media.is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-protobuf")) {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported Content-Type {ct:?}: remote read sends application/x-protobuf"
                ),
            );
        }
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING)
        && !enc.as_bytes().eq_ignore_ascii_case(b"snappy")
    {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Encoding {enc:?}: remote read bodies are snappy block-compressed"
            ),
        );
    }
    let max = state.limits().max_body_bytes;
    let raw = match crate::ingest::remote_write::decompressed_len(&body) {
        Ok(len) if len <= max => {
            if let Err(e) = res.add(len) {
                return over_budget(&state, &e.to_string());
            }
            match crate::ingest::remote_write::decompress(&body, max) {
                Ok(raw) => raw,
                Err(e) => return plain(StatusCode::BAD_REQUEST, e),
            }
        }
        Ok(len) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request decompresses to {len} bytes, over the limit of {max}"),
            );
        }
        Err(e) => return plain(StatusCode::BAD_REQUEST, e),
    };
    let req = match request::decode(&raw) {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e),
    };
    let slot = match super::query::admitted(&state).await {
        Ok(s) => s,
        Err(e) => return plain(StatusCode::SERVICE_UNAVAILABLE, e.message),
    };
    let until = deadline(&state);
    match req.response_type() {
        ResponseType::Samples => {
            let task = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                samples(&state, &req.queries, until)
            });
            match task.await {
                Ok(r) => r,
                Err(e) => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("read task failed: {e}"),
                ),
            }
        }
        ResponseType::StreamedXorChunks => {
            let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_FRAMES);
            let storage = state.storage();
            tokio::task::spawn_blocking(move || {
                let _slot = slot;
                let mut emit = |frame: Vec<u8>| tx.blocking_send(frame).is_ok();
                if let Err(e) = stream(&storage, &req.queries, until, &mut emit) {
                    // The status is sent: ending the stream early is all
                    // that is left; the client sees a short read.
                    tracing::warn!(error = %e, "remote read: stream ended early");
                }
            });
            let mut r = Body::new(FrameBody(rx)).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse",
                ),
            );
            // Frames are compressed already; keep the compression layer off.
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static("identity"),
            );
            r
        }
    }
}

/// The range a query reads: its own, narrowed by its hints' range when
/// they give one.
fn range(q: &Query) -> (i64, i64) {
    match &q.hints {
        Some(h) if h.start_ms != 0 || h.end_ms != 0 => {
            let end = if h.end_ms != 0 {
                h.end_ms.min(q.end_ms)
            } else {
                q.end_ms
            };
            (h.start_ms.max(q.start_ms), end)
        }
        _ => (q.start_ms, q.end_ms),
    }
}

/// Whether the client asks for series labels only (`func = "series"`).
fn labels_only(q: &Query) -> bool {
    q.hints.as_ref().is_some_and(|h| h.func == "series")
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("storage: {0}")]
    Storage(#[from] hourglass_storage::StorageError),
    #[error("series {labels}: {reason}")]
    Chunk { labels: String, reason: String },
    #[error("remote read timed out")]
    Timeout,
}

fn select(storage: &Storage, q: &Query) -> Result<Vec<Series>, ReadError> {
    let (mint, maxt) = range(q);
    if mint > maxt {
        return Ok(Vec::new());
    }
    Ok(storage
        .querier(mint, maxt)
        .select(&q.matchers, mint, maxt)?
        .collect())
}

fn read_samples(s: &mut Series, out: &mut Vec<Sample>) -> Result<(), ReadError> {
    out.clear();
    s.samples.read_into(out);
    match s.samples.error() {
        None => Ok(()),
        Some(e) => Err(ReadError::Chunk {
            labels: format!("{:?}", s.labels),
            reason: e.to_string(),
        }),
    }
}

fn samples(state: &AppState, queries: &[Query], until: Instant) -> Response {
    let storage = state.storage();
    let limit = state.engine().options().max_samples;
    let mut selected = Vec::with_capacity(queries.len());
    let mut total = 0usize;
    for q in queries {
        let series = match select(&storage, q) {
            Ok(s) => s,
            Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
        if !labels_only(q) {
            total = series
                .iter()
                .map(|s| s.samples.upper_bound())
                .fold(total, usize::saturating_add);
        }
        if total > limit {
            return plain(
                StatusCode::BAD_REQUEST,
                format!(
                    "exceeded sample limit ({limit}): the queries select up to {total} samples; narrow the matchers or the time range"
                ),
            );
        }
        selected.push(series);
    }
    let Some(_held) = state.engine().admission().memory().reserve(total) else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the query memory budget cannot hold {total} more samples now; retry later"),
        );
    };
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for (q, series) in queries.iter().zip(selected) {
        let mut result = QueryResult::default();
        for mut s in series {
            if Instant::now() > until {
                return plain(StatusCode::SERVICE_UNAVAILABLE, ReadError::Timeout);
            }
            if labels_only(q) {
                buf.clear();
            } else if let Err(e) = read_samples(&mut s, &mut buf) {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, e);
            }
            result.series(&s.labels, &buf);
        }
        response::put_result(&mut out, &result);
    }
    let body = crate::ingest::remote_write::compress(&out);
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    r
}

/// Encodes every query's series as frames, handing each to `emit`; stops
/// early (without error) when `emit` says the client went away.
fn stream(
    storage: &Storage,
    queries: &[Query],
    until: Instant,
    emit: &mut impl FnMut(Vec<u8>) -> bool,
) -> Result<(), ReadError> {
    let mut buf = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let mut streamer = Streamer::new(i as i64, MAX_FRAME_BYTES);
        for mut s in select(storage, q)? {
            if Instant::now() > until {
                return Err(ReadError::Timeout);
            }
            if labels_only(q) {
                buf.clear();
            } else {
                read_samples(&mut s, &mut buf)?;
            }
            if !streamer.series(&s.labels, &buf, emit) {
                return Ok(());
            }
        }
        if !streamer.finish(emit) {
            return Ok(());
        }
    }
    Ok(())
}

/// A response body fed frame by frame from the encoding thread.
struct FrameBody(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl http_body::Body for FrameBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|f| f.map(|b| Ok(http_body::Frame::data(Bytes::from(b)))))
    }
}

/// Streams every query of a decoded request to `emit` (benches and tests
/// of the encoder over real storage).
#[doc(hidden)]
pub fn stream_for_bench(
    storage: &Storage,
    raw_request: &[u8],
    emit: &mut impl FnMut(Vec<u8>) -> bool,
) -> Result<(), String> {
    let req = request::decode(raw_request).map_err(|e| e.to_string())?;
    let far = Instant::now() + std::time::Duration::from_secs(3600);
    stream(storage, &req.queries, far, emit).map_err(|e| e.to_string())
}
