//! `/api/v1/query` and `/api/v1/query_range`: PromQL through the engine.

use super::envelope::{ApiError, ApiResult};
use super::json::{format_timestamp, query_response};
use super::params::Params;
use super::query_stats::{StatsWanted, stats_json};
use crate::observe::{MAX_LOGGED_QUERY_BYTES, QueryKind, QueryPhases, SlowQuery, bounded_text};
use crate::server::{AppState, Caller};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use hourglass_query::{ErrorKind, EvalError, Expr, QueryOptions, QueryOutput, Slot, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn eval_error(e: &EvalError) -> ApiError {
    ApiError {
        kind: e.kind(),
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
    query_params(params, state.engine().options().timeout)
}

/// The query and its options, a `timeout` capped at `server_timeout`.
fn query_params(
    params: &Params,
    server_timeout: Duration,
) -> Result<(Expr, QueryOptions), ApiError> {
    let expr = params.expr()?;
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
            per_step_stats: StatsWanted::from_params(params) == StatsWanted::All,
        },
    ))
}

/// Which series of a result are answered: `offset` skipped, at most
/// `limit` kept; `report` adds the paging figures to `data`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// Series skipped.
    pub offset: usize,
    /// Most series kept.
    pub limit: Option<usize>,
    /// Whether `data` says `totalSeries`, `offset` and `limit`.
    pub report: bool,
}

/// Keeps the page of series (Prometheus 3's `limit` parameter is a page
/// at offset 0); returns how many series the result had.
fn apply_page(value: &mut Value, page: Page, warnings: &mut Vec<String>) -> usize {
    fn cut<T>(v: &mut Vec<T>, page: Page) -> bool {
        let skip = page.offset.min(v.len());
        v.drain(..skip);
        match page.limit {
            Some(l) if v.len() > l => {
                v.truncate(l);
                true
            }
            _ => false,
        }
    }
    let (total, truncated) = match value {
        Value::Vector(v) => (v.len(), cut(v, page)),
        Value::Matrix(m) => (m.len(), cut(m, page)),
        _ => (1, false),
    };
    if truncated && !page.report {
        warnings.push("results truncated due to limit".to_string());
    }
    total
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
            kind: ErrorKind::Unavailable,
            message: e.to_string(),
        })
}

/// Budget samples (16 bytes each) drawn per result point while the
/// response is written: the point itself and about 32 bytes of JSON.
const JSON_SAMPLES_PER_POINT: usize = 3;

/// Who asked for a query and what, for its span, its latency and the
/// slow-query log.
pub(crate) struct Asked {
    kind: QueryKind,
    /// When the request reached the handler.
    arrived: Instant,
    text: String,
    /// `time=…` or `start=… end=… step=…`.
    params: String,
    stats: StatsWanted,
    caller: Option<String>,
    remote: Option<SocketAddr>,
}

impl Asked {
    pub(crate) fn new(kind: QueryKind, params: &Params, who: Requester) -> Asked {
        Asked {
            kind,
            arrived: Instant::now(),
            text: params.get("query").unwrap_or_default().to_string(),
            params: String::new(),
            stats: StatsWanted::from_params(params),
            caller: who.caller,
            remote: who.remote,
        }
    }
}

/// Who sent a request: the authenticated caller's name and the peer
/// address, when known.
pub(crate) struct Requester {
    caller: Option<String>,
    remote: Option<SocketAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Requester, Self::Rejection> {
        Ok(Requester {
            caller: parts.extensions.get::<Caller>().map(|c| c.name.clone()),
            remote: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        })
    }
}

/// `name=<seconds>` for each of `times` (ms), space-separated.
fn times_text(times: &[(&str, i64)]) -> String {
    let mut out = String::new();
    for (name, ms) in times {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(name);
        out.push('=');
        format_timestamp(*ms, &mut out);
    }
    out
}

/// What an evaluated query cost (also when its result could not be
/// written out).
struct Outcome {
    phases: QueryPhases,
    samples: usize,
    series: usize,
}

async fn run(
    state: AppState,
    mut opts: QueryOptions,
    eval: impl FnOnce(&AppState, &QueryOptions) -> Result<QueryOutput, EvalError> + Send + 'static,
    page: Page,
    asked: Asked,
) -> ApiResult {
    use tracing::Instrument as _;
    let span = tracing::debug_span!(
        "query",
        kind = asked.kind.as_str(),
        query = ?bounded_text(&asked.text, MAX_LOGGED_QUERY_BYTES),
        params = ?asked.params,
    );
    let queued = Instant::now();
    let slot = admitted(&state).instrument(span.clone()).await?;
    let queue = queued.elapsed();
    let cancel = Arc::new(AtomicBool::new(false));
    opts.cancel = Some(Arc::clone(&cancel));
    let _guard = CancelOnDrop(cancel);
    let stats_wanted = asked.stats;
    let worker = state.clone();
    let in_worker = span.clone();
    // The slot is held until the evaluation itself ends, even when the
    // client has gone and the worker is still noticing the cancellation.
    // The response is written out under the same slot, off the async
    // threads, with the result (and about twice its size again for its
    // JSON) drawn from the memory budget: the evaluation gave its count
    // back when it ended, but the result is still in memory.
    let done = tokio::task::spawn_blocking(move || {
        let _entered = in_worker.enter();
        let state = worker;
        let out = eval(&state, &opts);
        let QueryOutput {
            mut value,
            mut warnings,
            infos,
            stats,
            samples_per_step,
        } = match out {
            Ok(out) => out,
            Err(e) => return (Err(eval_error(&e)), None),
        };
        let cost = Outcome {
            phases: QueryPhases {
                queue,
                prepare: stats.prepare_time,
                inner_eval: stats.inner_eval_time(),
                result_sort: stats.sort_time,
                ..QueryPhases::default()
            },
            samples: stats.samples_loaded,
            series: stats.series_loaded,
        };
        let total = apply_page(&mut value, page, &mut warnings);
        let held = value.points().saturating_mul(JSON_SAMPLES_PER_POINT);
        let Some(_reserved) = state.engine().admission().memory().reserve(held) else {
            let e = ApiError {
                kind: ErrorKind::Unavailable,
                message: format!(
                    "the query's result of {} points cannot be written out within the server's query memory budget now; retry later",
                    value.points()
                ),
            };
            return (Err(e), Some(cost));
        };
        let encoding = Instant::now();
        let stats_text = match stats_wanted {
            StatsWanted::None => None,
            StatsWanted::Summary => Some(stats_json(&stats, queue, None)),
            StatsWanted::All => Some(stats_json(&stats, queue, Some(&samples_per_step))),
        };
        let paging = page.report.then_some((total, page.offset, page.limit));
        let body = query_response(
            &value,
            &warnings,
            &infos,
            paging,
            stats_text.as_deref(),
        );
        drop(slot);
        let mut cost = cost;
        cost.phases.encode = encoding.elapsed();
        (Ok(body), Some(cost))
    })
    .await
    .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
    let took = asked.arrived.elapsed();
    let (result, mut cost) = done;
    if let (Ok(_), Some(cost)) = (&result, &mut cost) {
        cost.phases.total = took;
        state.observe().latency.query(asked.kind, &cost.phases);
    }
    let (samples, series) = cost.as_ref().map_or((0, 0), |c| (c.samples, c.series));
    tracing::debug!(
        parent: &span,
        samples,
        series,
        queue_us = queue.as_micros() as u64,
        prepare_us = cost.as_ref().map_or(0, |c| c.phases.prepare.as_micros() as u64),
        eval_us = cost.as_ref().map_or(0, |c| c.phases.inner_eval.as_micros() as u64),
        encode_us = cost.as_ref().map_or(0, |c| c.phases.encode.as_micros() as u64),
        took_us = took.as_micros() as u64,
        "query done"
    );
    state.observe().slow_queries.report(&SlowQuery {
        kind: asked.kind,
        query: &asked.text,
        params: &asked.params,
        took,
        samples,
        series,
        caller: asked.caller.as_deref(),
        remote: asked.remote,
        error: result.as_ref().err().map(|e| e.kind.error_type()),
    });
    let body = result?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET|POST /api/v1/query?query=…[&time=…][&timeout=…][&lookback_delta=…][&limit=…][&stats=…]`
pub async fn instant(State(state): State<AppState>, who: Requester, params: Params) -> ApiResult {
    let asked = Asked::new(QueryKind::Instant, &params, who);
    answer(state, params, None, asked).await
}

/// `GET|POST /api/v1/query_range?query=…&start=…&end=…&step=…[&stats=…]`
pub async fn range(State(state): State<AppState>, who: Requester, params: Params) -> ApiResult {
    let asked = Asked::new(QueryKind::Range, &params, who);
    answer(state, params, None, asked).await
}

/// When a query is evaluated: at one time, or at each step of a range.
#[derive(Debug, Clone, Copy)]
enum Grid {
    At(i64),
    Steps { start: i64, end: i64, step: i64 },
}

/// A query of `asked.kind` (instant at `time`, or over `start`, `end` and
/// `step`) answering `page` of its series (`None`: the `limit`
/// parameter's).
pub(crate) async fn answer(
    state: AppState,
    params: Params,
    page: Option<Page>,
    mut asked: Asked,
) -> ApiResult {
    let (expr, opts) = common(&state, &params)?;
    let grid = match asked.kind {
        QueryKind::Instant => {
            let t = params.time_or("time", now_ms())?;
            asked.params = times_text(&[("time", t)]);
            Grid::At(t)
        }
        QueryKind::Range => {
            let max_points = state.engine().options().max_points_per_series;
            let (start, end, step) = range_grid(&params, max_points)?;
            asked.params = times_text(&[("start", start), ("end", end), ("step", step)]);
            Grid::Steps { start, end, step }
        }
    };
    let page = match page {
        Some(p) => p,
        None => Page {
            limit: params.limit()?,
            ..Page::default()
        },
    };
    run(
        state,
        opts,
        move |st, o| {
            let storage = st.storage();
            let q = storage.querier(i64::MIN, i64::MAX);
            match grid {
                Grid::At(t) => st.engine().instant_with(&q, &expr, t, o),
                Grid::Steps { start, end, step } => {
                    st.engine().range_with(&q, &expr, start, end, step, o)
                }
            }
        },
        page,
        asked,
    )
    .await
}

/// `start`, `end` and `step` of a range query, checked as Prometheus does,
/// with at most `max_points` steps per series.
fn range_grid(params: &Params, max_points: usize) -> Result<(i64, i64, i64), ApiError> {
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
    // Prometheus's bound, in arithmetic that cannot overflow.
    let points = end.checked_sub(start).map_or(i64::MAX, |d| d / step);
    if points > i64::try_from(max_points).unwrap_or(i64::MAX) {
        return Err(ApiError::param(
            "step",
            format!(
                "exceeded maximum resolution of {max_points} points per timeseries. Try decreasing the query resolution (?step=XX)"
            ),
        ));
    }
    Ok((start, end, step))
}

/// The body of the `query_params` fuzz target: `data` as a form-encoded
/// query string, read by the handlers' own parameter parsing, and
/// evaluated when valid against a tiny store with low limits. Panics only
/// on a bug.
pub fn fuzz_query_params(data: &[u8]) {
    use hourglass_query::{Engine, EngineOptions};
    use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};
    use std::sync::OnceLock;
    static STORE: OnceLock<Option<(Storage, Engine)>> = OnceLock::new();
    let params = Params::from_form(data);
    let _ = params.range();
    let _ = params.match_sets();
    let _ = params.limit();
    let Ok((expr, opts)) = query_params(&params, Duration::from_millis(200)) else {
        return;
    };
    let Some((storage, engine)) = STORE
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("hourglass-fuzz-{}", std::process::id()));
            let mut o = Options::default();
            o.wal.sync = hourglass_wal::SyncPolicy::Never;
            let storage = Storage::open(&dir, o).ok()?;
            let mut batch = WriteBatch::new();
            for i in 0..3 {
                let inst = i.to_string();
                let samples = (0..20)
                    .map(|k| Sample::new(k * 15_000, (k * i) as f64))
                    .collect();
                batch.push(
                    Labels::from_pairs([("__name__", "m"), ("i", inst.as_str())]),
                    samples,
                );
            }
            storage.append(&batch).ok()?;
            let engine = Engine::new(EngineOptions {
                max_samples: 20_000,
                memory_budget_samples: 50_000,
                timeout: Duration::from_millis(200),
                ..EngineOptions::default()
            });
            Some((storage, engine))
        })
        .as_ref()
    else {
        return;
    };
    let q = storage.querier(i64::MIN, i64::MAX);
    if let Ok((start, end, step)) = range_grid(&params, engine.options().max_points_per_series) {
        let _ = engine.range_with(&q, &expr, start, end, step, &opts);
    }
    if let Ok(t) = params.time_or("time", 0) {
        let _ = engine.instant_with(&q, &expr, t, &opts);
    }
    assert_eq!(
        engine.admission().memory().in_use(),
        0,
        "memory not returned"
    );
}
