//! `POST|PUT /-/reload`: reads the scrape configuration file and the rule
//! files again, as SIGHUP does. Off unless `serve --enable-lifecycle`, as Prometheus's
//! `--web.enable-lifecycle`, since it lets a caller change what is scraped.

use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// 200 with an empty body once reloaded; 500 with the reason (line and
/// reason for a bad file) when refused, the running configuration kept;
/// 403 when the lifecycle API is off.
pub async fn reload(State(state): State<AppState>) -> Response {
    if !state.lifecycle_enabled() {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response();
    }
    let scrape = state.scrape().clone();
    let rules = state.rules().cloned();
    let result = tokio::task::spawn_blocking(move || {
        scrape.reload().map_err(|e| e.to_string())?;
        match rules {
            Some(r) => r.reload().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    })
    .await;
    match result {
        Ok(Ok(())) => {
            tracing::info!("scrape config reloaded (/-/reload)");
            StatusCode::OK.into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "scrape config reload refused; the running configuration stays");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}
