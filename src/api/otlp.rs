//! OTLP/HTTP metrics: `POST /api/v1/otlp/v1/metrics` (Prometheus's path)
//! and `/opentelemetry/v1/metrics`. Protobuf (`application/x-protobuf`)
//! or protobuf-JSON (`application/json`), optionally gzip; the answer is
//! in the request's encoding. Translation is in `ingest/otlp`.
//!
//! Status codes follow the OTLP/HTTP specification: 200 with an empty
//! `ExportMetricsServiceResponse` when everything was stored; 200 with
//! `partial_success` (rejected points and the reasons) when some points
//! were refused (delta temporality, exponential histograms, unknown kinds,
//! samples storage refused) and others stored; 400 with a `google.rpc.Status`
//! when the body does not decode or nothing in it could be stored (not
//! retried by clients); 413 and 415 for oversized bodies and unknown
//! content types or encodings; 429 (caller's budget) and 503 (storage
//! failed or the in-flight budget is spent), the codes clients retry,
//! with `Retry-After`.

use super::translated::{BodyError, StoreError, read_body, refusals, refuse_decoded, store};
use crate::ingest::arena::SeriesArena;
use crate::ingest::otlp::translate::{Metadata, Outcome, Settings, translate};
use crate::ingest::otlp::{json, model::Request, proto};
use crate::ingest::protobuf::Writer;
use crate::metadata::MetricMetadata;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::inflight::Reservation;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The request's (and so the answer's) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// Largest JSON body: parsed JSON takes many times its size.
const MAX_JSON_BYTES: usize = 8 << 20;

/// Bytes reserved per byte of JSON body for its parsed form.
const JSON_BYTES_PER_BODY_BYTE: usize = 32;

/// `google.rpc.Code` values used in `Status`.
const INVALID_ARGUMENT: u64 = 3;
const RESOURCE_EXHAUSTED: u64 = 8;
const INTERNAL: u64 = 13;
const UNAVAILABLE: u64 = 14;

fn content_type(enc: Encoding) -> HeaderValue {
    HeaderValue::from_static(match enc {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    })
}

/// A failure answered with a `google.rpc.Status` body.
fn status(enc: Encoding, code: StatusCode, rpc: u64, msg: &str) -> Response {
    let body = match enc {
        Encoding::Protobuf => {
            let mut w = Writer::default();
            w.uint(1, rpc);
            w.bytes(2, msg.as_bytes());
            w.buf
        }
        Encoding::Json => json!({ "code": rpc, "message": msg })
            .to_string()
            .into_bytes(),
    };
    let mut r = (code, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type(enc));
    if matches!(code.as_u16(), 429 | 503) {
        r.headers_mut().insert(header::RETRY_AFTER, 1u64.into());
    }
    r
}

/// 200 with an `ExportMetricsServiceResponse`, with `partial_success`
/// when points were refused.
fn success(enc: Encoding, rejected: u64, msg: &str) -> Response {
    let body = match enc {
        Encoding::Protobuf => {
            let mut w = Writer::default();
            if rejected > 0 {
                w.message(1, |p| {
                    p.uint(1, rejected);
                    p.bytes(2, msg.as_bytes());
                });
            }
            w.buf
        }
        Encoding::Json if rejected > 0 => json!({
            "partialSuccess": { "rejectedDataPoints": rejected.to_string(), "errorMessage": msg }
        })
        .to_string()
        .into_bytes(),
        Encoding::Json => b"{}".to_vec(),
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, content_type(enc));
    r
}

pub async fn metrics(
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    axum::Extension(res): axum::Extension<Reservation>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let enc = match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            return status(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                &format!(
                    "unsupported Content-Type {ct:?}: send application/x-protobuf or application/json"
                ),
            );
        }
    };
    let caller = caller.map(|axum::Extension(c)| c);
    let task = tokio::task::spawn_blocking(move || {
        ingest(&state, caller.as_ref(), &res, enc, &headers, &body)
    });
    match task.await {
        Ok(r) => r,
        Err(e) => status(
            enc,
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL,
            &format!("write task failed: {e}"),
        ),
    }
}

fn ingest(
    state: &AppState,
    caller: Option<&Caller>,
    res: &Reservation,
    enc: Encoding,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let raw = match read_body(headers, body, state.limits().max_body_bytes, res) {
        Ok(b) => b,
        Err(e) => {
            let (code, rpc) = match e {
                BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, INVALID_ARGUMENT),
                BodyError::Gzip(_) => (StatusCode::BAD_REQUEST, INVALID_ARGUMENT),
                BodyError::Encoding(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID_ARGUMENT),
                BodyError::OverBudget(_) => (StatusCode::SERVICE_UNAVAILABLE, RESOURCE_EXHAUSTED),
            };
            return status(enc, code, rpc, &e.to_string());
        }
    };
    // What the decoded model may take is reserved before decoding.
    let model = match enc {
        Encoding::Protobuf => proto::model_budget(raw.len()),
        Encoding::Json if raw.len() > MAX_JSON_BYTES => {
            return status(
                enc,
                StatusCode::PAYLOAD_TOO_LARGE,
                INVALID_ARGUMENT,
                &format!(
                    "JSON bodies are limited to {MAX_JSON_BYTES} bytes; send protobuf for larger batches"
                ),
            );
        }
        Encoding::Json => raw.len().saturating_mul(JSON_BYTES_PER_BODY_BYTE),
    };
    if res.add(model).is_err() {
        return status(
            enc,
            StatusCode::SERVICE_UNAVAILABLE,
            RESOURCE_EXHAUSTED,
            "in-flight body budget spent; retry later",
        );
    }
    let decoded: Result<Request<'_>, String> = match enc {
        Encoding::Protobuf => proto::decode(&raw)
            .map_err(|e| format!("cannot decode ExportMetricsServiceRequest: {e}")),
        Encoding::Json => json::decode(&raw)
            .map_err(|e| format!("cannot decode ExportMetricsServiceRequest JSON: {e}")),
    };
    let req = match decoded {
        Ok(r) => r,
        Err(msg) => return status(enc, StatusCode::BAD_REQUEST, INVALID_ARGUMENT, &msg),
    };
    let limits = state.limits();
    let settings = Settings {
        promote: &limits.otlp_promote_resource_attributes,
        max_series: limits.max_series_per_request,
        type_and_unit_labels: limits.type_and_unit_labels,
        created_timestamp_zero: limits.created_timestamp_zero_ingestion,
        convert_histograms_to_nhcb: limits.otlp_convert_histograms_to_nhcb,
    };
    let mut arena = SeriesArena::default();
    let mut metadata = Metadata::new();
    let outcome = translate(&req, &settings, &mut arena, &mut metadata, &mut |n| {
        res.add(n).is_ok()
    });
    let (over, many) = (outcome.over_budget, outcome.too_many_series);
    if let Some((code, msg)) = refuse_decoded(state, over, many, settings.max_series, "series") {
        let grpc = if over {
            RESOURCE_EXHAUSTED
        } else {
            INVALID_ARGUMENT
        };
        return status(enc, code, grpc, &msg);
    }
    for (family, kind, help, unit) in metadata {
        if let Err(why) = state
            .metadata()
            .set(&family, MetricMetadata { kind, help, unit })
        {
            state.refused("metadata", why.reason());
        }
    }
    let stats = match store(state, caller, &arena) {
        Ok(s) => s,
        Err(StoreError::RateLimited(l)) => {
            return l.with_retry_after(status(
                enc,
                StatusCode::TOO_MANY_REQUESTS,
                RESOURCE_EXHAUSTED,
                &l.message,
            ));
        }
        Err(StoreError::Storage(e)) => {
            tracing::error!(error = %e, "otlp: storage failed");
            return status(
                enc,
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                &format!("storage failed, nothing from this request is acknowledged: {e}"),
            );
        }
    };
    let stored = stats.appended + stats.duplicates;
    answer(
        enc,
        &outcome,
        stored,
        stats.rejected.total(),
        refusals(&stats),
    )
}

fn answer(
    enc: Encoding,
    o: &Outcome,
    stored: u64,
    storage_refused: u64,
    storage: Option<String>,
) -> Response {
    // Storage refuses samples, not points: at most every point.
    let rejected = o.rejected + storage_refused.min(o.accepted);
    if rejected == 0 {
        return success(enc, 0, "");
    }
    let mut reasons = o.reasons.clone();
    reasons.extend(storage);
    let msg = reasons.join("; ");
    if stored > 0 {
        success(enc, rejected, &msg)
    } else {
        status(
            enc,
            StatusCode::BAD_REQUEST,
            INVALID_ARGUMENT,
            &format!("no data point stored: {msg}"),
        )
    }
}
