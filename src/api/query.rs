//! `/api/v1/query` and `/api/v1/query_range`: PromQL through the engine.

use super::envelope::{ApiError, ApiResult, ErrorType};
use super::json::query_response;
use super::params::{Params, parse_error_text};
use crate::server::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use hourglass_query::{ErrorKind, EvalError, Expr, QueryOptions, QueryOutput, Slot, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn eval_error(e: &EvalError) -> ApiError {
    let kind = match e.kind() {
        ErrorKind::BadData => ErrorType::BadData,
        ErrorKind::Execution => ErrorType::Execution,
        ErrorKind::Timeout => ErrorType::Timeout,
        ErrorKind::Canceled => ErrorType::Canceled,
        ErrorKind::Internal => ErrorType::Internal,
        ErrorKind::Unavailable => ErrorType::Unavailable,
    };
    ApiError {
        kind,
        message: e.to_string(),
    }
}

/// Sets the flag when dropped: when the client hangs up, axum drops the
/// handler's future, and the evaluation on its worker thread stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What both endpoints read: the parsed query and per-query options.
fn common(state: &AppState, params: &Params) -> Result<(Expr, QueryOptions), ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::param("query", "query is required"))?;
    let expr =
        hourglass_query::parse(text).map_err(|e| ApiError::param("query", parse_error_text(&e)))?;
    let server_timeout = state.engine().options().timeout;
    let timeout = match params.duration("timeout")? {
        Some(ms) if ms > 0 => Duration::from_millis(ms.unsigned_abs()).min(server_timeout),
        _ => server_timeout,
    };
    let lookback = params.duration("lookback_delta")?;
    if lookback.is_some_and(|l| l < 0) {
        return Err(ApiError::param("lookback_delta", "must not be negative"));
    }
    Ok((
        expr,
        QueryOptions {
            lookback_delta_ms: lookback.filter(|&l| l > 0),
            timeout: Some(timeout),
            cancel: None,
        },
    ))
}

/// Drops series past `limit` (Prometheus 3's `limit` parameter).
fn apply_limit(value: &mut Value, limit: Option<usize>, warnings: &mut Vec<String>) {
    let Some(l) = limit else { return };
    let cut = match value {
        Value::Vector(v) if v.len() > l => {
            v.truncate(l);
            true
        }
        Value::Matrix(m) if m.len() > l => {
            m.truncate(l);
            true
        }
        _ => false,
    };
    if cut {
        warnings.push("results truncated due to limit".to_string());
    }
}

/// Waits for one of the engine's query slots (see
/// `hourglass_query::Admission`); 503 `unavailable` when none frees up in
/// time.
pub(crate) async fn admitted(state: &AppState) -> Result<Slot, ApiError> {
    state
        .engine()
        .admission()
        .enter()
        .await
        .map_err(|e| ApiError {
            kind: ErrorType::Unavailable,
            message: e.to_string(),
        })
}

async fn run(
    state: AppState,
    mut opts: QueryOptions,
    eval: impl FnOnce(&AppState, &QueryOptions) -> Result<QueryOutput, EvalError> + Send + 'static,
    limit: Option<usize>,
) -> ApiResult {
    let slot = admitted(&state).await?;
    let cancel = Arc::new(AtomicBool::new(false));
    opts.cancel = Some(Arc::clone(&cancel));
    let _guard = CancelOnDrop(cancel);
    // The slot is held until the evaluation itself ends, even when the
    // client has gone and the worker is still noticing the cancellation.
    let result = tokio::task::spawn_blocking(move || {
        let out = eval(&state, &opts);
        drop(slot);
        out
    })
    .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
    let QueryOutput {
        mut value,
        mut warnings,
        infos,
        ..
    } = result.map_err(|e| eval_error(&e))?;
    apply_limit(&mut value, limit, &mut warnings);
    let body = query_response(&value, &warnings, &infos);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET|POST /api/v1/query?query=…[&time=…][&timeout=…][&lookback_delta=…][&limit=…]`
pub async fn instant(State(state): State<AppState>, params: Params) -> ApiResult {
    let (expr, opts) = common(&state, &params)?;
    let t = params.time_or("time", now_ms())?;
    let limit = params.limit()?;
    run(
        state,
        opts,
        move |st, o| {
            let storage = st.storage();
            let q = storage.querier(i64::MIN, i64::MAX);
            st.engine().instant_with(&q, &expr, t, o)
        },
        limit,
    )
    .await
}

/// `GET|POST /api/v1/query_range?query=…&start=…&end=…&step=…`
pub async fn range(State(state): State<AppState>, params: Params) -> ApiResult {
    let (expr, opts) = common(&state, &params)?;
    let start = params.time("start")?;
    let end = params.time("end")?;
    if end < start {
        return Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = params
        .duration("step")?
        .ok_or_else(|| ApiError::param("step", "cannot parse \"\" to a valid duration"))?;
    if step <= 0 {
        return Err(ApiError::param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let limit = params.limit()?;
    run(
        state,
        opts,
        move |st, o| {
            let storage = st.storage();
            let q = storage.querier(i64::MIN, i64::MAX);
            st.engine().range_with(&q, &expr, start, end, step, o)
        },
        limit,
    )
    .await
}
