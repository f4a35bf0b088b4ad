//! The push endpoints: Pushgateway-compatible and REST custom metrics. The
//! groups, the custom-metrics model and the counters are in `crate::push`.

mod body;
mod custom;
mod gateway;
mod gateway_body;

pub use custom::custom_metrics;
pub use gateway::pushgateway;

/// The `metrics_collected` event of one push, in the outbox before the
/// answer goes out (await it): samples stored and the family summary come
/// from the answer's extensions, read before the wait.
fn emit_event(
    r: &axum::response::Response,
    method: crate::events::Method,
    source: &str,
    started: std::time::Instant,
) -> impl Future<Output = ()> + Send + use<> {
    let enabled = crate::events::emit::enabled();
    let status = r.status().as_u16();
    let samples = r
        .extensions()
        .get::<crate::api::arrival::Stored>()
        .map_or(0, |s| s.0);
    let summary = r
        .extensions()
        .get::<crate::events::Summary>()
        .copied()
        .unwrap_or_default();
    let source = source.to_string();
    let elapsed = started.elapsed();
    async move {
        if enabled {
            crate::events::emit::push(method, &source, status, samples, elapsed, summary).await;
        }
    }
}
