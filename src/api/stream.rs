//! `GET /api/v1/stream?match[]=<selector>`: live samples of the matching
//! series as they are stored, over WebSocket (when the request asks to
//! upgrade) or Server-Sent Events. Messages are JSON:
//! `{"type":"samples","series":[{"id":1,"labels":{…}}],"data":[{"id":1,"values":[[t,"v"],…]}]}`
//! (a series' labels come once, in the first batch that has it) and
//! `{"type":"overflow","missed_samples":N}` after samples did not fit the
//! subscriber's bounded queue. Every ingest path feeds it (through
//! storage's tap); each subscriber's task encodes its own messages, off
//! the appending threads.

use crate::api::envelope::ApiError;
use crate::api::params::parse_selector;
use crate::events::live::{self, Message};
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::fmt::Write as _;

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
                        let Some(msg) = msg else { return };
                        let text = encode(&msg);
                        if socket.send(WsMessage::Text(text.into())).await.is_err() {
                            return;
                        }
                    }
                    incoming = socket.recv() => match incoming {
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
    let sub = live::subscribe(sets);
    let events = futures_util::stream::unfold(sub, |mut sub| async move {
        let msg = sub.rx.recv().await?;
        let kind = match msg {
            Message::Overflow { .. } => "overflow",
            Message::Samples(_) => "samples",
        };
        Some((
            Ok::<_, Infallible>(SseEvent::default().event(kind).data(encode(&msg))),
            sub,
        ))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A message as JSON: `{"type":"samples","series":[…],"data":[…]}` or
/// `{"type":"overflow","missed_samples":N}`.
fn encode(msg: &Message) -> String {
    let mut out = String::new();
    match msg {
        Message::Overflow { missed_samples } => {
            let _ = write!(
                out,
                "{{\"type\":\"overflow\",\"missed_samples\":{missed_samples}}}"
            );
        }
        Message::Samples(u) => {
            let points: usize = u.data.iter().map(|(_, s)| s.len()).sum();
            out.reserve(64 + 128 * u.new.len() + 32 * u.data.len() + 24 * points);
            out.push_str("{\"type\":\"samples\",\"series\":[");
            for (i, (id, labels)) in u.new.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"id\":{id},\"labels\":");
                super::json::write_labels(labels, &mut out);
                out.push('}');
            }
            out.push_str("],\"data\":[");
            for (i, (id, samples)) in u.data.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{\"id\":{id},\"values\":[");
                for (j, s) in samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    super::json::write_point(s.t, s.v, &mut out);
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_storage::{Labels, Sample};

    #[test]
    fn messages_encode_labels_once_and_prometheus_numbers() {
        let u = live::Update {
            new: vec![(1, Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]))],
            data: vec![
                (
                    1,
                    vec![Sample::new(1_500, 1.0), Sample::new(2_000, f64::NAN)],
                ),
                (2, vec![Sample::new(-1_250, 0.25)]),
            ],
        };
        assert_eq!(
            encode(&Message::Samples(u)),
            r#"{"type":"samples","series":[{"id":1,"labels":{"__name__":"up","job":"a\"b"}}],"data":[{"id":1,"values":[[1.500,"1"],[2,"NaN"]]},{"id":2,"values":[[-1.250,"0.25"]]}]}"#
        );
        assert_eq!(
            encode(&Message::Overflow { missed_samples: 7 }),
            r#"{"type":"overflow","missed_samples":7}"#
        );
    }
}
