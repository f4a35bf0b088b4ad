//! The platform's collection API: targets registered, listed and removed
//! over REST (`/api/v1/metrics/targets`), and the collection figures
//! (`/api/v1/metrics/stats`). Errors are `{"error": …, "field": …}`.

mod fields;
mod filters;
mod request;
mod view;

use crate::api::params::Params;
use crate::scrape::registry::{self, RegistryError};
use crate::server::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hourglass_wal::lock::lock;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Largest registration body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A refusal: its status, what is wrong, and the field when one is.
#[derive(Debug)]
pub struct TargetError {
    /// 400, 404, 409, 413, 500.
    pub status: StatusCode,
    /// For people.
    pub error: String,
    /// The request field at fault (`scrape_config.target_url`).
    pub field: Option<String>,
}

impl TargetError {
    /// 400 naming `field`.
    pub fn bad(field: impl Into<String>, error: impl Into<String>) -> TargetError {
        TargetError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    /// 400 about the body as a whole.
    pub fn bad_body(error: impl Into<String>) -> TargetError {
        TargetError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: None,
        }
    }

    fn not_found(id: &str) -> TargetError {
        TargetError {
            status: StatusCode::NOT_FOUND,
            error: format!("no registered target {id:?}"),
            field: Some("target_id".into()),
        }
    }

    fn internal(error: impl Into<String>) -> TargetError {
        TargetError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: error.into(),
            field: None,
        }
    }
}

impl From<crate::api::params::BadParam> for TargetError {
    fn from(b: crate::api::params::BadParam) -> TargetError {
        TargetError::bad(b.name, b.why)
    }
}

impl From<RegistryError> for TargetError {
    fn from(e: RegistryError) -> TargetError {
        let (status, field) = match &e {
            RegistryError::DuplicateId(_) => (StatusCode::CONFLICT, Some("target_id")),
            RegistryError::DuplicateSource { .. } => (StatusCode::CONFLICT, Some("source_id")),
            RegistryError::DuplicateUrl { .. } => {
                (StatusCode::CONFLICT, Some("scrape_config.target_url"))
            }
            RegistryError::Full(_) => (StatusCode::CONFLICT, None),
            RegistryError::File(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        TargetError {
            status,
            error: e.to_string(),
            field: field.map(str::to_string),
        }
    }
}

impl IntoResponse for TargetError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "field": self.field})),
        )
            .into_response()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh id: 16 hex digits from a randomly keyed hash of the source,
/// the URL and the time.
fn new_id(source: &str, url: &str) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(source.as_bytes());
    h.write(url.as_bytes());
    h.write_i64(now_ms());
    format!("{:016x}", h.finish())
}

/// Runs `f` on the registry off the async threads; it hands the new jobs
/// to the scrapers before the lock is released.
async fn with_registry<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut registry::Registry) -> Result<T, TargetError> + Send + 'static,
) -> Result<T, TargetError> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut reg = lock(st.registry());
        let out = f(&mut reg)?;
        st.scrape().set_source_jobs(registry::SOURCE, reg.jobs());
        st.arrivals().sync(&reg);
        Ok(out)
    })
    .await
    .map_err(|e| TargetError::internal(format!("registry task failed: {e}")))?
}

/// `POST /api/v1/metrics/targets`: `MetricCollectionRequest` → 201
/// `MetricTarget`.
pub async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TargetError> {
    let body = body.map_err(|e| TargetError {
        status: e.status(),
        error: format!(
            "{} (registrations are at most {MAX_BODY_BYTES} bytes)",
            e.body_text()
        ),
        field: None,
    })?;
    let t = request::parse(&body, new_id, now_ms())?;
    let id = t.target_id.clone();
    let stored = t.clone();
    with_registry(&state, move |reg| Ok(reg.insert(t)?)).await?;
    tracing::info!(target_id = %id, source_id = %stored.source_id, method = %stored.collection_method, "target registered");
    let body = view::metric_target(&stored, None, now_ms());
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/metrics/targets/{id}"),
        )],
        Json(body),
    )
        .into_response())
}

/// Answers with the JSON `f` builds from the registry and the state of
/// the collection loops, run off the async threads (a registration may
/// hold the lock while its file is fsynced).
async fn from_registry(
    state: &AppState,
    f: impl FnOnce(&registry::Registry, &HashMap<String, view::Seen>) -> Result<Value, TargetError>
    + Send
    + 'static,
) -> Result<Response, TargetError> {
    let loops = view::loops(state.scrape().targets(), state.arrivals().snapshot());
    let st = state.clone();
    let body = tokio::task::spawn_blocking(move || {
        let reg = lock(st.registry());
        f(&reg, &loops)
    })
    .await
    .map_err(|e| TargetError::internal(format!("registry task failed: {e}")))??;
    Ok(Json(body).into_response())
}

/// `GET /api/v1/metrics/targets?health=&source_id=&sort=&order=&limit=&offset=|page=&page_size=`
pub async fn list(State(state): State<AppState>, params: Params) -> Result<Response, TargetError> {
    let q = view::ListQuery::parse(&params)?;
    from_registry(&state, move |reg, loops| {
        let (page, total) = q.apply(reg.iter(), loops, now_ms());
        let mut body = json!({
            "targets": page,
            "total": total,
            "offset": q.offset,
            "limit": q.limit,
        });
        if let Some(p) = reg.load_problem() {
            body["warnings"] = json!([p]);
        }
        Ok(body)
    })
    .await
}

/// `GET /api/v1/metrics/targets/{target_id}`: with its last error.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, TargetError> {
    from_registry(&state, move |reg, loops| {
        let t = reg.get(&id).ok_or_else(|| TargetError::not_found(&id))?;
        Ok(view::metric_target(
            t,
            loops.get(&registry::job_name(&id)),
            now_ms(),
        ))
    })
    .await
}

/// `DELETE /api/v1/metrics/targets/{target_id}`: 204; its loop stops and
/// its series get stale markers (a push source is no longer tracked; its
/// series are left as they are).
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, TargetError> {
    let key = id.clone();
    let removed = with_registry(&state, move |reg| {
        reg.remove(&key)?
            .ok_or_else(|| TargetError::not_found(&key))
    })
    .await?;
    tracing::info!(target_id = %id, source_id = %removed.source_id, method = %removed.collection_method, "target deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/metrics/stats`: `CollectionStats`.
pub async fn stats(State(state): State<AppState>) -> Result<Response, TargetError> {
    let st = state.clone();
    let stats = tokio::task::spawn_blocking(move || st.collection_stats())
        .await
        .map_err(|e| TargetError::internal(format!("stats task failed: {e}")))?;
    Ok(Json(stats).into_response())
}
