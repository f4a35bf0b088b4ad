//! InfluxDB line protocol writes: `POST /write` (v1: `db` required, `rp`
//! accepted and ignored, `precision` n/u/ms/s/m/h) and `POST
//! /api/v2/write` (v2: `bucket` required, `org` accepted and ignored,
//! `precision` ns/us/ms/s; `Authorization: Token <token>` is one of our
//! write tokens). Bodies may be gzip. The mapping is in `ingest/influx`.
//!
//! 204 when every line was stored; 400 naming each bad line (the first
//! ten) by number and reason, the good lines of the body stored all the
//! same; 413 for a body over the limit; 429 when the caller's budget is
//! spent; 500 when storage failed (nothing acknowledged). Errors are JSON
//! as InfluxDB words them: v1 `{"error": ...}`, v2 `{"code", "message"}`.

use super::params::Params;
use super::translated::{BodyError, StoreError, read_body, refusals, refuse_decoded, store};
use crate::ingest::arena::SeriesArena;
use crate::ingest::influx::{self, Options, Precision};
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::inflight::Reservation;
use axum::body::Bytes;
use axum::extract::{MatchedPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::fmt::Write as _;

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

fn error(api: Api, code: StatusCode, msg: &str) -> Response {
    let body = match api {
        Api::V1 => json!({ "error": msg }),
        Api::V2 => {
            let kind = match code.as_u16() {
                400 => "invalid",
                401 => "unauthorized",
                413 => "request too large",
                415 => "unsupported media type",
                429 => "too many requests",
                503 => "unavailable",
                _ => "internal error",
            };
            json!({ "code": kind, "message": msg })
        }
    };
    let mut r = (code, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The label and value naming the database or bucket, and the precision.
fn params(api: Api, query: Option<&str>) -> Result<(&'static str, String, Precision), String> {
    let p = Params::from_form(query.unwrap_or_default().as_bytes());
    let (label, param, default) = match api {
        Api::V1 => ("db", "db", "database is required (the db parameter)"),
        Api::V2 => (
            "bucket",
            "bucket",
            "bucket is required (the bucket parameter)",
        ),
    };
    let db = p.get(param).ok_or_else(|| default.to_string())?.to_string();
    let precision = match p.get("precision") {
        None => Precision::Nanoseconds,
        Some(s) => {
            let parsed = match api {
                Api::V1 => Precision::from_v1(s),
                Api::V2 => Precision::from_v2(s),
            };
            parsed.ok_or_else(|| {
                let allowed = match api {
                    Api::V1 => "n, u, ms, s, m, h",
                    Api::V2 => "ns, us, ms, s",
                };
                format!("invalid precision {s:?}: one of {allowed}")
            })?
        }
    };
    Ok((label, db, precision))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `POST /write` (InfluxDB 1.x) and `POST /api/v2/write` (2.x): the route
/// the request came by says which API's parameters and error shape apply.
pub async fn write(
    path: MatchedPath,
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    axum::Extension(res): axum::Extension<Reservation>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = if path.as_str().ends_with("/api/v2/write") {
        Api::V2
    } else {
        Api::V1
    };
    let (label, db, precision) = match params(api, query.as_deref()) {
        Ok(p) => p,
        Err(msg) => return error(api, StatusCode::BAD_REQUEST, &msg),
    };
    let caller = caller.map(|axum::Extension(c)| c);
    let now = now_ms();
    let task = tokio::task::spawn_blocking(move || {
        let max = state.limits().max_body_bytes;
        let raw = match read_body(&headers, &body, max, &res) {
            Ok(b) => b,
            Err(e) => {
                let code = match e {
                    BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    BodyError::Gzip(_) => StatusCode::BAD_REQUEST,
                    BodyError::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    BodyError::OverBudget(_) => StatusCode::SERVICE_UNAVAILABLE,
                };
                return error(api, code, &e.to_string());
            }
        };
        let opts = Options {
            db_label: Some((label, &db)),
            precision,
            now_ms: now,
            max_series: state.limits().max_series_per_request,
        };
        let mut arena = SeriesArena::default();
        let report = influx::decode(&raw, &opts, &mut arena, &mut |n| res.add(n).is_ok());
        let (over, many) = (report.over_budget, report.too_many_series);
        if let Some((code, msg)) = refuse_decoded(&state, over, many, opts.max_series, "fields") {
            return error(api, code, &msg);
        }
        if res.add(arena.held_bytes()).is_err() {
            return error(
                api,
                StatusCode::SERVICE_UNAVAILABLE,
                "in-flight body budget spent; retry later",
            );
        }
        if report.strings_skipped > 0 {
            state.refused("influx", "string_field");
        }
        let stats = match store(&state, caller.as_ref(), &arena) {
            Ok(s) => s,
            Err(StoreError::RateLimited(l)) => {
                return l.with_retry_after(error(api, StatusCode::TOO_MANY_REQUESTS, &l.message));
            }
            Err(StoreError::Storage(e)) => {
                tracing::error!(error = %e, "influx write: storage failed");
                return error(
                    api,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("storage failed, nothing from this request is acknowledged: {e}"),
                );
            }
        };
        answer(api, &report, refusals(&stats))
    });
    match task.await {
        Ok(r) => r,
        Err(e) => error(
            api,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("write task failed: {e}"),
        ),
    }
}

fn answer(api: Api, report: &influx::Report, storage: Option<String>) -> Response {
    let mut r = if report.bad_lines == 0 && storage.is_none() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut msg = format!("partial write: stored {} fields", report.fields);
        if report.bad_lines > 0 {
            let _ = write!(msg, "; {} bad lines:", report.bad_lines);
            for e in &report.errors {
                let _ = write!(msg, " {e};");
            }
            if report.bad_lines > report.errors.len() {
                msg.push_str(" ...");
            }
        }
        if let Some(s) = storage {
            let _ = write!(msg, "; {s}");
        }
        error(api, StatusCode::BAD_REQUEST, &msg)
    };
    let h = r.headers_mut();
    h.insert("X-Hourglass-Fields-Stored", report.fields.into());
    h.insert(
        "X-Hourglass-String-Fields-Skipped",
        report.strings_skipped.into(),
    );
    r
}
