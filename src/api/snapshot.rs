//! `POST|PUT /api/v1/admin/tsdb/snapshot[?skip_head=true]`, in
//! Prometheus's shape: `{"status":"success","data":{"name":"<name>"}}`.
//! The snapshot lands in `<data-dir>/snapshots/<name>/` and opens as a
//! `--data-dir` as it is: partitions hard-linked, the WAL copied (unless
//! `skip_head`), see `hourglass_storage::Storage::snapshot`. Off unless
//! `serve --enable-admin-api`.

use super::envelope::{ApiError, ApiResult, success};
use super::params::Params;
use crate::server::AppState;
use axum::extract::State;
use hourglass_query::ErrorKind;
use serde_json::json;

/// The admin API is switched off: 503 `unavailable`, as Prometheus.
pub(crate) fn admin_disabled() -> ApiError {
    ApiError {
        kind: ErrorKind::Unavailable,
        message: "admin APIs disabled".to_string(),
    }
}

/// Takes the snapshot; the answer names it.
pub async fn snapshot(State(state): State<AppState>, params: Params) -> ApiResult {
    if state.limits().disable_admin_api {
        return Err(admin_disabled());
    }
    let skip_head = params.flag("skip_head")?;
    let storage = state.storage();
    let name = hourglass_storage::snapshot_name();
    let dst = storage.dir().join("snapshots").join(&name);
    let stats = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(dst.parent().unwrap_or(&dst)).map_err(|e| e.to_string())?;
        storage.snapshot(&dst, skip_head).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("create snapshot: {e}")))?;
    tracing::info!(
        dir = %stats.dir.display(),
        partitions = stats.partitions,
        wal_bytes = stats.copied_bytes,
        skip_head,
        "snapshot taken"
    );
    Ok(success(json!({ "name": name }), &[]))
}
