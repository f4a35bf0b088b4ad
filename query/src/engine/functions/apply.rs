//! Applying a per-value or per-window function over every series of an
//! argument.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range::{self, MatrixArg};
use super::super::selected;
use super::super::value::{GSeries, merge_same_labels, merge_unless_distinct, one_name};
use hourglass_storage::Sample;

/// One value per window end for every series of `m`, from `vals` (the
/// series' samples, its start timestamps (empty when it has none), the
/// ends, scratch state that each worker reuses from series to series):
/// the metric name dropped, broadcast to `n` steps, merged unless a name
/// told series apart.
pub(super) fn per_series<S, F>(
    ctx: &Ctx,
    m: MatrixArg,
    n: usize,
    vals: F,
) -> Result<Vec<GSeries>, EvalError>
where
    S: Default,
    F: Fn(&[Sample], &[Sample], &[i64], &mut S) -> Vec<Option<f64>> + Sync + Send,
{
    let distinct = m.name_fixed || one_name(m.series.iter().map(|s| &s.labels));
    let ends = m.ends;
    let mut out = selected::par_map(
        ctx,
        m.series,
        S::default,
        |scratch, labels, smp, _, starts| {
            ctx.admit::<Option<f64>>(ends.len())?;
            Ok(GSeries {
                hists: Vec::new(),
                labels: ctx.drop_name(labels),
                vals: vals(smp, starts, &ends, scratch),
            })
        },
    )?;
    range::broadcast(ctx, &mut out, n)?;
    merge_unless_distinct(out, distinct)
}

/// Applies `f` to every window of every series of `m`; `f` gets the
/// window's samples (never empty) and the step index into `m.ends`.
pub(super) fn over_windows<F>(
    ctx: &Ctx,
    m: MatrixArg,
    n: usize,
    keep_name: bool,
    f: F,
) -> Result<Vec<GSeries>, EvalError>
where
    F: Fn(&[Sample], usize) -> Option<f64> + Sync + Send,
{
    over_windows_prepared(
        ctx,
        m,
        n,
        keep_name,
        |_, _: &mut ()| {},
        |_, smp, lo, hi, k| f(&smp[lo..hi], k),
    )
}

/// [`over_windows`] with a per-series pass first: `prepare` fills scratch
/// state from the series' samples, and `f` gets that state, all samples,
/// the window's index range `lo..hi` (never empty) and the step index.
pub(super) fn over_windows_prepared<S, P, F>(
    ctx: &Ctx,
    m: MatrixArg,
    n: usize,
    keep_name: bool,
    prepare: P,
    f: F,
) -> Result<Vec<GSeries>, EvalError>
where
    S: Default,
    P: Fn(&[Sample], &mut S) + Sync + Send,
    F: Fn(&S, &[Sample], usize, usize, usize) -> Option<f64> + Sync + Send,
{
    let MatrixArg {
        series,
        range: width,
        ends,
        name_fixed,
        ..
    } = m;
    let distinct = keep_name || name_fixed || one_name(series.iter().map(|s| &s.labels));
    let mut out = selected::par_map(ctx, series, S::default, |state, labels, samples, _, _| {
        ctx.admit::<Option<f64>>(ends.len())?;
        prepare(samples, state);
        let vals = range::windows(samples, &ends, width)
            .enumerate()
            .map(|(k, (lo, hi))| {
                if lo == hi {
                    None
                } else {
                    f(state, samples, lo, hi, k)
                }
            })
            .collect();
        Ok(GSeries {
            hists: Vec::new(),
            labels: if keep_name {
                labels.clone()
            } else {
                ctx.drop_name(labels)
            },
            vals,
        })
    })?;
    range::broadcast(ctx, &mut out, n)?;
    merge_unless_distinct(out, distinct)
}

/// Element-wise map over an instant vector, dropping the metric name.
pub(super) fn map_values(
    ctx: &Ctx,
    series: Vec<GSeries>,
    f: impl Fn(f64, usize) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    let out: Vec<GSeries> = series
        .into_iter()
        .map(|mut s| {
            s.labels = ctx.drop_name(&s.labels);
            // Histogram samples are dropped, as Prometheus drops them.
            s.hists = Vec::new();
            for (k, v) in s.vals.iter_mut().enumerate() {
                if let Some(x) = v {
                    *x = f(*x, k);
                }
            }
            s
        })
        .collect();
    merge_same_labels(out)
}
