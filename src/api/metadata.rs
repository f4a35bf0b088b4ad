//! `/api/v1/metadata`: the senders' and the scraped targets' metric
//! metadata, in Prometheus's shape.

use super::envelope::ApiError;
use crate::server::AppState;
use std::collections::HashMap;

/// `GET /api/v1/metadata[?metric=<name>][&limit=<n>][&limit_per_metric=<n>]`,
/// Prometheus's shape: `{"status":"success","data":{"<metric>":[{"type",
/// "help","unit"}]}}`, from senders and scraped targets.
pub async fn metadata(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let positive = |name: &str| match q.get(name).map(|l| l.parse::<i64>()) {
        None => Ok(None),
        Some(Ok(n)) if n > 0 => Ok(Some(n as usize)),
        Some(Ok(_)) => Ok(None),
        Some(Err(_)) => Err(ApiError::param(name, "not an integer")),
    };
    let (limit, per_metric) = match (positive("limit"), positive("limit_per_metric")) {
        (Ok(l), Ok(p)) => (l, p),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let wanted = q.get("metric").filter(|m| !m.is_empty()).cloned();
    let limits = state.limits().metadata;
    let store = state.metadata().snapshot();
    let scrape = state.scrape().clone();
    let all = match tokio::task::spawn_blocking(move || {
        crate::metadata::merged(store, scrape.metadata(), limits)
    })
    .await
    {
        Ok(m) => m,
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let mut data = serde_json::Map::new();
    for (family, entries) in all {
        if wanted.as_ref().is_some_and(|w| *w != family) {
            continue;
        }
        if limit.is_some_and(|l| data.len() >= l) {
            break;
        }
        let list: Vec<serde_json::Value> = entries
            .into_iter()
            .take(per_metric.unwrap_or(usize::MAX))
            .map(|(kind, help, unit)| serde_json::json!({ "type": kind, "help": help, "unit": unit }))
            .collect();
        data.insert(family, serde_json::Value::Array(list));
    }
    axum::Json(serde_json::json!({ "status": "success", "data": data })).into_response()
}
