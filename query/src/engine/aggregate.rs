//! Aggregation operators over the step grid: series are grouped once
//! (labels do not change over time), then each group is folded per step.

use super::error::EvalError;
use super::fused::{self, Fused};
use super::grouping::{group_key, valid_label_name};
use super::hist_aggregate;
use super::numeric::{kahan_inc, kahan_sum, mean, quantile, variance, warn_invalid_quantiles};
use super::select_k::select_series;
use super::value::{DEFERRED_NAME, GSeries, GValue, Grid, NAME, defer_name};
use super::{Ctx, Note};
use crate::parser::ast::{Aggregate, AggregateOp};
use crate::prom_text::plain_float;
use hourglass_storage::Labels;
use std::collections::HashMap;

pub(crate) fn eval(ctx: &Ctx, a: &Aggregate, g: Grid) -> Result<GValue, EvalError> {
    let input = match fused::eval(ctx, a, g)? {
        Some(Fused::Done(v)) => return Ok(v),
        Some(Fused::Input(input)) => input,
        None => match ctx.eval(&a.expr, g)? {
            GValue::Vector(v) => v,
            _ => Vec::new(),
        },
    };
    eval_input(ctx, a, g, input)
}

/// `a` over its already evaluated input.
fn eval_input(
    ctx: &Ctx,
    a: &Aggregate,
    g: Grid,
    mut input: Vec<GSeries>,
) -> Result<GValue, EvalError> {
    let hists = hist_aggregate::any(&input);
    if hists {
        hist_aggregate::prepare(ctx, a.op, &mut input);
    }
    let param = match &a.param {
        Some(p) => Some(ctx.eval(p, g)?),
        None => None,
    };
    if a.op == AggregateOp::Quantile
        && !input.is_empty()
        && let Some(GValue::Scalar(qs)) = &param
    {
        warn_invalid_quantiles(ctx, qs);
    }
    let scalar_param = |k: usize| match &param {
        Some(GValue::Scalar(v)) => v.get(k).copied().unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    // Groups in first-seen order.
    let mut keys: Vec<Labels> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_key(&s.labels, &a.grouping);
        let gi = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            keys.len() - 1
        });
        members[gi].push(i);
    }
    if ctx.delayed_names {
        defer_group_names(&input, &mut keys, &members);
    }
    ctx.check()?;
    use AggregateOp::*;
    if hists && matches!(a.op, Sum | Avg) {
        let mut out = stream_groups(ctx, a.op, &input, keys, &members, g.n)?;
        hist_aggregate::sum_into(ctx, a.op == Avg, &input, &members, &mut out, g.n)?;
        return Ok(GValue::Vector(out));
    }
    let out = match a.op {
        Topk | Bottomk | Limitk | LimitRatio => {
            {
                // As in Prometheus, k (or the ratio) is the parameter's
                // value at the first step, for every step.
                let first = scalar_param(0);
                if a.op == LimitRatio && !(-1.0..=1.0).contains(&first) {
                    ctx.note(
                        Note::Warning,
                        format!(
                            "PromQL warning: ratio value should be between -1 and 1, got {first}, capping to {}",
                            first.clamp(-1.0, 1.0)
                        ),
                    );
                }
                select_series(ctx, a.op, input, &members, g.n, |_| first)?
            }
        }
        CountValues => {
            let label = match &param {
                Some(GValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            if !valid_label_name(&label) {
                return Err(EvalError::InvalidArgument {
                    func: "count_values",
                    reason: format!("invalid label name {label:?}"),
                });
            }
            let mut out: Vec<GSeries> = Vec::new();
            let mut by: HashMap<Labels, usize> = HashMap::new();
            for (key, mem) in keys.iter().zip(&members) {
                for k in 0..g.n {
                    ctx.check()?;
                    for &i in mem {
                        let Some(v) = input[i].vals[k] else { continue };
                        let val = plain_float(v);
                        let labels = Labels::from_pairs(
                            key.iter()
                                .filter(|p| *p.name != *label)
                                .map(|p| (&*p.name, &*p.value))
                                .chain(std::iter::once((label.as_str(), val.as_str()))),
                        );
                        // Each distinct value is a series of its own over
                        // every step: counted before it is allocated.
                        let idx = match by.get(&labels) {
                            Some(&idx) => idx,
                            None => {
                                let vals = ctx.grid(g.n)?;
                                by.insert(labels.clone(), out.len());
                                out.push(GSeries {
                                    hists: Vec::new(),
                                    labels,
                                    vals,
                                });
                                out.len() - 1
                            }
                        };
                        let slot = &mut out[idx].vals[k];
                        *slot = Some(slot.unwrap_or(0.0) + 1.0);
                    }
                }
            }
            out
        }
        op @ (Sum | Avg | Count | Group | Min | Max) => {
            stream_groups(ctx, op, &input, keys, &members, g.n)?
        }
        op => {
            let mut out = Vec::with_capacity(keys.len());
            let mut buf: Vec<f64> = Vec::new();
            for (key, mem) in keys.into_iter().zip(&members) {
                let mut vals = ctx.grid(g.n)?;
                for (k, slot) in vals.iter_mut().enumerate() {
                    buf.clear();
                    buf.extend(mem.iter().filter_map(|&i| input[i].vals[k]));
                    if buf.is_empty() {
                        continue;
                    }
                    *slot = Some(fold(op, &mut buf, scalar_param(k)));
                }
                out.push(GSeries {
                    hists: Vec::new(),
                    labels: key,
                    vals,
                });
            }
            out
        }
    };
    Ok(GValue::Vector(out))
}

/// One row per group, folded by [`stream`].
fn stream_groups(
    ctx: &Ctx,
    op: AggregateOp,
    input: &[GSeries],
    keys: Vec<Labels>,
    members: &[Vec<usize>],
    n: usize,
) -> Result<Vec<GSeries>, EvalError> {
    keys.into_iter()
        .zip(members)
        .map(|(key, mem)| {
            ctx.admit::<StreamStep>(n)?;
            Ok(GSeries {
                hists: Vec::new(),
                vals: stream(op, input, mem, n),
                labels: key,
            })
        })
        .collect()
}

/// What [`stream`] allocates per step: its state and the result.
type StreamStep = (f64, f64, u32, bool, Option<f64>);

/// The simple aggregations, folded series by series (each series' values
/// are contiguous, so this walks memory in order) with per-step state.
fn stream(op: AggregateOp, input: &[GSeries], mem: &[usize], n: usize) -> Vec<Option<f64>> {
    use AggregateOp::*;
    let mut acc = vec![
        if matches!(op, Min | Max) {
            f64::NAN
        } else {
            0.0
        };
        n
    ];
    let mut comp = vec![0.0; n];
    let mut count = vec![0u32; n];
    let mut nonfinite = vec![false; n];
    for &i in mem {
        let vals = &input[i].vals;
        // One loop per operator, zipped so the hot sum has no bounds checks.
        let steps = vals.iter().zip(count.iter_mut()).zip(acc.iter_mut());
        match op {
            Sum | Avg => {
                for (((v, c), a), (cp, nf)) in steps.zip(comp.iter_mut().zip(nonfinite.iter_mut()))
                {
                    if let Some(x) = *v {
                        *c += 1;
                        (*a, *cp) = kahan_inc(x, *a, *cp);
                        *nf |= !x.is_finite();
                    }
                }
            }
            // NaN loses to any number; only all-NaN gives NaN.
            Min => {
                for ((v, c), a) in steps {
                    if let Some(x) = *v {
                        *c += 1;
                        if x < *a || a.is_nan() {
                            *a = x;
                        }
                    }
                }
            }
            Max => {
                for ((v, c), a) in steps {
                    if let Some(x) = *v {
                        *c += 1;
                        if x > *a || a.is_nan() {
                            *a = x;
                        }
                    }
                }
            }
            _ => {
                for ((v, c), _) in steps {
                    *c += u32::from(v.is_some());
                }
            }
        }
    }
    (0..n)
        .map(|k| {
            let c = count[k];
            (c > 0).then(|| match op {
                Count => f64::from(c),
                Group => 1.0,
                Sum | Avg => {
                    let sum = if acc[k].is_infinite() {
                        acc[k]
                    } else {
                        acc[k] + comp[k]
                    };
                    if op == Sum {
                        sum
                    } else if sum.is_finite() || nonfinite[k] {
                        sum / f64::from(c)
                    } else {
                        // The plain sum overflowed: redo this step exactly.
                        let vals: Vec<f64> = mem.iter().filter_map(|&i| input[i].vals[k]).collect();
                        mean(&vals)
                    }
                }
                _ => acc[k],
            })
        })
        .collect()
}

fn fold(op: AggregateOp, vals: &mut [f64], param: f64) -> f64 {
    use AggregateOp::*;
    match op {
        Sum => kahan_sum(vals.iter().copied()),
        Avg => mean(vals),
        Count => vals.len() as f64,
        Group => 1.0,
        // NaN loses to any number; only all-NaN gives NaN.
        Min => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        Max => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        Stdvar => variance(vals.iter().copied()),
        Stddev => variance(vals.iter().copied()).sqrt(),
        Quantile => quantile(param, vals),
        _ => f64::NAN,
    }
}

/// Under delayed name removal, a group kept by `__name__` whose members
/// include one whose name was to be dropped drops it too, when the query
/// ends.
fn defer_group_names(input: &[GSeries], keys: &mut [Labels], members: &[Vec<usize>]) {
    for (key, group) in keys.iter_mut().zip(members) {
        let deferred = group.iter().any(|&i| {
            input
                .get(i)
                .is_some_and(|s| s.labels.get(DEFERRED_NAME).is_some())
        });
        if deferred && key.get(NAME).is_some() {
            *key = defer_name(key);
        }
    }
}
