//! Metric metadata (type, help, unit) as senders report it, for
//! `/api/v1/metadata`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// What a sender said about one metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    /// `counter`, `gauge`, …
    pub kind: &'static str,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// Latest metadata per metric family. Senders resend it periodically, so
/// keeping it in memory only loses it until the next send after a restart.
#[derive(Debug, Default)]
pub struct MetadataStore {
    by_family: Mutex<HashMap<String, MetricMetadata>>,
}

impl MetadataStore {
    /// Records metadata for `family`, replacing what was there.
    pub fn set(&self, family: &str, md: MetricMetadata) {
        let mut m = self
            .by_family
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match m.get_mut(family) {
            Some(old) if *old == md => {}
            Some(old) => *old = md,
            None => {
                m.insert(family.to_string(), md);
            }
        }
    }

    /// Families and their metadata, sorted by family name.
    pub fn snapshot(&self) -> Vec<(String, MetricMetadata)> {
        let mut v: Vec<(String, MetricMetadata)> = self
            .by_family
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Number of families known.
    pub fn len(&self) -> usize {
        self.by_family
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// `GET /api/v1/metadata[?metric=<name>][&limit=<n>]`, Prometheus's shape:
/// `{"status":"success","data":{"<metric>":[{"type","help","unit"}]}}`.
pub async fn metadata(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = match q.get("limit").map(|l| l.parse::<i64>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n as usize),
        Some(Ok(_)) => None,
        Some(Err(_)) => {
            return crate::api::envelope::ApiError::param("limit", "not an integer")
                .into_response();
        }
    };
    let wanted = q.get("metric").filter(|m| !m.is_empty());
    let mut data = serde_json::Map::new();
    for (family, md) in state.inner.metadata.snapshot() {
        if wanted.is_some_and(|w| *w != family) {
            continue;
        }
        if limit.is_some_and(|l| data.len() >= l) {
            break;
        }
        data.insert(
            family,
            serde_json::json!([{ "type": md.kind, "help": md.help, "unit": md.unit }]),
        );
    }
    axum::Json(serde_json::json!({ "status": "success", "data": data })).into_response()
}
