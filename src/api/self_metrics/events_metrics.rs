//! The event outbox, its consumers and broker sinks on `/metrics`.

use super::exposition::Exposition;
use crate::events::sink::SinkStats;
use std::sync::atomic::{AtomicU64, Ordering};

/// A family with one sample per broker sink: name, type, help, value.
type PerSink = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SinkStats) -> f64,
);

fn load(a: &AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

/// Writes the `hourglass_events_*` families (nothing when events are off).
pub(super) fn write(out: &mut Exposition) {
    let Some(bus) = crate::events::bus() else {
        return;
    };
    let c = bus.counters();
    out.single(
        "hourglass_events_emitted_total",
        "counter",
        "Events built at the end of collection batches.",
        load(&c.emitted),
    );
    out.single(
        "hourglass_events_appended_total",
        "counter",
        "Events appended (and fsynced) to the outbox.",
        load(&c.appended),
    );
    out.single(
        "hourglass_events_append_groups_total",
        "counter",
        "Outbox appends (one write and one fsync each).",
        load(&c.groups),
    );
    out.single(
        "hourglass_events_append_seconds_total",
        "counter",
        "Time the outbox writer spent writing and fsyncing.",
        load(&c.append_ns) / 1e9,
    );
    out.single(
        "hourglass_events_unconfirmed_commits_total",
        "counter",
        "Batches acknowledged before their event was in the outbox (fsync failed or took over 5 s).",
        load(&c.unconfirmed_commits),
    );
    let sinks = crate::events::sinks();
    let retention: f64 = sinks.iter().map(|(_, s)| load(&s.dropped_retention)).sum();
    out.family(
        "hourglass_events_dropped_total",
        "counter",
        "Events lost, by reason: queue_full (the writer's queue), write_failed (the outbox could not be written), retention (removed before a sink delivered them).",
    );
    out.sample(
        "hourglass_events_dropped_total",
        &[("reason", "queue_full")],
        load(&c.dropped_queue_full),
    );
    out.sample(
        "hourglass_events_dropped_total",
        &[("reason", "write_failed")],
        load(&c.dropped_write_failed),
    );
    out.sample(
        "hourglass_events_dropped_total",
        &[("reason", "retention")],
        retention,
    );
    out.single(
        "hourglass_events_removed_by_retention_total",
        "counter",
        "Events removed from the outbox by --events-retention or --events-retention-size.",
        load(&c.removed_by_retention),
    );
    out.single(
        "hourglass_events_outbox_bytes",
        "gauge",
        "Bytes of the outbox's segment files.",
        bus.outbox_bytes() as f64,
    );
    let head = bus.head();
    out.single(
        "hourglass_events_next_id",
        "gauge",
        "The id the next event will get.",
        head as f64,
    );
    out.single(
        "hourglass_events_oldest_id",
        "gauge",
        "The oldest event id the outbox still keeps.",
        bus.oldest() as f64,
    );
    let consumers = bus.consumers();
    let consumer = |k: &crate::events::bus::Consumer| {
        [("consumer", k.id.to_string()), ("kind", k.kind.to_string())]
    };
    out.family_of(
        "hourglass_events_consumer_lag_events",
        "gauge",
        "Events a consumer (SSE, WebSocket, sink) has yet to get.",
        consumers.iter().map(|k| {
            let lag = head.saturating_sub(k.position.load(Ordering::Relaxed));
            (consumer(k), lag as f64)
        }),
    );
    out.family_of(
        "hourglass_events_consumer_dropped_total",
        "counter",
        "Events a consumer missed (it fell behind its buffer, or retention passed it).",
        consumers.iter().map(|k| (consumer(k), load(&k.dropped))),
    );
    if sinks.is_empty() {
        return;
    }
    out.family_of(
        "hourglass_events_sink_backlog_events",
        "gauge",
        "Events in the outbox a broker sink has not had acknowledged yet.",
        sinks.iter().map(|(kind, _)| {
            let backlog = consumers
                .iter()
                .filter(|k| k.kind == *kind)
                .map(|k| head.saturating_sub(k.position.load(Ordering::Relaxed)))
                .max()
                .unwrap_or(0);
            ([("sink", kind.to_string())], backlog as f64)
        }),
    );
    let per_sink: [PerSink; 3] = [
        (
            "hourglass_events_sink_delivered_total",
            "counter",
            "Events a broker acknowledged.",
            |s| load(&s.delivered),
        ),
        (
            "hourglass_events_sink_failures_total",
            "counter",
            "Failed delivery attempts (broker down, refused).",
            |s| load(&s.failures),
        ),
        (
            "hourglass_events_sink_up",
            "gauge",
            "1 when the sink's last delivery attempt succeeded.",
            |s| 1.0 - load(&s.down),
        ),
    ];
    for (name, kind, help, value) in per_sink {
        let samples = sinks
            .iter()
            .map(|(sink, s)| ([("sink", sink.to_string())], value(s)));
        out.family_of(name, kind, help, samples);
    }
}
