//! The HTTP server: routes, shared state, and request accounting.

mod metrics;
mod status;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use hourglass_wal::Wal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use metrics::HttpMetrics;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    wal: Arc<Wal>,
    ready: AtomicBool,
    http: HttpMetrics,
    start_time_unix: f64,
}

impl AppState {
    /// State over an open WAL; not ready until [`AppState::set_ready`].
    pub fn new(wal: Arc<Wal>) -> AppState {
        let start_time_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        AppState {
            inner: Arc::new(Inner {
                wal,
                ready: AtomicBool::new(false),
                http: HttpMetrics::default(),
                start_time_unix,
            }),
        }
    }

    /// Whether `/-/ready` answers 200.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/-/healthy", get(status::healthy))
        .route("/-/ready", get(status::ready))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/metrics", get(metrics::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(status::not_found)
        .with_state(state)
}

/// Counts every routed request by handler and status code.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let t0 = Instant::now();
    let resp = next.run(req).await;
    state
        .inner
        .http
        .observe(&handler, resp.status().as_u16(), t0.elapsed());
    resp
}
