//! Every endpoint the server answers, found from one table (`routes.rs`):
//! the Prometheus HTTP API (`/api/v1/...`) as Prometheus documents it and
//! as Grafana and `promtool` call it; remote write (`write.rs`); pushes
//! (`push/`: Pushgateway and custom metrics); health and readiness
//! (`health.rs`); metadata; the server's own `/metrics` (`self_metrics/`);
//! `/-/reload`; and the platform's collection API (`targets/`,
//! `metrics_query.rs`).

mod arrival;
pub(crate) mod envelope;
mod events;
mod events_ws;
mod federate;
pub mod flags;
mod health;
mod influx;
pub(crate) mod json;
mod labels;
mod metadata;
mod metrics_query;
mod otlp;
pub(crate) mod params;
mod parse_query;
mod prom_targets;
mod push;
mod query;
mod query_stats;
mod reload;
mod remote_read;
pub mod routes;
mod rules;
mod self_metrics;
mod snapshot;
mod status;
mod stream;
mod target_metadata;
mod targets;
mod translated;
mod tsdb_delete;
mod write;

pub use query::fuzz_query_params;
pub use remote_read::stream_for_bench as remote_read_stream;
pub(crate) use routes::router;
