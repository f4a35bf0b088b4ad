//! `GET /api/v1/stream?match[]=<selector>`: live samples of the matching
//! series as they are stored, over WebSocket (when the request asks to
//! upgrade) or Server-Sent Events. Messages are JSON:
//! `{"type":"samples","series":[{"id":1,"labels":{…}}],"data":[{"id":1,"values":[[t,"v"],…]}]}`
//! (a series' labels come once, in the first batch that has it) and
//! `{"type":"overflow","missed_samples":N}` after samples did not fit the
//! subscriber's bounded queue. Every ingest path feeds it (through
//! storage's tap).

use crate::api::envelope::ApiError;
use crate::api::params::parse_selector;
use crate::events::live;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Most `match[]` selectors in one subscription.
const MAX_SELECTORS: usize = 64;

fn selectors(query: Option<&str>) -> Result<Vec<Vec<hourglass_storage::Matcher>>, ApiError> {
    let mut sets = Vec::new();
    for (k, v) in super::params::bounded_query(query)? {
        if k != "match[]" {
            return Err(ApiError::bad_data(format!(
                "unknown parameter {k:?}: the stream takes match[] selectors only"
            )));
        }
        if sets.len() == MAX_SELECTORS {
            return Err(ApiError::param(
                "match[]",
                format!("more than {MAX_SELECTORS} selectors"),
            ));
        }
        sets.push(parse_selector(&v).map_err(|e| ApiError::param("match[]", e))?);
    }
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    Ok(sets)
}

/// `GET /api/v1/stream`.
pub async fn stream(req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let sets = match selectors(parts.uri.query()) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade {
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ws,
            Err(e) => return e.into_response(),
        };
        // Subscribed before the upgrade is answered, so a sample stored
        // right after the handshake reaches the client (dropped with the
        // closure if the upgrade fails).
        let mut sub = live::subscribe(sets);
        return ws.on_upgrade(move |mut socket| async move {
            loop {
                tokio::select! {
                    msg = sub.rx.recv() => {
                        let Some(text) = msg else { return };
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    incoming = socket.recv() => match incoming {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
    let sub = live::subscribe(sets);
    let events = futures_util::stream::unfold(sub, |mut sub| async move {
        let text = sub.rx.recv().await?;
        let kind = if text.starts_with("{\"type\":\"overflow\"") {
            "overflow"
        } else {
            "samples"
        };
        Some((
            Ok::<_, Infallible>(SseEvent::default().event(kind).data(text)),
            sub,
        ))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
