//! The `*_over_time` family and other window functions: `changes`,
//! `resets`, `deriv`, `predict_linear`, `double_exponential_smoothing`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::numeric::{kahan_inc, mean, quantile, variance, warn_invalid_quantiles};
use super::super::value::{GSeries, Grid};
use super::apply::{over_windows, over_windows_prepared, per_series};
use super::args::{matrix, matrix_as, scalar_arg};
use super::window_extreme::{Extreme, extremes};
use super::window_sum::{exact_prefix, window_sum};
use crate::parser::ast::Expr;
use hourglass_storage::{ReadAs, Sample};
use std::sync::atomic::Ordering;

/// Least-squares slope (per second) and intercept at `at` (ms), with
/// times taken relative to `at` for accuracy.
fn linear_regression(s: &[Sample], at: i64) -> (f64, f64) {
    let first = s[0].v;
    if s.iter().all(|p| p.v == first) {
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let n = s.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for p in s {
        let x = (p.t - at) as f64 / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn median(vals: &mut [f64]) -> f64 {
    quantile(0.5, vals)
}

/// Holt's linear smoothing, as Prometheus's `double_exponential_smoothing`.
fn smooth(s: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let mut level = s[0].v;
    let mut prev_level = 0.0;
    let mut trend = s[1].v - s[0].v;
    for (i, p) in s.iter().enumerate().skip(1) {
        if i > 1 {
            trend = tf * (level - prev_level) + (1.0 - tf) * trend;
        }
        let next = sf * p.v + (1.0 - sf) * (level + trend);
        prev_level = level;
        level = next;
    }
    Some(level)
}

/// A window's samples (never empty) to a value.
pub(super) type Kernel = fn(&[Sample]) -> Option<f64>;

/// `f` over every window of the range argument; `keep_name` keeps the
/// metric name (`last_over_time`, `first_over_time`).
pub(super) fn each(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    keep_name: bool,
    f: Kernel,
    read: ReadAs,
) -> Result<Vec<GSeries>, EvalError> {
    over_windows(
        ctx,
        matrix_as(ctx, args.first(), g, read)?,
        g.n,
        keep_name,
        |w, _| f(w),
    )
}

fn values(w: &[Sample]) -> Vec<f64> {
    w.iter().map(|p| p.v).collect()
}

/// `f` of every window's samples and their sum, which comes from the
/// series' prefix sums (exact, allocation-free).
fn summed(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    read: ReadAs,
    f: impl Fn(&[Sample], f64) -> f64 + Sync + Send,
) -> Result<Vec<GSeries>, EvalError> {
    let m = matrix_as(ctx, args.first(), g, read)?;
    over_windows_prepared(
        ctx,
        m,
        g.n,
        false,
        exact_prefix,
        |prefix, smp, lo, hi, _| Some(f(&smp[lo..hi], window_sum(prefix, smp, lo, hi))),
    )
}

/// `sum_over_time`.
pub(super) fn sum(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    summed(ctx, args, g, ReadAs::Sum, |_, sum| sum)
}

/// `avg_over_time`.
pub(super) fn avg(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let before = ctx.downsampled_reads.load(Ordering::Relaxed);
    let plain = summed(ctx, args, g, ReadAs::Avg, |w, sum| {
        // Allocation-free unless the plain sum overflows.
        if sum.is_finite() || w.iter().any(|p| !p.v.is_finite()) {
            sum / w.len() as f64
        } else {
            mean(&values(w))
        }
    })?;
    if ctx.downsampled_reads.load(Ordering::Relaxed) == before {
        return Ok(plain);
    }
    // Downsampled intervals hold different numbers of samples (jitter, a
    // missed scrape): the mean of their means is not the mean. Σsum / Σcount
    // is, over raw samples (each counting 1) as over intervals.
    drop(plain);
    weighted_avg(ctx, args, g)
}

/// `sum_over_time / count_over_time`, window by window.
fn weighted_avg(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let counts: std::collections::HashMap<_, _> =
        each(ctx, args, g, false, counted, ReadAs::Count)?
            .into_iter()
            .map(|s| (s.labels, s.vals))
            .collect();
    let mut sums = sum(ctx, args, g)?;
    for s in &mut sums {
        let n = counts.get(&s.labels);
        for (k, v) in s.vals.iter_mut().enumerate() {
            let c = n.and_then(|n| n.get(k).copied().flatten());
            *v = match (*v, c) {
                (Some(sum), Some(c)) if c > 0.0 => Some(sum / c),
                _ => None,
            };
        }
    }
    sums.retain(GSeries::has_any);
    Ok(sums)
}

/// `count_over_time` over samples read as [`ReadAs::Count`]: their sum.
pub(super) fn counted(w: &[Sample]) -> Option<f64> {
    Some(w.iter().map(|s| s.v).sum())
}

/// `max_over_time` or `min_over_time`, every window of a series in one
/// pass (see [`extremes`]).
pub(super) fn extreme(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    which: Extreme,
) -> Result<Vec<GSeries>, EvalError> {
    let read = match which {
        Extreme::Max => ReadAs::Max,
        Extreme::Min => ReadAs::Min,
    };
    let m = matrix_as(ctx, args.first(), g, read)?;
    let width = m.range;
    per_series(ctx, m, g.n, |smp, _, ends, queue: &mut Vec<usize>| {
        extremes(smp, ends, width, which, queue)
    })
}

/// `stddev_over_time`.
pub(super) fn stddev(w: &[Sample]) -> Option<f64> {
    Some(variance(w.iter().map(|p| p.v)).sqrt())
}

/// `stdvar_over_time`.
pub(super) fn stdvar(w: &[Sample]) -> Option<f64> {
    Some(variance(w.iter().map(|p| p.v)))
}

/// `last_over_time`.
pub(super) fn last(w: &[Sample]) -> Option<f64> {
    w.last().map(|p| p.v)
}

/// `first_over_time`.
pub(super) fn first(w: &[Sample]) -> Option<f64> {
    w.first().map(|p| p.v)
}

/// `ts_of_last_over_time`.
pub(super) fn ts_of_last(w: &[Sample]) -> Option<f64> {
    w.last().map(|p| p.t as f64 / 1000.0)
}

/// `ts_of_first_over_time`.
pub(super) fn ts_of_first(w: &[Sample]) -> Option<f64> {
    w.first().map(|p| p.t as f64 / 1000.0)
}

/// `ts_of_max_over_time`: on ties the latest sample wins.
pub(super) fn ts_of_max(w: &[Sample]) -> Option<f64> {
    let mut best: Option<Sample> = None;
    for p in w {
        if best.is_none_or(|b| p.v >= b.v || b.v.is_nan()) {
            best = Some(*p);
        }
    }
    best.map(|b| b.t as f64 / 1000.0)
}

/// `ts_of_min_over_time`: on ties the latest sample wins.
pub(super) fn ts_of_min(w: &[Sample]) -> Option<f64> {
    let mut best: Option<Sample> = None;
    for p in w {
        if best.is_none_or(|b| p.v <= b.v || b.v.is_nan()) {
            best = Some(*p);
        }
    }
    best.map(|b| b.t as f64 / 1000.0)
}

/// `present_over_time`.
pub(super) fn present(_: &[Sample]) -> Option<f64> {
    Some(1.0)
}

/// `mad_over_time`: the median absolute deviation; a NaN in the window
/// leaves the median undefined, so the answer is NaN.
pub(super) fn mad(w: &[Sample]) -> Option<f64> {
    if w.iter().any(|p| p.v.is_nan()) {
        return Some(f64::NAN);
    }
    let mut v = values(w);
    let med = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    Some(median(&mut dev))
}

/// `changes`.
pub(super) fn changes(w: &[Sample]) -> Option<f64> {
    let c = w
        .windows(2)
        .filter(|p| !(p[0].v == p[1].v || (p[0].v.is_nan() && p[1].v.is_nan())))
        .count();
    Some(c as f64)
}

/// `resets`.
pub(super) fn resets(w: &[Sample]) -> Option<f64> {
    Some(w.windows(2).filter(|p| p[1].v < p[0].v).count() as f64)
}

/// `deriv`.
pub(super) fn deriv(w: &[Sample]) -> Option<f64> {
    (w.len() >= 2).then(|| linear_regression(w, w[0].t).0)
}

/// `quantile_over_time(φ, m)`.
pub(super) fn quantile_over_time(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let q = scalar_arg(ctx, args.first(), g)?;
    let m = matrix(ctx, args.get(1), g)?.per_step(ctx, g)?;
    if !m.series.is_empty() {
        warn_invalid_quantiles(ctx, &q);
    }
    over_windows(ctx, m, g.n, false, |w, k| {
        let q = q.get(k).copied().unwrap_or(q[0]);
        Some(quantile(q, &mut values(w)))
    })
}

/// `predict_linear(m, t)`.
pub(super) fn predict_linear(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let d = scalar_arg(ctx, args.get(1), g)?;
    // Under `@` the window is pinned but the prediction is still anchored
    // at each step's evaluation time.
    let m = matrix(ctx, args.first(), g)?.per_step(ctx, g)?;
    over_windows(ctx, m, g.n, false, |w, k| {
        (w.len() >= 2).then(|| {
            let (slope, icept) = linear_regression(w, g.t(k));
            icept + slope * d.get(k).copied().unwrap_or(d[0])
        })
    })
}

/// `double_exponential_smoothing(m, sf, tf)`.
pub(super) fn double_exponential_smoothing(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let sf = scalar_arg(ctx, args.get(1), g)?;
    let tf = scalar_arg(ctx, args.get(2), g)?;
    for (&s, &t) in sf.iter().zip(&tf) {
        if !(s > 0.0 && s < 1.0) {
            return Err(EvalError::InvalidArgument {
                func: "double_exponential_smoothing",
                reason: format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {s}"),
            });
        }
        if !(t > 0.0 && t < 1.0) {
            return Err(EvalError::InvalidArgument {
                func: "double_exponential_smoothing",
                reason: format!("invalid trend factor. Expected: 0 < tf < 1, got: {t}"),
            });
        }
    }
    let m = matrix(ctx, args.first(), g)?.per_step(ctx, g)?;
    over_windows(ctx, m, g.n, false, |w, k| {
        smooth(w, sf[k.min(sf.len() - 1)], tf[k.min(tf.len() - 1)])
    })
}
