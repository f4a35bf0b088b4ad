//! Notes requests from registered push sources (`scrape::registry::arrivals`):
//! whether they were accepted, why not, how many samples they stored and
//! how long they took.

use crate::scrape::registry::arrivals::{Arrival, Channel};
use crate::server::AppState;
use axum::response::Response;
use std::time::Instant;

/// Samples a push stored, set on its response by the handler.
#[derive(Debug, Clone, Copy)]
pub struct Stored(pub u64);

/// Longest refusal reason kept.
const MAX_REASON: usize = 1024;
/// Refusal bodies are built in memory and small; one past this (never
/// expected) would be answered empty.
const MAX_REFUSAL_BODY: usize = 16 << 20;

/// A request being handled for a source that may be registered.
pub struct Watch {
    channel: Channel,
    source: String,
    started: Instant,
}

/// A watch when `source` is a registered push source on `channel`.
pub fn watch(state: &AppState, channel: Channel, source: Option<&str>) -> Option<Watch> {
    let source = source?;
    state.arrivals().watched(channel, source).then(|| Watch {
        channel,
        source: source.to_string(),
        started: Instant::now(),
    })
}

/// Notes the answer to a watched request; a refusal's body is its reason.
pub async fn observe(state: &AppState, watch: Option<Watch>, response: Response) -> Response {
    let Some(w) = watch else {
        return response;
    };
    let duration = w.started.elapsed();
    let accepted = response.status().is_success();
    let samples = response.extensions().get::<Stored>().map_or(0, |s| s.0);
    let (response, error) = if accepted {
        (response, String::new())
    } else {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_REFUSAL_BODY)
            .await
            .unwrap_or_default();
        let mut reason = format!(
            "{}: {}",
            parts.status,
            String::from_utf8_lossy(&bytes).trim()
        );
        if reason.len() > MAX_REASON {
            let mut cut = MAX_REASON;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        (
            Response::from_parts(parts, axum::body::Body::from(bytes)),
            reason,
        )
    };
    state.arrivals().record(
        w.channel,
        &w.source,
        Arrival {
            at_ms: crate::push::now_ms(),
            accepted,
            error,
            samples,
            duration,
        },
    );
    response
}
