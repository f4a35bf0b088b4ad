//! The route table: every route the server answers, with its method, the
//! credentials it needs and its handler, as data. The router is built from
//! it class by class (one sub-router per class, each with its own auth
//! layer), so no route can exist without a class, and tests enumerate it
//! to prove each one refuses a caller without the right credentials.

use super::{
    events, events_ws, federate, flags, health, influx, labels, metadata, metrics_query, otlp,
    parse_query, prom_targets, push, query, reload, remote_read, rules, self_metrics, snapshot,
    status, stream, target_metadata, targets, tsdb_delete, write,
};
use crate::server::{AppState, auth, request_body};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{MethodRouter, delete, get, post, put};

/// Which credentials a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Health, readiness and our own metrics: always open.
    Open,
    /// Remote write and pushes: the `[auth.write]` credentials.
    Write,
    /// Queries and the rest of the API: the `[auth.read]` credentials.
    Read,
}

/// One method on one path.
#[derive(Clone, Copy)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path as axum matches it (`{name}`, `{*rest}`).
    pub path: &'static str,
    /// The credentials it needs.
    pub class: Class,
    /// Builds its handler, routed for `method` only.
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({:?})", self.method, self.path, self.class)
    }
}

/// Every route. Endpoints that Prometheus serves on POST accept
/// form-encoded POST too (Grafana retries a refused POST as GET, but a
/// valid POST must never get 405). Registering and deleting targets change
/// what the server collects, so they need write credentials.
const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/api/v1/write",
        class: Class::Write,
        handler: || post(write::remote_write),
    },
    Route {
        method: "PUT",
        path: "/metrics/{*grouping}",
        class: Class::Write,
        handler: || put(push::pushgateway),
    },
    Route {
        method: "POST",
        path: "/metrics/{*grouping}",
        class: Class::Write,
        handler: || post(push::pushgateway),
    },
    Route {
        method: "DELETE",
        path: "/metrics/{*grouping}",
        class: Class::Write,
        handler: || delete(push::pushgateway),
    },
    Route {
        method: "POST",
        path: "/api/v1/metrics/custom",
        class: Class::Write,
        handler: || post(push::custom_metrics),
    },
    Route {
        method: "GET",
        path: "/-/healthy",
        class: Class::Open,
        handler: || get(health::healthy),
    },
    Route {
        method: "GET",
        path: "/-/ready",
        class: Class::Open,
        handler: || get(health::ready),
    },
    Route {
        method: "GET",
        path: "/metrics",
        class: Class::Open,
        handler: || get(self_metrics::metrics),
    },
    Route {
        method: "GET",
        path: "/api/v1/status/buildinfo",
        class: Class::Read,
        handler: || get(status::buildinfo),
    },
    Route {
        method: "GET",
        path: "/api/v1/metadata",
        class: Class::Read,
        handler: || get(metadata::metadata),
    },
    Route {
        method: "POST",
        path: "/-/reload",
        class: Class::Write,
        handler: || post(reload::reload),
    },
    Route {
        method: "PUT",
        path: "/-/reload",
        class: Class::Write,
        handler: || put(reload::reload),
    },
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
        path: "/api/v1/status/hourglass/flags",
        class: Class::Read,
        handler: || get(flags::flags),
    },
    Route {
        method: "GET",
        path: "/api/v1/rules",
        class: Class::Read,
        handler: || get(rules::rules),
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts",
        class: Class::Read,
        handler: || get(rules::alerts),
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
        method: "POST",
        path: "/api/v1/otlp/v1/metrics",
        class: Class::Write,
        handler: || post(otlp::metrics),
    },
    Route {
        method: "POST",
        path: "/opentelemetry/v1/metrics",
        class: Class::Write,
        handler: || post(otlp::metrics),
    },
    Route {
        method: "POST",
        path: "/write",
        class: Class::Write,
        handler: || post(influx::write),
    },
    Route {
        method: "POST",
        path: "/api/v2/write",
        class: Class::Write,
        handler: || post(influx::write),
    },
    Route {
        method: "POST",
        path: "/api/v1/read",
        class: Class::Read,
        handler: || post(remote_read::remote_read),
    },
    Route {
        method: "GET",
        path: "/federate",
        class: Class::Read,
        handler: || get(federate::federate),
    },
    Route {
        method: "GET",
        path: "/api/v1/metrics/query",
        class: Class::Read,
        handler: || get(metrics_query::metrics_query),
    },
    Route {
        method: "POST",
        path: "/api/v1/admin/tsdb/snapshot",
        class: Class::Write,
        handler: || post(snapshot::snapshot),
    },
    Route {
        method: "PUT",
        path: "/api/v1/admin/tsdb/snapshot",
        class: Class::Write,
        handler: || put(snapshot::snapshot),
    },
    Route {
        method: "POST",
        path: "/api/v1/admin/tsdb/delete_series",
        class: Class::Write,
        handler: || post(tsdb_delete::delete_series),
    },
    Route {
        method: "POST",
        path: "/api/v1/admin/tsdb/clean_tombstones",
        class: Class::Write,
        handler: || post(tsdb_delete::clean_tombstones),
    },
    Route {
        method: "GET",
        path: "/api/v1/events",
        class: Class::Read,
        handler: || get(events::sse),
    },
    Route {
        method: "GET",
        path: "/api/v1/events/ws",
        class: Class::Read,
        handler: || get(events_ws::ws),
    },
    Route {
        method: "GET",
        path: "/api/v1/events/subscriptions",
        class: Class::Read,
        handler: || get(events::subscriptions),
    },
    Route {
        method: "GET",
        path: "/api/v1/stream",
        class: Class::Read,
        handler: || get(stream::stream),
    },
    Route {
        method: "GET",
        path: "/",
        class: Class::Read,
        handler: || get(crate::ui::index),
    },
    Route {
        method: "GET",
        path: "/ui/{asset}",
        class: Class::Read,
        handler: || get(crate::ui::asset),
    },
];

/// Every route the server answers.
pub fn table() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter()
}

/// The routes of one class, merged per path.
fn class_router(class: Class) -> Router<AppState> {
    table()
        .filter(|r| r.class == class)
        .fold(Router::new(), |router, r| {
            router.route(r.path, (r.handler)())
        })
}

/// All routes: one sub-router per class from [`table`], each with its
/// credentials layer, so the class of a route decides who may call it.
pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.limits().max_body_bytes;
    let meter = || middleware::from_fn_with_state(state.clone(), request_body::meter);
    let write = class_router(Class::Write)
        .route_layer(meter())
        .route_layer(DefaultBodyLimit::max(body_limit))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_write,
        ));
    let read =
        class_router(Class::Read)
            .route_layer(meter())
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_read,
            ));
    class_router(Class::Open)
        .route_layer(meter())
        .merge(write)
        .merge(read)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::server::track,
        ))
        .fallback(health::not_found)
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in table() {
            assert!(seen.insert((r.method, r.path)), "{r:?} listed twice");
        }
        // Building each class's router panics on an overlap.
        for c in [Class::Open, Class::Write, Class::Read] {
            let _ = class_router(c);
        }
    }
}
