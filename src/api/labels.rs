//! `/api/v1/labels`, `/api/v1/label/<name>/values` and `/api/v1/series`,
//! answered from the storage index.

use super::envelope::{ApiError, ApiResult, success};
use super::params::Params;
use crate::server::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use hourglass_query::ErrorKind;
use hourglass_storage::{Labels, Matcher, Querier, Storage, StorageError};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// Runs storage work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
}

fn storage_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("storage: {e}"))
}

fn truncate<T>(v: &mut Vec<T>, limit: Option<usize>, warnings: &mut Vec<String>) {
    if let Some(l) = limit
        && v.len() > l
    {
        v.truncate(l);
        warnings.push("results truncated due to limit".to_string());
    }
}

/// When a lookup must be done by: the engine's query timeout from now.
pub(crate) fn deadline(state: &AppState) -> Instant {
    let timeout = state.engine().options().timeout;
    Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(Instant::now)
}

/// Fails once `deadline` has passed: many `match[]` sets each selecting
/// every series must not hold a slot for ever.
fn check_deadline(deadline: Instant) -> Result<(), ApiError> {
    if Instant::now() > deadline {
        return Err(ApiError {
            kind: ErrorKind::Timeout,
            message: "series lookup timed out: too many match[] selectors over too many series"
                .to_string(),
        });
    }
    Ok(())
}

/// Union of what `f` returns for each matcher set (or for none).
fn union(
    sets: &[Vec<Matcher>],
    deadline: Instant,
    mut f: impl FnMut(&[Matcher]) -> Result<Vec<String>, ApiError>,
) -> Result<Vec<String>, ApiError> {
    if sets.is_empty() {
        return f(&[]);
    }
    let mut all = BTreeSet::new();
    for set in sets {
        check_deadline(deadline)?;
        all.extend(f(set)?);
    }
    Ok(all.into_iter().collect())
}

/// Answers a label lookup over `[start, end]` on a query slot: `lookup`
/// once per `match[]` set (or once with none), the union cut at `limit`.
async fn lookup_names(
    state: AppState,
    params: Params,
    lookup: impl Fn(&dyn Querier, &[Matcher]) -> Result<Vec<String>, StorageError> + Send + 'static,
) -> ApiResult {
    let (start, end) = params.range()?;
    let sets = params.match_sets()?;
    let limit = params.limit()?;
    let slot = super::query::admitted(&state).await?;
    let storage = state.storage();
    let until = deadline(&state);
    let mut names = blocking(move || {
        let _slot = slot;
        let q = storage.querier(start, end);
        union(&sets, until, |m| lookup(&q, m).map_err(storage_error))
    })
    .await?;
    let mut warnings = Vec::new();
    truncate(&mut names, limit, &mut warnings);
    Ok(success(json!(names), &warnings))
}

pub async fn labels(State(state): State<AppState>, params: Params) -> ApiResult {
    lookup_names(state, params, |q, m| q.label_names(m)).await
}

/// Undoes Prometheus's `U__` value escaping of label names in URL paths:
/// `__` is `_`, `_<hex>_` is that code point.
fn unescape_label_name(s: &str) -> Option<String> {
    let Some(rest) = s.strip_prefix("U__") else {
        return Some(s.to_string());
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|&h| h != '_').collect();
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

pub async fn label_values(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    let Path(name) = name.map_err(|e| ApiError::param("name", e.body_text()))?;
    let name = unescape_label_name(&name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_data(format!("invalid label name: {name:?}")))?;
    lookup_names(state, params, move |q, m| q.label_values(&name, m)).await
}

/// Labels as a JSON object, in label order.
pub fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for label in l.iter() {
        m.insert(
            label.name.to_string(),
            Value::String(label.value.to_string()),
        );
    }
    Value::Object(m)
}

/// Distinct label sets of series matching any of `sets` in `[start, end]`,
/// unless `deadline` passes first.
pub fn select_labels(
    storage: &Storage,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
    deadline: Instant,
) -> Result<Vec<Labels>, ApiError> {
    let q = storage.querier(start, end);
    let mut all = BTreeSet::new();
    for set in sets {
        check_deadline(deadline)?;
        for s in q.select(set, start, end).map_err(storage_error)? {
            all.insert(s.labels);
        }
    }
    Ok(all.into_iter().collect())
}

pub async fn series(State(state): State<AppState>, params: Params) -> ApiResult {
    let sets = params.match_sets()?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = params.range()?;
    let limit = params.limit()?;
    let slot = super::query::admitted(&state).await?;
    let storage: Arc<Storage> = state.storage();
    let until = deadline(&state);
    let mut found = blocking(move || {
        let _slot = slot;
        select_labels(&storage, &sets, start, end, until)
    })
    .await?;
    let mut warnings = Vec::new();
    truncate(&mut found, limit, &mut warnings);
    let data: Vec<Value> = found.iter().map(labels_json).collect();
    Ok(success(Value::Array(data), &warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_escaped_label_names() {
        assert_eq!(unescape_label_name("job").as_deref(), Some("job"));
        assert_eq!(
            unescape_label_name("U__http_2e_status__code").as_deref(),
            Some("http.status_code")
        );
        assert_eq!(unescape_label_name("U__bad_zz_"), None);
    }
}
