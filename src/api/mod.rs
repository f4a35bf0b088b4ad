//! The Prometheus HTTP API (`/api/v1/...`), as Prometheus documents it and
//! as Grafana and `promtool` call it, and the platform's collection API
//! (`/api/v1/metrics/targets`, `stats`, `query`).

pub(crate) mod envelope;
pub(crate) mod json;
mod labels;
mod metrics_query;
pub(crate) mod params;
mod parse_query;
mod query;
mod query_stats;
pub use query::fuzz_query_params;
mod prom_targets;
mod status;
mod target_metadata;
mod targets;

use crate::server::routes::{Class, Route};
use axum::routing::{delete, get, post};

/// The API routes (read routes, but registering and deleting targets,
/// which change what the server collects, need write credentials). Endpoints that Prometheus serves on
/// POST accept form-encoded POST too (Grafana retries a refused POST as
/// GET, but a valid POST must never get 405).
pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/api/v1/query",
        class: Class::Read,
        handler: || get(query::instant),
    },
    Route {
        method: "POST",
        path: "/api/v1/query",
        class: Class::Read,
        handler: || post(query::instant),
    },
    Route {
        method: "GET",
        path: "/api/v1/query_range",
        class: Class::Read,
        handler: || get(query::range),
    },
    Route {
        method: "POST",
        path: "/api/v1/query_range",
        class: Class::Read,
        handler: || post(query::range),
    },
    Route {
        method: "GET",
        path: "/api/v1/labels",
        class: Class::Read,
        handler: || get(labels::labels),
    },
    Route {
        method: "POST",
        path: "/api/v1/labels",
        class: Class::Read,
        handler: || post(labels::labels),
    },
    Route {
        method: "GET",
        path: "/api/v1/label/{name}/values",
        class: Class::Read,
        handler: || get(labels::label_values),
    },
    Route {
        method: "GET",
        path: "/api/v1/series",
        class: Class::Read,
        handler: || get(labels::series),
    },
    Route {
        method: "POST",
        path: "/api/v1/series",
        class: Class::Read,
        handler: || post(labels::series),
    },
    Route {
        method: "GET",
        path: "/api/v1/status/tsdb",
        class: Class::Read,
        handler: || get(status::tsdb),
    },
    Route {
        method: "GET",
        path: "/api/v1/status/runtimeinfo",
        class: Class::Read,
        handler: || get(status::runtimeinfo),
    },
    Route {
        method: "GET",
        path: "/api/v1/rules",
        class: Class::Read,
        handler: || get(status::rules),
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts",
        class: Class::Read,
        handler: || get(status::alerts),
    },
    Route {
        method: "GET",
        path: "/api/v1/query_exemplars",
        class: Class::Read,
        handler: || get(status::query_exemplars),
    },
    Route {
        method: "POST",
        path: "/api/v1/query_exemplars",
        class: Class::Read,
        handler: || post(status::query_exemplars),
    },
    Route {
        method: "GET",
        path: "/api/v1/parse_query",
        class: Class::Read,
        handler: || get(parse_query::parse_query),
    },
    Route {
        method: "POST",
        path: "/api/v1/parse_query",
        class: Class::Read,
        handler: || post(parse_query::parse_query),
    },
    Route {
        method: "GET",
        path: "/api/v1/format_query",
        class: Class::Read,
        handler: || get(status::format_query),
    },
    Route {
        method: "POST",
        path: "/api/v1/format_query",
        class: Class::Read,
        handler: || post(status::format_query),
    },
    Route {
        method: "GET",
        path: "/api/v1/targets",
        class: Class::Read,
        handler: || get(prom_targets::targets),
    },
    Route {
        method: "GET",
        path: "/api/v1/scrape_pools",
        class: Class::Read,
        handler: || get(prom_targets::scrape_pools),
    },
    Route {
        method: "GET",
        path: "/api/v1/targets/metadata",
        class: Class::Read,
        handler: || get(target_metadata::targets_metadata),
    },
    Route {
        method: "POST",
        path: "/api/v1/metrics/targets",
        class: Class::Write,
        handler: || {
            post(targets::create).layer(axum::extract::DefaultBodyLimit::max(
                targets::MAX_BODY_BYTES,
            ))
        },
    },
    Route {
        method: "GET",
        path: "/api/v1/metrics/targets",
        class: Class::Read,
        handler: || get(targets::list),
    },
    Route {
        method: "GET",
        path: "/api/v1/metrics/targets/{target_id}",
        class: Class::Read,
        handler: || get(targets::get_one),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/metrics/targets/{target_id}",
        class: Class::Write,
        handler: || delete(targets::delete),
    },
    Route {
        method: "GET",
        path: "/api/v1/metrics/stats",
        class: Class::Read,
        handler: || get(targets::stats),
    },
    Route {
        method: "GET",
        path: "/api/v1/metrics/query",
        class: Class::Read,
        handler: || get(metrics_query::metrics_query),
    },
];
