//! The push endpoints: Pushgateway-compatible and REST custom metrics. The
//! groups, the custom-metrics model and the counters are in `crate::push`.

mod body;
mod custom;
mod gateway;

pub use custom::custom_metrics;
pub use gateway::pushgateway;

/// The `metrics_collected` event of one answered push: samples stored and
/// the family summary come from the answer's extensions.
fn emit_event(r: &axum::response::Response, source: &str, started: std::time::Instant) {
    let samples = r
        .extensions()
        .get::<crate::api::arrival::Stored>()
        .map_or(0, |s| s.0);
    let summary = r
        .extensions()
        .get::<crate::events::Summary>()
        .copied()
        .unwrap_or_default();
    crate::events::emit::push(
        crate::events::Method::PushGateway,
        source,
        r.status().as_u16(),
        samples,
        started.elapsed(),
        summary,
    );
}
