//! Builds events where collection paths end: after a scrape's append,
//! before a push is answered, after an import. A scrape or push awaits its
//! event's fsync before it counts as done, so an acknowledged batch's
//! event survives kill -9. Nothing here runs unless a bus is installed.

use super::model::{Collected, Event, Health, Method, Summary, per_second};
use std::time::Duration;

/// Longest `source_id` kept (longer ones are cut at a character boundary).
const MAX_SOURCE: usize = 512;

/// What one batch brought, before it becomes an event.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The source (job, push job, token name).
    pub source: &'a str,
    /// How it arrived.
    pub method: Method,
    /// Samples stored.
    pub samples: u64,
    /// How long collecting took.
    pub duration: Duration,
    /// Healthy or not.
    pub health: Health,
    /// Families by type.
    pub summary: Summary,
    /// Failures in it.
    pub errors: u64,
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_SOURCE);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The event for `b`, ended now.
pub fn event(b: &Batch<'_>) -> Event {
    Event::new(
        super::bus::now_ms(),
        Collected {
            collection_batch_id: uuid::Uuid::new_v4().simple().to_string(),
            source_id: cut(b.source),
            metrics_count: b.samples,
            collection_duration_ms: b.duration.as_millis() as u64,
            collection_method: b.method,
            target_health: b.health,
            metrics_summary: b.summary,
            error_count: b.errors,
            samples_per_second: per_second(b.samples, b.duration),
        },
    )
}

/// Appends the event for `b` to the outbox when a bus is installed, and
/// waits for its fsync (shared with every other batch queued meanwhile).
pub async fn batch(b: &Batch<'_>) {
    if let Some(bus) = super::bus() {
        bus.commit(event(b)).await;
    }
}

/// Queues the event for `b` without waiting (remote write's per-second
/// events, built after the requests they describe were answered).
pub fn queue(b: &Batch<'_>) {
    if let Some(bus) = super::bus() {
        bus.emit(event(b));
    }
}

/// Whether events are being built at all.
pub fn enabled() -> bool {
    super::bus().is_some()
}

/// A push answered with `status`: healthy when accepted whole, unhealthy
/// when refused in part or whole. Awaited before the answer is sent.
pub async fn push(
    method: Method,
    source: &str,
    status: u16,
    samples: u64,
    duration: Duration,
    summary: Summary,
) {
    if !enabled() {
        return;
    }
    let ok = (200..300).contains(&status) && status != 207;
    batch(&Batch {
        source,
        method,
        samples,
        duration,
        health: if ok {
            Health::Healthy
        } else {
            Health::Unhealthy
        },
        summary,
        errors: u64::from(!ok),
    })
    .await;
}

/// Appends the event for `b` straight to the outbox under `data_dir`,
/// for `hourglass import` (the server is not running: the directory is
/// locked). Returns the event's number.
pub fn append_offline(data_dir: &std::path::Path, b: &Batch<'_>) -> Result<u64, String> {
    use super::outbox::{Outbox, Retention};
    let dir = data_dir.join(super::DIR);
    let fs = std::sync::Arc::new(hourglass_wal::fs::StdFs);
    let (mut outbox, _) =
        Outbox::open(fs, &dir, Retention::default()).map_err(|e| e.to_string())?;
    let json = serde_json::to_vec(&event(b)).map_err(|e| e.to_string())?;
    outbox
        .append(super::bus::now_ms(), &[json])
        .map_err(|e| e.to_string())
}
