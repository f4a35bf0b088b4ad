//! Functions of native histogram samples: `histogram_count`, `_sum`,
//! `_avg`, `_stddev`, `_stdvar`, and the native half of
//! `histogram_quantile` and `histogram_fraction`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::histogram::quantile::{fraction, quantile, variance};
use super::super::value::{GSeries, drop_name};
use hourglass_storage::FloatHistogram;

/// `f` of every histogram sample of `input` (floats are ignored); the
/// metric name is dropped.
pub(super) fn per_sample(
    ctx: &Ctx,
    input: &[GSeries],
    n: usize,
    f: impl Fn(usize, &FloatHistogram) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    let mut out = Vec::new();
    for s in input.iter().filter(|s| !s.hists.is_empty()) {
        let mut vals = ctx.grid(n)?;
        for (k, slot) in vals.iter_mut().enumerate() {
            if let Some(h) = s.hist(k) {
                *slot = Some(f(k, h));
            }
        }
        out.push(GSeries {
            labels: drop_name(&s.labels),
            vals,
            hists: Vec::new(),
        });
    }
    Ok(out)
}

/// Which statistic of each histogram.
#[derive(Clone, Copy)]
pub(super) enum Stat {
    Count,
    Sum,
    Avg,
    Stddev,
    Stdvar,
}

pub(super) fn stat(
    ctx: &Ctx,
    input: &[GSeries],
    n: usize,
    which: Stat,
) -> Result<Vec<GSeries>, EvalError> {
    per_sample(ctx, input, n, |_, h| match which {
        Stat::Count => h.count,
        Stat::Sum => h.sum,
        Stat::Avg => h.sum / h.count,
        Stat::Stddev => variance(h).sqrt(),
        Stat::Stdvar => variance(h),
    })
}

/// `histogram_quantile(q, …)` of each native histogram.
pub(super) fn quantiles(
    ctx: &Ctx,
    q: &[f64],
    input: &[GSeries],
    n: usize,
) -> Result<Vec<GSeries>, EvalError> {
    per_sample(ctx, input, n, |k, h| {
        quantile(q.get(k).copied().unwrap_or(f64::NAN), h)
    })
}

/// `histogram_fraction(lower, upper, …)` of each native histogram.
pub(super) fn fractions(
    ctx: &Ctx,
    lower: &[f64],
    upper: &[f64],
    input: &[GSeries],
    n: usize,
) -> Result<Vec<GSeries>, EvalError> {
    let at = |v: &[f64], k: usize| v.get(k).copied().unwrap_or(f64::NAN);
    per_sample(ctx, input, n, |k, h| {
        fraction(at(lower, k), at(upper, k), h)
    })
}
