//! `POST /api/v1/write`: Prometheus remote write 1.0.
//!
//! Status codes follow the spec's retry contract: 204 when everything was
//! stored; 400 for data that will never be accepted (the valid series of
//! the same request are stored all the same); 413 for an oversized body;
//! 415 for a content type or encoding we do not speak; 500 only for our own
//! failures, which the sender retries.

use super::AppState;
use super::metadata::MetricMetadata;
use crate::ingest::remote_write::{self, SnappyError, v1};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hourglass_storage::{AppendStats, Labels, WriteBatch};
use std::fmt::Write as _;

const V1_PROTO: &str = "prometheus.WriteRequest";
const V2_PROTO: &str = "io.prometheus.write.v2.Request";

fn plain(code: StatusCode, msg: impl Into<String>) -> Response {
    let mut msg = msg.into();
    msg.push('\n');
    (code, msg).into_response()
}

pub async fn remote_write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err((code, msg)) = check_headers(&headers) {
        return plain(code, msg);
    }
    let max = state.inner.limits.max_body_bytes;
    let raw = match remote_write::decompress(&body, max) {
        Ok(raw) => raw,
        Err(e @ SnappyError::TooLarge { .. }) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
        }
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    // Decoding and appending (which waits for the WAL's fsync) stay off the
    // async worker threads.
    match tokio::task::spawn_blocking(move || ingest(&state, &raw)).await {
        Ok(response) => response,
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("write task failed: {e}"),
        ),
    }
}

fn check_headers(h: &HeaderMap) -> Result<(), (StatusCode, String)> {
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
                Some(V2_PROTO) => {
                    return Err((
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!(
                            "remote write 2.0 ({V2_PROTO}) is not supported yet; send {V1_PROTO}"
                        ),
                    ));
                }
                Some(other) => {
                    return Err((
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!("unsupported protobuf message {other:?}; send {V1_PROTO}"),
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
    Ok(())
}

fn ingest(state: &AppState, raw: &[u8]) -> Response {
    let req = match v1::decode(raw) {
        Ok(r) => r,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("cannot decode WriteRequest: {e}"),
            );
        }
    };
    for md in &req.metadata {
        if !md.family.is_empty() {
            state.inner.metadata.set(
                md.family,
                MetricMetadata {
                    kind: md.kind.as_str(),
                    help: md.help.to_string(),
                    unit: md.unit.to_string(),
                },
            );
        }
    }
    let mut batch = WriteBatch::new();
    let mut histograms = 0u64;
    for ts in &req.series {
        histograms += u64::from(ts.histograms);
        let samples = req.samples_of(ts);
        if !samples.is_empty() {
            batch.push(
                Labels::from_pairs(req.labels_of(ts).iter().copied()),
                samples.to_vec(),
            );
        }
    }
    let stats = if batch.is_empty() {
        AppendStats::default()
    } else {
        match state.inner.storage.append(&batch) {
            Ok(stats) => stats,
            Err(e) => {
                tracing::error!(error = %e, "remote write: storage failed");
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storage failed, nothing from this request is acknowledged: {e}"),
                );
            }
        }
    };
    if stats.rejected.total() == 0 && histograms == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    let msg = refusal_message(&stats, histograms);
    tracing::debug!(%msg, "remote write: samples refused");
    plain(StatusCode::BAD_REQUEST, msg)
}

/// Says what was stored, what was refused and why, naming the first series
/// that failed validation.
fn refusal_message(stats: &AppendStats, histograms: u64) -> String {
    let r = &stats.rejected;
    let mut msg = format!(
        "stored {} samples, refused {}: out_of_window={} past_retention={} \
         duplicate_timestamp_different_value={} invalid_series={}",
        stats.appended,
        r.total() + histograms,
        r.out_of_window,
        r.past_retention,
        r.duplicate_conflict,
        r.invalid_series,
    );
    if histograms > 0 {
        let _ = write!(msg, " native_histograms={histograms} (not supported yet)");
    }
    if let Some(first) = stats.invalid_series.first() {
        let _ = write!(msg, "; first invalid series: {first}");
    }
    msg
}
