//! Health and readiness, shaped as Prometheus's, and the 404 for paths
//! no route matches.

use super::envelope::ApiError;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hourglass_query::ErrorKind;

pub async fn healthy() -> &'static str {
    "Hourglass is Healthy.\n"
}

/// 200 once serving; 503 while starting or stopping, and while the WAL
/// refuses writes (with the reason), so a load balancer sends writes
/// elsewhere. Reads only flags: it answers at once whatever storage does.
pub async fn ready(State(state): State<AppState>) -> Response {
    if !state.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response();
    }
    match state.storage().wal_fault() {
        None => "Hourglass is Ready.\n".into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Service Unavailable: the WAL refuses writes: {why}\n"),
        )
            .into_response(),
    }
}

/// 404 in Prometheus's error envelope under `/api/`, plain text elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError {
            kind: ErrorKind::NotFound,
            message: format!("no such endpoint: {}", uri.path()),
        }
        .into_response()
    } else {
        (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
    }
}
