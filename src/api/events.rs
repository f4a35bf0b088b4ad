//! `GET /api/v1/events` (Server-Sent Events, filtered, resumable from
//! `Last-Event-ID` or `?since=`) and `GET /api/v1/events/subscriptions`
//! (every consumer with its position, lag and drops).

use crate::api::envelope::{ApiError, success};
use crate::events::bus::{Bus, ReadError};
use crate::events::consumer::{Cursor, Item};
use crate::events::model::Filter;
use axum::extract::{ConnectInfo, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use hourglass_wal::lock::lock;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// Events read per wake-up.
const BATCH: usize = 256;

/// A consumer's request: its filter and where to start.
#[derive(Debug, Default)]
pub struct Request {
    /// Which events.
    pub filter: Filter,
    /// First position wanted (`None`: from now on).
    pub from: Option<u64>,
}

/// The bus, or 503 when events are off.
pub fn bus() -> Result<&'static Bus, ApiError> {
    crate::events::bus().ok_or_else(|| ApiError {
        kind: hourglass_query::ErrorKind::Unavailable,
        message: "events are not enabled on this server".into(),
    })
}

/// Parses `?source_id=…&collection_method=…&target_health=…&since=N`.
pub fn parse_query(query: Option<&str>) -> Result<Request, ApiError> {
    let mut r = Request::default();
    for (k, v) in crate::api::params::bounded_query(query)? {
        if k == "since" {
            r.from = Some(v.parse().map_err(|_| {
                ApiError::param(
                    "since",
                    format!("{v:?} is not an event id (a non-negative integer)"),
                )
            })?);
            continue;
        }
        r.filter
            .add(&k, &v)
            .map_err(|e| ApiError::bad_data(e.to_string()))?;
    }
    Ok(r)
}

/// The answer to a start position that cannot be served: 410 for one
/// retention removed, 400 otherwise.
pub fn position_error(e: &ReadError) -> Response {
    match e {
        ReadError::Expired { .. } => {
            ApiError::bad_data(e.to_string()).with_status(StatusCode::GONE)
        }
        ReadError::Future { .. } => ApiError::bad_data(e.to_string()).into_response(),
        ReadError::Io(_) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// The JSON of an overflow notice.
pub fn overflow_json(missed: u64, resume_from: u64) -> String {
    serde_json::json!({"missed": missed, "resume_from": resume_from}).to_string()
}

/// `GET /api/v1/events`.
pub async fn sse(
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let bus = match bus() {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let mut req = match parse_query(query.as_deref()) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(last) = headers.get("last-event-id") {
        let text = String::from_utf8_lossy(last.as_bytes());
        match text.trim().parse::<u64>() {
            Ok(id) => req.from = Some(id + 1),
            Err(_) => {
                return ApiError::bad_data(format!(
                    "invalid Last-Event-ID {text:?}: expected an event id (a non-negative integer)"
                ))
                .into_response();
            }
        }
    }
    let peer = peer.map_or_else(String::new, |p| p.0.0.to_string());
    let cursor = match Cursor::new(
        bus,
        "sse",
        peer,
        req.filter,
        req.from,
        bus.consumer_buffer(),
    ) {
        Ok(c) => c,
        Err(e) => return position_error(&e),
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        let items = c.next(BATCH).await;
        if items.is_empty() {
            return None;
        }
        let mut delivered = 0;
        let events: Vec<Result<SseEvent, Infallible>> = items
            .into_iter()
            .map(|item| {
                Ok(match item {
                    Item::Event(s) => {
                        delivered += 1;
                        SseEvent::default()
                            .id(s.seq.to_string())
                            .event("metrics_collected")
                            .data(&*s.json)
                    }
                    Item::Overflow {
                        missed,
                        resume_from,
                    } => SseEvent::default()
                        .event("overflow")
                        .data(overflow_json(missed, resume_from)),
                })
            })
            .collect();
        c.delivered(delivered);
        Some((futures_util::stream::iter(events), c))
    })
    .flatten();
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /api/v1/events/subscriptions`.
pub async fn subscriptions() -> Response {
    let bus = match bus() {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let head = bus.head();
    let consumers: Vec<_> = bus
        .consumers()
        .iter()
        .map(|c| {
            let position = c.position.load(Ordering::Relaxed);
            serde_json::json!({
                "id": c.id,
                "kind": c.kind,
                "peer": c.peer,
                "filter": *lock(&c.filter),
                "position": position,
                "lag": head.saturating_sub(position),
                "delivered": c.delivered.load(Ordering::Relaxed),
                "dropped": c.dropped.load(Ordering::Relaxed),
                "since": hourglass_storage::calendar::format_rfc3339_ms(c.since_ms),
            })
        })
        .collect();
    success(
        serde_json::json!({
            "head": head,
            "oldest": bus.oldest(),
            "consumers": consumers,
        }),
        &[],
    )
}
