//! Functions of native histogram samples: `histogram_count`, `_sum`,
//! `_avg`, `_stddev`, `_stdvar`, and the native half of
//! `histogram_quantile` and `histogram_fraction`.

use super::super::error::EvalError;
use super::super::histogram::quantile::{fraction, quantile, variance};
use super::super::value::GSeries;
use super::super::{Ctx, Note};
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
            labels: ctx.drop_name(&s.labels),
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

/// `histogram_quantile(q, …)` of each native histogram, with the metric
/// name each result came from.
pub(super) fn quantiles(
    ctx: &Ctx,
    q: &[f64],
    input: &[GSeries],
    n: usize,
) -> Result<Vec<(String, GSeries)>, EvalError> {
    named(input, |s| {
        per_sample(ctx, std::slice::from_ref(s), n, |k, h| {
            let v = quantile(q.get(k).copied().unwrap_or(f64::NAN), h);
            if h.sum.is_nan() {
                let how = if v.is_nan() { "NaN" } else { "skewed higher" };
                ctx.note(
                    Note::Info,
                    format!(
                        "PromQL info: input to histogram_quantile has NaN observations, result is {how} for metric name {:?}",
                        s.labels.metric_name().unwrap_or("")
                    ),
                );
            }
            v
        })
    })
}

/// `histogram_fraction(lower, upper, …)` of each native histogram, with
/// the metric name each result came from.
pub(super) fn fractions(
    ctx: &Ctx,
    lower: &[f64],
    upper: &[f64],
    input: &[GSeries],
    n: usize,
) -> Result<Vec<(String, GSeries)>, EvalError> {
    let at = |v: &[f64], k: usize| v.get(k).copied().unwrap_or(f64::NAN);
    named(input, |s| {
        per_sample(ctx, std::slice::from_ref(s), n, |k, h| {
            if h.sum.is_nan() {
                ctx.note(
                    Note::Info,
                    format!(
                        "PromQL info: input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name {:?}",
                        s.labels.metric_name().unwrap_or("")
                    ),
                );
            }
            fraction(at(lower, k), at(upper, k), h)
        })
    })
}

/// `f` of each series carrying histograms, tagged with its metric name.
fn named(
    input: &[GSeries],
    f: impl Fn(&GSeries) -> Result<Vec<GSeries>, EvalError>,
) -> Result<Vec<(String, GSeries)>, EvalError> {
    let mut out = Vec::new();
    for s in input.iter().filter(|s| !s.hists.is_empty()) {
        let name = s.labels.metric_name().unwrap_or("").to_string();
        out.extend(f(s)?.into_iter().map(|r| (name.clone(), r)));
    }
    Ok(out)
}
