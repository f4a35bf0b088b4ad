//! `GET /api/v1/events/ws`: the same events over a WebSocket. The client
//! sends `{"type":"subscribe","filter":{…},"since":N}` (filter fields as in
//! the SSE query: a string or a list of strings each; `since` optional) and
//! `{"type":"unsubscribe"}`; the server answers `subscribed` (with the
//! position), `unsubscribed`, `event` (`id` and `event`), `overflow`
//! (`missed`, `resume_from`) and `error` (the connection stays open).

use crate::events::consumer::{Cursor, Item};
use crate::events::model::Filter;
use axum::extract::ConnectInfo;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// Largest message a client may send.
const MAX_MESSAGE: usize = 64 << 10;
/// Events read per wake-up.
const BATCH: usize = 256;

/// `GET /api/v1/events/ws`.
pub async fn ws(
    upgrade: WebSocketUpgrade,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    let bus = match super::events::bus() {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let peer = peer.map_or_else(String::new, |p| p.0.0.to_string());
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(socket, bus, peer))
}

/// A client message that makes sense.
#[derive(Debug)]
enum Command {
    Subscribe { filter: Filter, since: Option<u64> },
    Unsubscribe,
}

/// Parses one client message; the error names what is wrong.
fn parse(text: &str) -> Result<Command, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("message is not JSON: {e}"))?;
    let Value::Object(m) = v else {
        return Err("message must be a JSON object".into());
    };
    for k in m.keys() {
        if !matches!(k.as_str(), "type" | "filter" | "since") {
            return Err(format!(
                "unknown field {k:?}: a message has type, filter and since"
            ));
        }
    }
    match m.get("type").and_then(Value::as_str) {
        Some("subscribe") => {}
        Some("unsubscribe") => return Ok(Command::Unsubscribe),
        Some(other) => {
            return Err(format!(
                "unknown type {other:?}: expected subscribe or unsubscribe"
            ));
        }
        None => return Err("field \"type\" (a string) is required".into()),
    }
    let mut filter = Filter::default();
    match m.get("filter") {
        None | Some(Value::Null) => {}
        Some(Value::Object(f)) => {
            for (field, value) in f {
                let values: Vec<&str> = match value {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .ok_or_else(|| format!("filter field {field:?} must hold strings"))
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(format!(
                            "filter field {field:?} must be a string or a list of strings"
                        ));
                    }
                };
                for v in values {
                    filter.add(field, v).map_err(|e| e.to_string())?;
                }
            }
        }
        Some(_) => return Err("field \"filter\" must be an object".into()),
    }
    let since = match m.get("since") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or("field \"since\" must be an event id (a non-negative integer)")?,
        ),
    };
    Ok(Command::Subscribe { filter, since })
}

async fn send(socket: &mut WebSocket, v: Value) -> bool {
    socket
        .send(Message::Text(v.to_string().into()))
        .await
        .is_ok()
}

async fn run(mut socket: WebSocket, bus: &'static crate::events::Bus, peer: String) {
    let mut cursor: Option<Cursor> = None;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(Message::Binary(_))) => {
                        if !send(&mut socket, json!({"type": "error", "error": "binary messages are not understood; send JSON text"})).await {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                let reply = match parse(text.as_str()) {
                    Err(e) => json!({"type": "error", "error": e}),
                    Ok(Command::Unsubscribe) => {
                        cursor = None;
                        json!({"type": "unsubscribed"})
                    }
                    Ok(Command::Subscribe { filter, since }) => {
                        let made = match cursor.as_mut() {
                            Some(c) => c.refilter(filter, since).map(|()| c.position()),
                            None => Cursor::new(bus, "websocket", peer.clone(), filter, since, bus.consumer_buffer())
                                .map(|c| {
                                    let p = c.position();
                                    cursor = Some(c);
                                    p
                                }),
                        };
                        match made {
                            Ok(p) => json!({"type": "subscribed", "position": p}),
                            Err(e) => json!({"type": "error", "error": e.to_string()}),
                        }
                    }
                };
                if !send(&mut socket, reply).await {
                    return;
                }
            }
            items = next(&mut cursor) => {
                if items.is_empty() {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                let mut delivered = 0;
                for item in items {
                    let v = match item {
                        Item::Event(s) => {
                            delivered += 1;
                            // The stored JSON is spliced in, not re-encoded.
                            let text = format!("{{\"type\":\"event\",\"id\":{},\"event\":{}}}", s.seq, s.json);
                            if socket.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        Item::Overflow { missed, resume_from } => {
                            json!({"type": "overflow", "missed": missed, "resume_from": resume_from})
                        }
                    };
                    if !send(&mut socket, v).await {
                        return;
                    }
                }
                if let Some(c) = &cursor {
                    c.delivered(delivered);
                }
            }
        }
    }
}

async fn next(cursor: &mut Option<Cursor>) -> Vec<Item> {
    match cursor {
        Some(c) => c.next(BATCH).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_messages_parse_or_name_the_problem() {
        let c = parse(r#"{"type":"subscribe","filter":{"source_id":"a","target_health":["healthy"]},"since":3}"#).unwrap();
        let Command::Subscribe { filter, since } = c else {
            panic!("not a subscribe")
        };
        assert_eq!(filter.source_id, ["a"]);
        assert_eq!(since, Some(3));
        assert!(matches!(
            parse(r#"{"type":"unsubscribe"}"#),
            Ok(Command::Unsubscribe)
        ));
        for (bad, says) in [
            ("nope", "not JSON"),
            ("[]", "JSON object"),
            (
                r#"{"type":"subscribe","filter":{"colour":"red"}}"#,
                "colour",
            ),
            (
                r#"{"type":"subscribe","filter":{"collection_method":"FAX"}}"#,
                "FAX",
            ),
            (r#"{"type":"subscribe","since":-1}"#, "since"),
            (r#"{"type":"resubscribe"}"#, "resubscribe"),
            (r#"{"type":"subscribe","extra":1}"#, "extra"),
            (r#"{"filter":{}}"#, "type"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
