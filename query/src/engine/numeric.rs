//! Float arithmetic shared by aggregations and window functions:
//! compensated sums, mean, variance, quantiles and NaN-aware orders.

use super::{Ctx, Note};
use std::cmp::Ordering;

/// Prometheus's warning for each φ (one per step) outside [0, 1] or NaN:
/// the answer is still given (±Inf or NaN).
pub(crate) fn warn_invalid_quantiles(ctx: &Ctx, qs: &[f64]) {
    let mut last = None;
    for &q in qs {
        let bad = q.is_nan() || !(0.0..=1.0).contains(&q);
        if bad && last.is_none_or(|l: f64| l.to_bits() != q.to_bits()) {
            ctx.note(
                Note::Warning,
                format!("PromQL warning: quantile value should be between 0 and 1, got {q}"),
            );
            last = Some(q);
        }
    }
}

/// Kahan-compensated running sum: returns the new (sum, compensation).
/// An infinite sum resets the compensation so it cannot turn into NaN.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    // Written as selects, which compile without branches.
    let lost = if sum.abs() >= inc.abs() {
        (sum - t) + inc
    } else {
        (inc - t) + sum
    };
    let c = if t.is_infinite() { 0.0 } else { c + lost };
    (t, c)
}

/// Compensated sum of `vals`.
pub(crate) fn kahan_sum(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in vals {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// Mean that survives overflow of the plain sum.
pub(crate) fn mean(vals: &[f64]) -> f64 {
    let n = vals.len() as f64;
    let sum = kahan_sum(vals.iter().copied());
    if sum.is_finite() || vals.iter().any(|v| !v.is_finite()) {
        return sum / n;
    }
    // The plain sum overflowed: add up the shares instead.
    kahan_sum(vals.iter().map(|v| v / n))
}

/// Population variance (Welford).
pub(crate) fn variance(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in vals {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// φ-quantile with linear interpolation between closest ranks; `vals` is
/// sorted in place (NaN first, as Go's sort does).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(nan_first);
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    vals[lower as usize] * (1.0 - weight) + vals[upper as usize] * weight
}

/// Ascending with NaN before everything.
pub(crate) fn nan_first(a: &f64, b: &f64) -> Ordering {
    nan_at(a, b, Ordering::Less)
}

/// Ascending with NaN after everything.
pub(crate) fn nan_last(a: &f64, b: &f64) -> Ordering {
    nan_at(a, b, Ordering::Greater)
}

/// Ascending, a NaN ordered `nan` to every number.
#[inline]
fn nan_at(a: &f64, b: &f64, nan: Ordering) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => nan,
        (false, true) => nan.reverse(),
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}
