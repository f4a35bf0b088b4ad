//! `histogram_quantile` and `histogram_fraction` over classic `le`
//! buckets.

use super::super::error::EvalError;
use super::super::histogram::buckets::merge_sorted;
use super::super::value::{GSeries, Grid, merge_same_labels};
use super::super::{Ctx, Note};
use super::args::{scalar_arg, vector_arg};
use super::hist_instant;
use crate::parser::ast::Expr;
use hourglass_storage::Labels;
use std::collections::HashMap;

/// The φ-quantile of one histogram given as (upper bound, cumulative
/// count) buckets in any order.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> (f64, bool) {
    let mut forced = false;
    let v = bucket_quantile_inner(q, buckets, &mut forced);
    (v, forced)
}

/// Sorts the buckets, adds up those of the same bound and makes the
/// counts monotonic (`forced` when that changed more than float noise).
/// False when they do not make a histogram (no `+Inf` bucket).
fn prepare(buckets: &mut Vec<(f64, f64)>, forced: &mut bool) -> bool {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    match buckets.last() {
        Some(&(ub, _)) if ub == f64::INFINITY => {}
        _ => return false,
    }
    merge_sorted(buckets);
    // Counts must not decrease; scraping races make them, so take the
    // running maximum (which also smooths float noise).
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.1 < max {
            // Differences within float noise are smoothed silently.
            if max - b.1 > 1e-12 * max.abs() {
                *forced = true;
            }
            b.1 = max;
        } else if !b.1.is_nan() {
            max = b.1;
        }
    }
    true
}

fn bucket_quantile_inner(q: f64, buckets: &mut Vec<(f64, f64)>, forced: &mut bool) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if !prepare(buckets, forced) || buckets.len() < 2 {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].1;
    if total == 0.0 || total.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * total;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|x| x.1 < rank);
    if b == last {
        return buckets[last - 1].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// The fraction of a histogram's observations between `lower` and
/// `upper`, interpolating linearly within buckets (the lowest bucket
/// starting at 0 when its bound is positive), as `bucket_quantile` does.
pub(crate) fn bucket_fraction(
    lower: f64,
    upper: f64,
    buckets: &mut Vec<(f64, f64)>,
) -> (f64, bool) {
    let mut forced = false;
    if !prepare(buckets, &mut forced) {
        return (f64::NAN, forced);
    }
    let total = buckets[buckets.len() - 1].1;
    if total == 0.0 || total.is_nan() || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, forced);
    }
    if lower >= upper {
        return (0.0, forced);
    }
    // The estimated count of observations at or below `x`.
    let rank = |x: f64| {
        let (mut prev_ub, mut prev_c) = (f64::NEG_INFINITY, 0.0);
        for (i, &(ub, c)) in buckets.iter().enumerate() {
            if x <= ub {
                let lb = match i {
                    0 if ub > 0.0 => 0.0,
                    0 => f64::NEG_INFINITY,
                    _ => prev_ub,
                };
                if x <= lb {
                    return prev_c;
                }
                if ub.is_infinite() || lb.is_infinite() {
                    return if x >= ub { c } else { prev_c };
                }
                return prev_c + (c - prev_c) * (x - lb) / (ub - lb);
            }
            (prev_ub, prev_c) = (ub, c);
        }
        prev_c
    };
    ((rank(upper) - rank(lower)) / total, forced)
}

/// `histogram_quantile(φ, v)` of a call's arguments.
pub(super) fn call_quantile(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let q = scalar_arg(ctx, args.first(), g)?;
    let v = vector_arg(ctx, args.get(1), g)?;
    if !v.is_empty() {
        super::super::numeric::warn_invalid_quantiles(ctx, &q);
    }
    let native = hist_instant::quantiles(ctx, &q, &v, g.n)?;
    let classic = per_histogram(ctx, "histogram_quantile", v, g.n, |k, b| {
        bucket_quantile(q[k], b)
    })?;
    with_native(ctx, classic, native)
}

/// Classic and native results together; a labelset both give is a mix
/// of classic and native histograms, which has no answer.
pub(super) fn with_native(
    ctx: &Ctx,
    mut classic: Vec<GSeries>,
    mut native: Vec<(String, GSeries)>,
) -> Result<Vec<GSeries>, EvalError> {
    if native.is_empty() {
        return Ok(classic);
    }
    native.retain(|(name, n)| {
        let mixed = classic.iter().any(|c| c.labels == n.labels);
        if mixed {
            ctx.note(
                Note::Warning,
                format!("PromQL warning: vector contains a mix of classic and native histograms for metric name {name:?}"),
            );
            classic.retain(|c| c.labels != n.labels);
        }
        !mixed
    });
    classic.extend(native.into_iter().map(|(_, s)| s));
    merge_same_labels(classic)
}

/// `histogram_fraction(lower, upper, v)` over classic buckets.
pub(super) fn call_fraction(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let lower = scalar_arg(ctx, args.first(), g)?;
    let upper = scalar_arg(ctx, args.get(1), g)?;
    let v = vector_arg(ctx, args.get(2), g)?;
    let native = hist_instant::fractions(ctx, &lower, &upper, &v, g.n)?;
    let classic = per_histogram(ctx, "histogram_fraction", v, g.n, |k, b| {
        bucket_fraction(lower[k], upper[k], b)
    })?;
    with_native(ctx, classic, native)
}

/// `f` of each classic histogram at each step: series are grouped by their
/// labels without `le`; series without a parsable `le` are ignored. The
/// results drop the metric name; two histograms left with one labelset
/// are an error.
pub(super) fn per_histogram(
    ctx: &Ctx,
    func: &str,
    input: Vec<GSeries>,
    n: usize,
    f: impl Fn(usize, &mut Vec<(f64, f64)>) -> (f64, bool),
) -> Result<Vec<GSeries>, EvalError> {
    let mut keys: Vec<Labels> = Vec::new();
    let mut groups: Vec<Vec<(f64, usize)>> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        // Native histograms carry no `le`; a float series must.
        let le_text = match s.labels.get("le") {
            Some(l) => l,
            None if s.vals.iter().any(Option::is_some) => "",
            None => continue,
        };
        let Some(le) = parse_le(le_text) else {
            ctx.note(
                Note::Warning,
                format!("PromQL warning: bucket label \"le\" is missing or has a malformed value of {le_text:?} for metric name {:?}", s.labels.metric_name().unwrap_or("")),
            );
            continue;
        };
        // Grouped with the metric name (dropped from the result, where
        // two metrics of the same labels are the duplicate Prometheus
        // reports).
        let key = Labels::from_pairs(
            s.labels
                .iter()
                .filter(|p| &*p.name != "le")
                .map(|p| (&*p.name, &*p.value)),
        );
        let gi = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            groups.push(Vec::new());
            keys.len() - 1
        });
        groups[gi].push((le, i));
    }
    let mut out = Vec::with_capacity(keys.len());
    let mut buckets = Vec::new();
    for (key, members) in keys.into_iter().zip(groups) {
        let mut vals = ctx.grid(n)?;
        for (k, slot) in vals.iter_mut().enumerate() {
            buckets.clear();
            buckets.extend(
                members
                    .iter()
                    .filter_map(|&(le, i)| input[i].vals[k].map(|c| (le, c))),
            );
            if buckets.is_empty() {
                continue;
            }
            let (v, forced) = f(k, &mut buckets);
            if forced {
                ctx.note(
                    Note::Info,
                    format!("PromQL info: input to {func} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}", members
                        .first()
                        .and_then(|&(_, i)| input[i].labels.metric_name())
                        .unwrap_or("")),
                );
            }
            *slot = Some(v);
        }
        out.push(GSeries {
            hists: Vec::new(),
            labels: ctx.drop_name(&key),
            vals,
        });
    }
    out.retain(|s| s.vals.iter().any(Option::is_some));
    // Two histograms of different names may meet once the names are gone.
    merge_same_labels(out)
}

/// Go's `strconv.ParseFloat` for bucket bounds (`+Inf`, `1e3`, `0.5`).
fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_interpolates_within_buckets() {
        let b = || vec![(2.0, 20.0), (f64::INFINITY, 40.0), (1.0, 10.0)];
        let frac = |lo: f64, hi: f64| bucket_fraction(lo, hi, &mut b()).0;
        assert_eq!(frac(0.0, 1.0), 0.25);
        assert_eq!(frac(1.0, 1.5), 0.125);
        assert_eq!(frac(0.0, f64::INFINITY), 1.0);
        assert_eq!(frac(f64::NEG_INFINITY, 0.5), 0.125);
        assert_eq!(frac(2.0, f64::INFINITY), 0.5);
        assert_eq!(frac(3.0, 10.0), 0.0);
        assert_eq!(frac(1.0, 0.5), 0.0);
        assert!(frac(f64::NAN, 1.0).is_nan());
        assert!(bucket_fraction(0.0, 1.0, &mut vec![(1.0, 3.0)]).0.is_nan());
    }
}
