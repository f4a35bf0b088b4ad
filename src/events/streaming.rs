//! Remote write's events: one per sender (write token, else remote
//! address) per second, aggregating that second's requests.

use super::emit::{Batch, queue};
use super::model::{Health, Method, Summary};
use hourglass_wal::lock::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Most senders tracked within one second; requests from others in that
/// second are folded into `"other"`.
const MAX_SENDERS: usize = 10_000;

#[derive(Debug, Default, Clone)]
struct Agg {
    samples: u64,
    duration: Duration,
    errors: u64,
    requests: u64,
    summary: Summary,
}

static SECOND: Mutex<Option<HashMap<String, Agg>>> = Mutex::new(None);

/// Notes one remote-write request of `sender`.
pub fn note(sender: &str, samples: u64, duration: Duration, failed: bool, summary: Summary) {
    if !super::emit::enabled() {
        return;
    }
    let mut g = lock(&SECOND);
    let map = g.get_or_insert_with(HashMap::new);
    let key = if map.len() >= MAX_SENDERS && !map.contains_key(sender) {
        "other"
    } else {
        sender
    };
    let a = map.entry(key.to_string()).or_default();
    a.samples += samples;
    a.duration += duration;
    a.errors += u64::from(failed);
    a.requests += 1;
    a.summary.counters += summary.counters;
    a.summary.gauges += summary.gauges;
    a.summary.histograms += summary.histograms;
    a.summary.summaries += summary.summaries;
}

/// Emits the past second's events.
pub fn flush() {
    let taken = lock(&SECOND).take();
    let Some(map) = taken else { return };
    let mut senders: Vec<_> = map.into_iter().collect();
    senders.sort_by(|a, b| a.0.cmp(&b.0));
    for (sender, a) in senders {
        queue(&Batch {
            source: &sender,
            method: Method::Streaming,
            samples: a.samples,
            duration: a.duration,
            health: if a.errors == 0 {
                Health::Healthy
            } else {
                Health::Unhealthy
            },
            summary: a.summary,
            errors: a.errors,
        });
    }
}

/// Flushes every second until the server stops.
pub async fn flush_loop() {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        flush();
    }
}
