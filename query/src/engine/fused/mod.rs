//! Aggregations folded as their input is evaluated.
//!
//! `sum by (instance) (rate(x[5m]))` evaluated in two stages builds a step
//! vector and a name-dropped label set for each of its (possibly many
//! thousand) input series, only for the aggregation to add them up. Here
//! each series' values go straight into its group's per-step accumulator
//! instead: no per-series vectors, no relabelling.
//!
//! Fused inputs are instant selectors and `rate`/`increase`/`delta` of a
//! range selector whose per-series results cannot collide (one metric
//! name, so dropping it keeps series distinct); fused aggregations are
//! those that fold step by step (`sum`, `avg`, `count`, `group`, `min`,
//! `max`). Results are deterministic: series are folded in fixed
//! blocks of input order, and the blocks combined in that order.

mod acc;

use super::Ctx;
use super::error::EvalError;
use super::functions::{self, Emit, rate, unparen};
use super::grouping::group_key;
use super::range::{self, MatrixArg};
use super::selected::{self, Selected};
use super::value::{GSeries, GValue, Grid, NAME, one_name};
use crate::parser::ast::{Aggregate, AggregateOp, Expr, Grouping};
use acc::{Acc, AccStep};
use hourglass_storage::{Labels, Sample};
use std::collections::HashMap;

/// Series folded by one worker before its partial result is handed back.
/// Fixed, so the order of floating-point additions never depends on how
/// rayon happened to split the work.
const BLOCK: usize = 128;

/// An input evaluated one series at a time.
enum Plan {
    /// `rate`, `increase` or `delta` of a range selector: the metric
    /// name is dropped.
    Extrapolated {
        m: MatrixArg,
        /// The steps' fixed spacing, if any.
        step: Option<i64>,
        counter: bool,
        per_second: bool,
    },
    /// An instant selector (without `@`): labels are kept.
    Selector {
        series: Vec<Selected>,
        g: Grid,
        offset: i64,
        lookback: i64,
    },
}

impl Plan {
    /// Hands `emit` the series' value at each step that has one.
    #[inline]
    fn each(&self, smp: &[Sample], emit: &mut impl Emit) {
        match self {
            Plan::Extrapolated {
                m,
                step,
                counter,
                per_second,
            } => rate::windowed_each(smp, &m.ends, *step, m.range, *counter, *per_second, emit),
            Plan::Selector {
                g,
                offset,
                lookback,
                ..
            } => range::lookback_each(smp, *g, *offset, *lookback, false, |k, x| emit.one(k, x)),
        }
    }

    fn series(&mut self) -> &mut Vec<Selected> {
        match self {
            Plan::Extrapolated { m, .. } => &mut m.series,
            Plan::Selector { series, .. } => series,
        }
    }
}

/// The input of an aggregation, selected but not yet decoded, if it is
/// one that can be fused.
fn plan(ctx: &Ctx, a: &Aggregate, g: Grid) -> Result<Option<Plan>, EvalError> {
    match unparen(&a.expr) {
        Expr::Vector(vs) if vs.at.is_none() && vs.modifier.is_none() && vs.align.is_none() => {
            let (series, g, offset) = range::selector_load(ctx, vs, g)?;
            Ok(Some(Plan::Selector {
                series,
                g,
                offset,
                lookback: ctx.lookback,
            }))
        }
        Expr::Call(c) => {
            let Some((counter, per_second)) = rate::extrapolated(c.func.id) else {
                return Ok(None);
            };
            let Some(arg @ Expr::Matrix(ms)) = c.args.first().map(unparen) else {
                return Ok(None);
            };
            // `@` evaluates one step and broadcasts it: left to the
            // general path. The input drops the metric name, so grouping
            // by it groups nothing: left to the general path too.
            let by_name = matches!(&a.grouping,
                Some(Grouping::By(names)) if names.iter().any(|n| n == NAME));
            if ms.vector.at.is_some()
                || ms.vector.modifier.is_some()
                || ms.vector.align.is_some()
                || by_name
            {
                return Ok(None);
            }
            let read = if counter {
                hourglass_storage::ReadAs::Counter
            } else {
                hourglass_storage::ReadAs::Last
            };
            // A histogram sum folds series by series: their histograms
            // are decoded one series at a time (never all at once).
            let m = if matches!(a.op, AggregateOp::Sum | AggregateOp::Avg) {
                ctx.with_lazy_hists(|| range::matrix_arg_as(ctx, arg, g, read))?
            } else {
                range::matrix_arg_as(ctx, arg, g, read)?
            };
            Ok(Some(Plan::Extrapolated {
                step: rate::fixed_step(&m.ends),
                m,
                counter,
                per_second,
            }))
        }
        _ => Ok(None),
    }
}

/// What a fused evaluation gives the aggregation.
pub(crate) enum Fused {
    /// The aggregation's result.
    Done(GValue),
    /// The input evaluated, for the general path to aggregate.
    Input(Vec<GSeries>),
}

/// Evaluates `a` fused with its input, or `None` when it does not qualify
/// (and nothing was selected).
pub(crate) fn eval(ctx: &Ctx, a: &Aggregate, g: Grid) -> Result<Option<Fused>, EvalError> {
    use AggregateOp::*;
    if !matches!(a.op, Sum | Avg | Count | Group | Min | Max) {
        return Ok(None);
    }
    let Some(plan) = plan(ctx, a, g)? else {
        return Ok(None);
    };
    // Native histograms are folded by the general path.
    let plan = match plan {
        Plan::Selector { series, .. } if series.iter().any(|s| !s.hists.is_empty()) => {
            return Ok(None);
        }
        Plan::Extrapolated {
            m,
            counter,
            per_second,
            ..
        } if let Expr::Call(c) = unparen(&a.expr)
            && c.args
                .first()
                .is_some_and(|e| ctx.has_hists(range::hist_key(e))) =>
        {
            let input = rate::from_matrix(ctx, m, counter, per_second, g)?;
            if matches!(a.op, Sum | Avg)
                && !input.iter().any(GSeries::has_any)
                && let Some(rows) = fold_hists(ctx, a, c, g)?
            {
                return Ok(Some(Fused::Done(GValue::Vector(rows))));
            }
            let input = functions::with_hist_rows(ctx, c, input, g)?;
            return Ok(Some(Fused::Input(input)));
        }
        plan => plan,
    };
    let mut plan = match plan {
        // Start timestamps are read by the general path.
        Plan::Extrapolated {
            m,
            counter,
            per_second,
            ..
        } if counter && m.series.iter().any(Selected::has_starts) => {
            let input = rate::from_matrix(ctx, m, counter, per_second, g)?;
            return Ok(Some(Fused::Input(input)));
        }
        // Per-series results may share labels, which is an error (or a
        // merge) the general path knows how to report.
        Plan::Extrapolated {
            m,
            counter,
            per_second,
            ..
        } if !m.name_fixed && !one_name(m.series.iter().map(|s| &s.labels)) => {
            let input = rate::from_matrix(ctx, m, counter, per_second, g)?;
            return Ok(Some(Fused::Input(input)));
        }
        plan => plan,
    };
    if let Plan::Extrapolated {
        m, counter: true, ..
    } = &plan
    {
        rate::note_non_counters(ctx, m);
    }
    let series = std::mem::take(plan.series());
    // Groups are keyed once, in input order.
    let mut keys: Vec<Labels> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let groups: Vec<usize> = if a.grouping.is_none() {
        // One group: no key to build per series.
        keys.push(Labels::default());
        vec![0; series.len()]
    } else {
        series
            .iter()
            .map(|s| {
                let key = group_key(&s.labels, &a.grouping);
                *index.entry(key).or_insert_with_key(|k| {
                    keys.push(k.clone());
                    keys.len() - 1
                })
            })
            .collect()
    };
    ctx.check()?;
    let op = a.op;
    let n = g.n;
    let mut total: Vec<Option<Acc>> = (0..keys.len()).map(|_| None).collect();
    selected::par_blocks(
        ctx,
        series,
        BLOCK,
        Partial::default,
        |part: &mut Partial, i, smp| {
            let acc = part.group(ctx, groups[i], op, n)?;
            if acc.fold(op, &plan, smp) {
                acc.first = acc.first.min(i);
            }
            Ok(())
        },
        |part| {
            for (gi, acc) in part.groups {
                match total.get_mut(gi) {
                    Some(Some(t)) => {
                        t.merge(op, &acc);
                        ctx.let_go::<AccStep>(n);
                    }
                    Some(slot) => *slot = Some(acc),
                    None => ctx.let_go::<AccStep>(n),
                }
            }
        },
    )?;
    let mut out: Vec<(usize, GSeries)> = Vec::with_capacity(keys.len());
    for (key, acc) in keys.into_iter().zip(total) {
        let Some(acc) = acc else { continue };
        if acc.first == usize::MAX {
            continue;
        }
        let first = acc.first;
        ctx.admit::<Option<f64>>(n)?;
        let Some(vals) = acc.finish(op) else {
            // An average whose plain sum overflowed needs every value
            // again: rare enough to evaluate the general way.
            return Ok(None);
        };
        out.push((
            first,
            GSeries {
                hists: Vec::new(),
                labels: key,
                vals,
            },
        ));
    }
    // Groups in the order the general path finds them: by the first
    // series that has a value.
    out.sort_by_key(|(first, _)| *first);
    Ok(Some(Fused::Done(GValue::Vector(
        out.into_iter().map(|(_, s)| s).collect(),
    ))))
}

/// `sum`/`avg` of a range function over histogram series only, folded
/// series by series (see [`functions::fold_hist_sum`]).
fn fold_hists(
    ctx: &Ctx,
    a: &Aggregate,
    c: &crate::parser::ast::Call,
    g: Grid,
) -> Result<Option<Vec<GSeries>>, EvalError> {
    let key_of = |l: &Labels| group_key(l, &a.grouping);
    functions::fold_hist_sum(ctx, c, key_of, a.op == AggregateOp::Avg, g)
}

/// One block's accumulators, for the groups its series fall in.
#[derive(Default)]
struct Partial {
    groups: Vec<(usize, Acc)>,
    slot: HashMap<usize, usize>,
}

impl Partial {
    /// The block's accumulators of group `gi`, counted when first made.
    fn group(
        &mut self,
        ctx: &Ctx,
        gi: usize,
        op: AggregateOp,
        n: usize,
    ) -> Result<&mut Acc, EvalError> {
        let next = self.groups.len();
        let s = *self.slot.entry(gi).or_insert(next);
        if s == next {
            ctx.admit::<AccStep>(n)?;
            self.groups.push((gi, Acc::new(op, n)));
        }
        Ok(&mut self.groups[s].1)
    }
}
