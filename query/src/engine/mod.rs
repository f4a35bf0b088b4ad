//! The PromQL evaluation engine: runs a parsed [`Expr`] over a storage
//! [`Querier`] with Prometheus 3's semantics.
//!
//! Every expression is evaluated once over the whole grid of evaluation
//! times (an instant query is a grid of one step): selectors load each
//! series once and walk its samples across all steps, so a range query
//! costs one pass per series, and series are processed in parallel with
//! rayon. `@` pins a subtree to one time; it is evaluated once and
//! broadcast.

mod aggregate;
mod align;
mod aligned;
mod binary;
mod error;
mod eval;
mod functions;
mod fused;
mod grouping;
pub(crate) mod hist_aggregate;
mod hist_binary;
mod hist_ctx;
pub mod histogram;
mod label_hash;
mod notes;
mod numeric;
mod range;
mod select_k;
mod selected;
mod stats;
mod step_bind;
mod value;

pub use error::{ErrorKind, EvalError};
pub use stats::QueryStats;
pub use value::{InstantSample, RangeSeries, Value};

use crate::admission::{Admission, MemoryBudget};
use crate::parser::ast::{Expr, ValueType};
use crate::parser::duration_expr::{QueryTimes, bind};
use hourglass_storage::{Querier, Sample};
use stats::StepSamples;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use value::{GValue, Grid};

/// Engine-wide settings and limits.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms).
    pub lookback_delta_ms: i64,
    /// Step of subqueries written without one (ms).
    pub default_subquery_step_ms: i64,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Most samples a query may hold in memory at once: samples decoded
    /// from storage while their series is being evaluated, samples kept
    /// for a range-vector result, and the points of the result (as
    /// Prometheus's `--query.max-samples`). A series is released once
    /// evaluated, so a query over many series is not refused for their
    /// total; with parallel evaluation the samples of the series in
    /// flight on other workers count too.
    pub max_samples: usize,
    /// Most series a query may select from storage.
    pub max_series: usize,
    /// Most points per series in a range query.
    pub max_points_per_series: usize,
    /// Most queries (and series/label lookups) running at once; more wait
    /// for a slot (as Prometheus's `--query.max-concurrency`).
    pub max_concurrency: usize,
    /// Longest a request waits for a slot before it is refused.
    pub queue_timeout: Duration,
    /// Samples all running queries together may hold (each query's count
    /// is drawn from it), so concurrent queries cannot exceed it together.
    pub memory_budget_samples: usize,
    /// Prometheus's `promql-delayed-name-removal` (see [`value::DEFERRED_NAME`]).
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            default_subquery_step_ms: 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_series: 1_000_000,
            max_points_per_series: 11_000,
            max_concurrency: 20,
            queue_timeout: Duration::from_secs(120),
            memory_budget_samples: 100_000_000,
            delayed_name_removal: false,
        }
    }
}

/// Per-query overrides.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Overrides [`EngineOptions::lookback_delta_ms`] when > 0.
    pub lookback_delta_ms: Option<i64>,
    /// A shorter timeout than the engine's (the shorter one wins).
    pub timeout: Option<Duration>,
    /// Set to true from another thread to stop the query.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Count samples read by step ([`QueryOutput::samples_per_step`]).
    pub per_step_stats: bool,
}

/// A result with its statistics.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The result.
    pub value: Value,
    /// What it cost.
    pub stats: QueryStats,
    /// Prometheus-style annotations: `warnings` for results that are
    /// probably wrong, `infos` for data the engine had to repair.
    pub warnings: Vec<String>,
    /// See `warnings`.
    pub infos: Vec<String>,
    /// `(step time in ms, samples read)` per step when
    /// [`QueryOptions::per_step_stats`] asked for it, else empty.
    pub samples_per_step: Vec<(i64, u64)>,
}

/// Evaluates PromQL. Cheap to clone and share between threads; clones
/// share one [`Admission`] (concurrency gate and memory budget).
#[derive(Debug, Clone)]
pub struct Engine {
    opts: EngineOptions,
    admission: Arc<Admission>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(EngineOptions::default())
    }
}

impl Engine {
    /// An engine with these options.
    pub fn new(opts: EngineOptions) -> Engine {
        let admission = Arc::new(Admission::new(
            opts.max_concurrency,
            opts.queue_timeout,
            opts.memory_budget_samples,
        ));
        Engine { opts, admission }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// The gate every query and series lookup passes, and the memory
    /// budget all queries draw from.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Evaluates `expr` at time `t` (ms).
    pub fn instant(&self, q: &dyn Querier, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        self.instant_with(q, expr, t, &QueryOptions::default())
            .map(|o| o.value)
    }

    /// Evaluates `expr` at `start, start+step, …, <= end` (ms); the result
    /// is a matrix sorted by labels.
    pub fn range(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value, EvalError> {
        self.range_with(q, expr, start, end, step, &QueryOptions::default())
            .map(|o| o.value)
    }

    /// [`Engine::instant`] with per-query options and statistics.
    pub fn instant_with(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        t: i64,
        qo: &QueryOptions,
    ) -> Result<QueryOutput, EvalError> {
        let t0 = Instant::now();
        let times = QueryTimes {
            start: t,
            end: t,
            step: 0,
            now: t,
        };
        let bound = bind(expr, times).map_err(|reason| EvalError::BadDuration { reason })?;
        let expr = bound.as_ref().unwrap_or(expr);
        let ctx = self.ctx(q, (t, t, 0), qo, 1);
        let grid = Grid {
            start: t,
            step: 1,
            n: 1,
        };
        let value = match expr.value_type() {
            ValueType::Matrix => Value::Matrix(eval::eval_raw_matrix(&ctx, expr, t)?),
            _ => match eval::eval(&ctx, expr, grid)? {
                GValue::Scalar(v) => Value::Scalar {
                    t,
                    v: v.first().copied().unwrap_or(f64::NAN),
                },
                GValue::String(s) => Value::String { t, s },
                GValue::Vector(series) => Value::Vector(
                    ctx.finish(series)?
                        .into_iter()
                        .filter_map(|mut s| {
                            let h = s.hists.first_mut().and_then(Option::take);
                            match (s.vals.first().copied().flatten(), h) {
                                (Some(v), _) => Some(InstantSample {
                                    labels: s.labels,
                                    t,
                                    v,
                                    h: None,
                                }),
                                (None, Some(h)) => Some(InstantSample {
                                    labels: s.labels,
                                    t,
                                    v: f64::NAN,
                                    h: Some(Box::new(h)),
                                }),
                                (None, None) => None,
                            }
                        })
                        .collect(),
                ),
            },
        };
        Ok(ctx.output(value, t0, Duration::ZERO))
    }

    /// [`Engine::range`] with per-query options and statistics.
    pub fn range_with(
        &self,
        q: &dyn Querier,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        qo: &QueryOptions,
    ) -> Result<QueryOutput, EvalError> {
        if step <= 0 {
            return Err(EvalError::BadRange {
                reason: "zero or negative query resolution step widths are not accepted",
            });
        }
        if end < start {
            return Err(EvalError::BadRange {
                reason: "end timestamp must not be before start time",
            });
        }
        let points = end.checked_sub(start).map_or(i64::MAX, |d| d / step);
        if points > self.opts.max_points_per_series as i64 {
            return Err(EvalError::TooManyPoints {
                limit: self.opts.max_points_per_series,
            });
        }
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(EvalError::BadRangeType { got: other.name() });
            }
        }
        let t0 = Instant::now();
        let ctx = self.ctx(q, (start, end, step), qo, points as usize + 1);
        let grid = Grid {
            start,
            step,
            n: points as usize + 1,
        };
        let now = start;
        let times = QueryTimes {
            start,
            end,
            step,
            now,
        };
        let value = step_bind::eval_bound(&ctx, expr, grid, times)?;
        let series = match value {
            GValue::Scalar(v) => vec![value::GSeries {
                hists: Vec::new(),
                labels: Default::default(),
                vals: v.into_iter().map(Some).collect(),
            }],
            GValue::Vector(s) => value::merge_same_labels(ctx.finish(s)?)?,
            GValue::String(_) => return Err(EvalError::BadRangeType { got: "string" }),
        };
        // The result's points are held too, as Prometheus counts them.
        let points: usize = series
            .iter()
            .map(|s| {
                s.vals.iter().filter(|v| v.is_some()).count()
                    + s.hists.iter().filter(|h| h.is_some()).count()
            })
            .sum();
        ctx.keep(points)?;
        let mut out: Vec<RangeSeries> = series
            .into_iter()
            .map(|s| {
                // At its exact size: grown by doubling it would hold up to
                // twice what was counted.
                let mut points = Vec::with_capacity(s.vals.iter().filter(|v| v.is_some()).count());
                points.extend(
                    s.vals
                        .iter()
                        .enumerate()
                        .filter_map(|(k, v)| v.map(|v| Sample::new(grid.t(k), v))),
                );
                let histograms = grid.timed(s.hists);
                RangeSeries {
                    points,
                    histograms,
                    labels: s.labels,
                }
            })
            .filter(|s| !s.points.is_empty() || !s.histograms.is_empty())
            .collect();
        let sorting = Instant::now();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(ctx.output(Value::Matrix(out), t0, sorting.elapsed()))
    }

    /// The context of a query over `(start, end, step)` (ms), `steps`
    /// steps.
    fn ctx<'a>(
        &'a self,
        q: &'a dyn Querier,
        (start, end, step): (i64, i64, i64),
        qo: &'a QueryOptions,
        steps: usize,
    ) -> Ctx<'a> {
        let timeout = qo
            .timeout
            .map_or(self.opts.timeout, |t| t.min(self.opts.timeout));
        Ctx {
            querier: q,
            delayed_names: self.opts.delayed_name_removal,
            lookback: qo
                .lookback_delta_ms
                .filter(|&l| l > 0)
                .unwrap_or(self.opts.lookback_delta_ms),
            query_start: start,
            query_end: end,
            query_step: step,
            subquery_step: self.opts.default_subquery_step_ms.max(1),
            deadline: Instant::now().checked_add(timeout),
            timeout,
            cancel: qo.cancel.as_deref(),
            samples: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            bookkeeping: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            select_nanos: AtomicU64::new(0),
            per_step: qo
                .per_step_stats
                .then(|| StepSamples::new(start, step, steps)),
            series: AtomicUsize::new(0),
            downsampled_reads: AtomicUsize::new(0),
            notes: Mutex::new(Vec::new()),
            hist_stash: Mutex::new(Vec::new()),
            stats_only: AtomicBool::new(false),
            lazy_hists: AtomicBool::new(false),
            max_samples: self.opts.max_samples,
            max_series: self.opts.max_series,
            budget: self.admission.memory(),
        }
    }
}

/// The unit of accounting: a sample (`i64` time and `f64` value), and
/// also a grid slot (`Option<f64>`).
const SAMPLE_BYTES: usize = 16;

/// The two kinds of annotation Prometheus returns beside a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    Warning,
    Info,
}

/// Everything one query's evaluation shares.
pub(crate) struct Ctx<'a> {
    pub querier: &'a dyn Querier,
    pub lookback: i64,
    pub delayed_names: bool, // EngineOptions::delayed_name_removal
    pub query_start: i64,
    pub query_end: i64,
    /// The query's step; 0 for an instant query.
    pub query_step: i64,
    pub subquery_step: i64,
    deadline: Option<Instant>,
    timeout: Duration,
    cancel: Option<&'a AtomicBool>,
    /// Samples loaded in all (for statistics).
    samples: AtomicUsize,
    /// Samples held now (for the limit).
    held: AtomicUsize,
    /// Bookkeeping drawn from the budget alone, in sample units, until the
    /// query ends.
    bookkeeping: AtomicUsize,
    /// The most `held` has been (for statistics).
    peak: AtomicUsize,
    /// Time spent selecting series from storage.
    select_nanos: AtomicU64,
    /// Samples loaded by step, when asked for.
    per_step: Option<StepSamples>,
    series: AtomicUsize,
    /// Selects that read downsampled spans (`avg_over_time` then weighs).
    downsampled_reads: AtomicUsize,
    notes: Mutex<Vec<(Note, String)>>,
    /// The histogram-carrying series of range arguments, keyed by the
    /// address of their AST node, until the function that called for the
    /// argument takes them (float functions never look).
    hist_stash: Mutex<Vec<(usize, range::HistMatrix)>>,
    /// Set while evaluating below `histogram_count`/`_sum`/`_avg` (and no
    /// nearer `histogram_quantile`/`_fraction` or binary operator): as
    /// Prometheus's statistics-only reads, selectors then give each
    /// histogram without a reset hint the hint its predecessor implies.
    stats_only: AtomicBool,
    /// Set while selecting the range argument of a histogram sum that may
    /// fold series by series: histograms still in chunks stay there.
    lazy_hists: AtomicBool,
    max_samples: usize,
    max_series: usize,
    /// The server-wide budget `held` is drawn from.
    budget: &'a MemoryBudget,
}

/// Whatever the query still holds goes back to the server-wide budget when
/// its evaluation ends, whether it failed or not.
impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.budget
            .give_back(*self.held.get_mut() + *self.bookkeeping.get_mut());
    }
}

impl Ctx<'_> {
    /// Evaluates a sub-expression over `g`: how operators and functions
    /// reach their operands without importing the evaluator that calls
    /// them.
    pub(crate) fn eval(&self, e: &Expr, g: Grid) -> Result<GValue, EvalError> {
        eval::eval(self, e, g)
    }

    /// Fails once the query is out of time or cancelled; called in every
    /// loop over series so a stopped query frees its memory promptly.
    pub fn check(&self) -> Result<(), EvalError> {
        if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(EvalError::Canceled);
        }
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(EvalError::Timeout {
                after: self.timeout,
            });
        }
        Ok(())
    }

    /// Counts `n` more samples held, without counting them as loaded:
    /// against the query's limit and drawn from the server-wide budget.
    /// Nothing is counted when either refuses. Every allocation that
    /// grows with steps, series or samples is counted here first.
    pub fn keep(&self, n: usize) -> Result<(), EvalError> {
        let prev = self.held.fetch_add(n, Ordering::Relaxed);
        if prev.checked_add(n).is_none_or(|h| h > self.max_samples) {
            self.held.fetch_sub(n, Ordering::Relaxed);
            return Err(EvalError::TooManySamples {
                limit: self.max_samples,
            });
        }
        if !self.budget.draw(n) {
            self.held.fetch_sub(n, Ordering::Relaxed);
            return Err(EvalError::MemoryBudget {
                limit: self.budget.limit(),
            });
        }
        self.peak.fetch_max(prev + n, Ordering::Relaxed);
        Ok(())
    }

    /// Draws `bytes` of bookkeeping (picked series, their chunk handles)
    /// from the server-wide budget until the query ends. The query's own
    /// limit counts samples only, as Prometheus's does.
    pub fn hold_bookkeeping(&self, bytes: usize) -> Result<(), EvalError> {
        let n = bytes.div_ceil(SAMPLE_BYTES);
        if !self.budget.draw(n) {
            return Err(EvalError::MemoryBudget {
                limit: self.budget.limit(),
            });
        }
        self.bookkeeping.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Counts `n` values of `T` (in 16-byte samples, rounded up) before
    /// they are allocated.
    pub fn admit<T>(&self, n: usize) -> Result<(), EvalError> {
        let too_many = EvalError::TooManySamples {
            limit: self.max_samples,
        };
        let bytes = n.checked_mul(size_of::<T>()).ok_or(too_many)?;
        self.keep(bytes.div_ceil(SAMPLE_BYTES))
    }

    /// An empty grid row of `n` steps, counted first.
    pub fn grid(&self, n: usize) -> Result<Vec<Option<f64>>, EvalError> {
        self.admit::<Option<f64>>(n)?;
        Ok(vec![None; n])
    }

    /// `n` copies of `v`, counted first.
    pub fn filled<T: Clone>(&self, v: T, n: usize) -> Result<Vec<T>, EvalError> {
        self.admit::<T>(n)?;
        Ok(vec![v; n])
    }

    /// Lets go of `n` values of `T` counted by [`Ctx::admit`].
    pub fn let_go<T>(&self, n: usize) {
        self.release(n.saturating_mul(size_of::<T>()).div_ceil(SAMPLE_BYTES));
    }

    /// Samples held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Samples the query may still hold before its limit refuses more.
    pub fn room(&self) -> usize {
        self.max_samples.saturating_sub(self.held())
    }

    /// Samples counted by [`Ctx::keep`] that were let go.
    pub fn release(&self, n: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
                Some(h.saturating_sub(n))
            });
        self.budget.give_back(n);
    }

    /// Sets the count back to `before` plus `now`: a subexpression's
    /// inputs and scratch are gone once it returns, and what remains held
    /// is its result (`now` samples); also catches anything it did not
    /// count.
    pub fn settle(&self, before: usize, now: usize) -> Result<(), EvalError> {
        let want = before.saturating_add(now);
        let held = self.held();
        if held > want {
            self.release(held - want);
            Ok(())
        } else {
            self.keep(want - held)
        }
    }

    /// Refuses grids with more points than samples the query may hold.
    pub fn check_points(&self, n: u64) -> Result<(), EvalError> {
        if n > self.max_samples as u64 {
            return Err(EvalError::TooManySamples {
                limit: self.max_samples,
            });
        }
        Ok(())
    }

    pub fn add_series(&self, n: usize) -> Result<(), EvalError> {
        let total = self.series.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.max_series {
            return Err(EvalError::TooManySeries {
                limit: self.max_series,
            });
        }
        Ok(())
    }

    /// The time an `@` modifier pins to.
    pub fn at_time(&self, at: crate::parser::ast::At) -> i64 {
        use crate::parser::ast::At;
        match at {
            At::Timestamp(t) => t,
            At::Start => self.query_start,
            At::End => self.query_end,
        }
    }
}
