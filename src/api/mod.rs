//! The Prometheus HTTP API (`/api/v1/...`), as Prometheus documents it and
//! as Grafana and `promtool` call it.

pub(crate) mod envelope;
pub(crate) mod json;
mod labels;
pub(crate) mod params;
mod parse_query;
mod query;
pub use query::fuzz_query_params;
mod status;
pub mod time;

use crate::server::AppState;
use axum::Router;
use axum::routing::get;

/// The API routes. Endpoints that Prometheus serves on POST accept
/// form-encoded POST too (Grafana retries a refused POST as GET, but a
/// valid POST must never get 405).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route("/api/v1/labels", get(labels::labels).post(labels::labels))
        .route("/api/v1/label/{name}/values", get(labels::label_values))
        .route("/api/v1/series", get(labels::series).post(labels::series))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/rules", get(status::rules))
        .route("/api/v1/alerts", get(status::alerts))
        .route(
            "/api/v1/query_exemplars",
            get(status::query_exemplars).post(status::query_exemplars),
        )
        .route(
            "/api/v1/parse_query",
            get(parse_query::parse_query).post(parse_query::parse_query),
        )
        .route(
            "/api/v1/format_query",
            get(status::format_query).post(status::format_query),
        )
}
