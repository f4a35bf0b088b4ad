//! Function calls: dispatch on the function table's name.

mod emit;
mod extrapolate;
mod histogram;
mod label;
mod math;
mod over_time;
pub(crate) mod rate;
mod regular;
mod time;
mod window_sum;

use super::Ctx;
use super::error::EvalError;
use super::eval::eval as eval_expr;
use super::range::{self, MatrixArg};
use super::selected;
use super::value::{
    GSeries, GValue, Grid, drop_name, merge_same_labels, merge_unless_distinct, one_name,
};
use crate::parser::ast::{Call, Expr};
pub(crate) use emit::Emit;
use hourglass_storage::{Labels, MatchOp, Sample};

/// What a family's `call` answers: `None` when the name is not one of its
/// functions.
type FamilyResult = Result<Option<Vec<GSeries>>, EvalError>;

pub(crate) fn call(ctx: &Ctx, c: &Call, g: Grid) -> Result<GValue, EvalError> {
    let name = c.func.name;
    let args = &c.args;
    match name {
        "time" => {
            ctx.admit::<f64>(g.n)?;
            return Ok(GValue::Scalar(
                g.times().map(|t| t as f64 / 1000.0).collect(),
            ));
        }
        "pi" => return Ok(GValue::Scalar(ctx.filled(std::f64::consts::PI, g.n)?)),
        "vector" => {
            let v = scalar_arg(ctx, args.first(), g)?;
            ctx.admit::<Option<f64>>(v.len())?;
            return Ok(GValue::Vector(vec![GSeries {
                labels: Labels::default(),
                vals: v.into_iter().map(Some).collect(),
            }]));
        }
        "scalar" => {
            let series = vector_arg(ctx, args.first(), g)?;
            ctx.admit::<f64>(g.n)?;
            let vals = (0..g.n)
                .map(|k| {
                    let mut it = series.iter().filter_map(|s| s.vals[k]);
                    match (it.next(), it.next()) {
                        (Some(v), None) => v,
                        _ => f64::NAN,
                    }
                })
                .collect();
            return Ok(GValue::Scalar(vals));
        }
        "timestamp" => return timestamp(ctx, args.first(), g).map(GValue::Vector),
        "absent" => {
            let series = vector_arg(ctx, args.first(), g)?;
            let present = |k: usize| series.iter().any(|s| s.vals[k].is_some());
            return absent_result(ctx, args.first(), g.n, present);
        }
        _ => {}
    }
    if let Some(r) = math::call(ctx, name, args, g)? {
        return Ok(GValue::Vector(r));
    }
    if let Some(r) = time::call(ctx, name, args, g)? {
        return Ok(GValue::Vector(r));
    }
    if let Some(r) = label::call(ctx, name, args, g)? {
        return Ok(GValue::Vector(r));
    }
    if name == "histogram_quantile" {
        let q = scalar_arg(ctx, args.first(), g)?;
        let v = vector_arg(ctx, args.get(1), g)?;
        return Ok(GValue::Vector(histogram::quantile(ctx, &q, v, g.n)?));
    }
    if name == "absent_over_time" {
        let m = matrix(ctx, args.first(), g)?;
        let (ends, width) = (&m.ends, m.range);
        let windows: Vec<Vec<(usize, usize)>> = selected::par_map(
            ctx,
            m.series,
            || (),
            |_, _, samples| {
                ctx.admit::<(usize, usize)>(ends.len())?;
                Ok(range::windows(samples, ends, width).collect())
            },
        )?;
        let present = |k: usize| {
            let k = if m.ends.len() == 1 { 0 } else { k };
            windows.iter().any(|w| w[k].0 < w[k].1)
        };
        return absent_result(ctx, args.first(), g.n, present);
    }
    if let Some(r) = rate::call(ctx, name, args, g)? {
        return Ok(GValue::Vector(r));
    }
    if let Some(r) = over_time::call(ctx, name, args, g)? {
        return Ok(GValue::Vector(r));
    }
    // Native-histogram functions and info(): float series carry no
    // histograms and we keep no info metrics, so these select nothing new.
    match name {
        "info" => Ok(GValue::Vector(vector_arg(ctx, args.first(), g)?)),
        _ => Ok(GValue::Vector(Vec::new())),
    }
}

/// `e` without the parentheses around it.
pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(inner) => unparen(inner),
        e => e,
    }
}

pub(super) fn scalar_arg(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<Vec<f64>, EvalError> {
    Ok(match e.map(|e| eval_expr(ctx, e, g)).transpose()? {
        Some(GValue::Scalar(v)) => v,
        _ => ctx.filled(f64::NAN, g.n)?,
    })
}

pub(super) fn vector_arg(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<Vec<GSeries>, EvalError> {
    Ok(match e.map(|e| eval_expr(ctx, e, g)).transpose()? {
        Some(GValue::Vector(v)) => v,
        _ => Vec::new(),
    })
}

pub(super) fn string_arg(e: Option<&Expr>) -> String {
    match e.map(unparen) {
        Some(Expr::String(s)) => s.clone(),
        _ => String::new(),
    }
}

pub(super) fn matrix(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<MatrixArg, EvalError> {
    match e {
        Some(e) => range::matrix_arg(ctx, e, g),
        None => Ok(MatrixArg {
            series: Vec::new(),
            range: 1,
            ends: vec![g.start],
            times: vec![g.start],
            name_fixed: true,
        }),
    }
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
    let mut out = selected::par_map(ctx, series, S::default, |state, labels, samples| {
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
            labels: if keep_name {
                labels.clone()
            } else {
                drop_name(labels)
            },
            vals,
        })
    })?;
    range::broadcast(ctx, &mut out, n)?;
    merge_unless_distinct(out, distinct)
}

/// Element-wise map over an instant vector, dropping the metric name.
pub(super) fn map_values(
    series: Vec<GSeries>,
    f: impl Fn(f64, usize) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    let out: Vec<GSeries> = series
        .into_iter()
        .map(|mut s| {
            s.labels = drop_name(&s.labels);
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

fn timestamp(ctx: &Ctx, e: Option<&Expr>, g: Grid) -> Result<Vec<GSeries>, EvalError> {
    // On a plain selector the sample's own time; otherwise the step's.
    if let Some(Expr::Vector(vs)) = e.map(unparen) {
        let series = range::vector_selector(ctx, vs, g, true)?;
        return map_values(series, |v, _| v);
    }
    let series = vector_arg(ctx, e, g)?;
    map_values(series, |_, k| g.t(k) as f64 / 1000.0)
}

/// `absent`/`absent_over_time`: one series at the steps where the
/// argument had none, labelled from the selector's equality matchers.
fn absent_result(
    ctx: &Ctx,
    arg: Option<&Expr>,
    n: usize,
    present: impl Fn(usize) -> bool,
) -> Result<GValue, EvalError> {
    let matchers = match arg.map(unparen) {
        Some(Expr::Vector(vs)) => vs.matchers.as_slice(),
        Some(Expr::Matrix(ms)) => ms.vector.matchers.as_slice(),
        _ => &[],
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut dup: Vec<&str> = Vec::new();
    for m in matchers {
        if m.op() != MatchOp::Equal || m.name() == "__name__" {
            continue;
        }
        if pairs.iter().any(|(n, _)| *n == m.name()) {
            dup.push(m.name());
        } else {
            pairs.push((m.name(), m.value()));
        }
    }
    pairs.retain(|(n, _)| !dup.contains(n));
    ctx.admit::<Option<f64>>(n)?;
    let vals: Vec<Option<f64>> = (0..n).map(|k| (!present(k)).then_some(1.0)).collect();
    if vals.iter().all(Option::is_none) {
        return Ok(GValue::Vector(Vec::new()));
    }
    Ok(GValue::Vector(vec![GSeries {
        labels: Labels::from_pairs(pairs),
        vals,
    }]))
}
