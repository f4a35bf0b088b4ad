//! The route table: every route with its method and the credentials it
//! needs, as data. The router is built from it class by class (one
//! sub-router per class, each with its own auth layer), so no route can
//! exist without a class, and tests enumerate it to prove each one refuses
//! a caller without the right credentials.

use super::AppState;
use super::{metadata, metrics, push, reload, status, write};
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

/// Routes served outside `/api/v1/...` query API (which `crate::api`
/// lists).
const SERVER_ROUTES: &[Route] = &[
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
        handler: || get(status::healthy),
    },
    Route {
        method: "GET",
        path: "/-/ready",
        class: Class::Open,
        handler: || get(status::ready),
    },
    Route {
        method: "GET",
        path: "/metrics",
        class: Class::Open,
        handler: || get(metrics::metrics),
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
];

/// Every route the server answers.
pub fn table() -> impl Iterator<Item = &'static Route> {
    SERVER_ROUTES.iter().chain(crate::api::ROUTES)
}

/// The routes of one class, merged per path.
pub(super) fn class_router(class: Class) -> axum::Router<AppState> {
    table()
        .filter(|r| r.class == class)
        .fold(axum::Router::new(), |router, r| {
            router.route(r.path, (r.handler)())
        })
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
