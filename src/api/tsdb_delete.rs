//! Prometheus's admin API for deletions:
//! `POST /api/v1/admin/tsdb/delete_series` (`match[]`, `start`, `end`)
//! hides the selected samples at once and leaves them to the next
//! compaction; `POST /api/v1/admin/tsdb/clean_tombstones` runs that
//! compaction now. Both answer 204, need write credentials, and answer 503
//! `unavailable` unless `serve --enable-admin-api`, as Prometheus does with its
//! admin API off.

use super::envelope::ApiError;
use super::params::Params;
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hourglass_query::ErrorKind;
use hourglass_storage::StorageError;

/// Most `match[]` in one delete request.
pub const MAX_SELECTORS: usize = 100;

fn admin_off(state: &AppState) -> Option<ApiError> {
    state.limits().disable_admin_api.then(|| ApiError {
        kind: ErrorKind::Unavailable,
        message: "admin APIs disabled".to_string(),
    })
}

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::TooManyTombstones { .. } => ApiError {
            kind: ErrorKind::Unavailable,
            message: e.to_string(),
        },
        e => ApiError::internal(e.to_string()),
    }
}

/// `POST /api/v1/admin/tsdb/delete_series`.
pub async fn delete_series(State(state): State<AppState>, params: Params) -> Response {
    match delete(state, params).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete(state: AppState, params: Params) -> Result<(), ApiError> {
    if let Some(e) = admin_off(&state) {
        return Err(e);
    }
    if params.all("match[]").len() > MAX_SELECTORS {
        return Err(ApiError::param(
            "match[]",
            format!("at most {MAX_SELECTORS} selectors per request"),
        ));
    }
    let sets = params.match_sets()?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = params.range()?;
    let storage = state.storage();
    let n = tokio::task::spawn_blocking(move || storage.delete_series(&sets, start, end))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(storage_error)?;
    tracing::info!(series = n, start, end, "delete_series");
    Ok(())
}

/// `POST /api/v1/admin/tsdb/clean_tombstones`.
pub async fn clean_tombstones(State(state): State<AppState>) -> Response {
    if let Some(e) = admin_off(&state) {
        return e.into_response();
    }
    let storage = state.storage();
    let opts = state.limits().compact.clone();
    let done = tokio::task::spawn_blocking(move || storage.compact(&opts, &mut |_| {})).await;
    match done {
        Ok(Ok(stats)) => {
            tracing::info!(
                groups = stats.groups,
                bytes_in = stats.bytes_in,
                bytes_out = stats.bytes_out,
                "clean_tombstones"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => storage_error(e).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}
