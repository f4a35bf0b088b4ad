//! Aggregations over instant vectors holding native histograms: `sum` and
//! `avg` add histograms up, `count` and `group` count them, the others
//! ignore them with Prometheus's info annotation.

use super::error::EvalError;
use super::histogram::arith::{add_into, custom_mismatch, map_values};
use super::value::GSeries;
use super::{Ctx, Note};
use crate::parser::ast::AggregateOp;
use hourglass_storage::{CounterResetHint, FloatHistogram};

/// True when any series of `input` carries a histogram.
pub(crate) fn any(input: &[GSeries]) -> bool {
    input.iter().any(|s| s.hists.iter().any(Option::is_some))
}

/// Before a `count` or `group`: every histogram stands in as a float
/// (only presence matters). Other ops that ignore histograms get the
/// annotation.
pub(crate) fn prepare(ctx: &Ctx, op: AggregateOp, input: &mut [GSeries]) {
    use AggregateOp::*;
    match op {
        Count | Group => {
            for s in input.iter_mut() {
                for (k, h) in s.hists.iter_mut().enumerate() {
                    if h.take().is_some() {
                        s.vals[k] = Some(0.0);
                    }
                }
            }
        }
        Sum | Avg | Limitk | LimitRatio => {}
        op => ctx.note(
            Note::Info,
            format!(
                "PromQL info: ignored histogram in {} aggregation",
                op.as_str()
            ),
        ),
    }
}

/// Warns when histograms added up disagree on a counter reset (one says
/// it is one, another that it is not).
pub(crate) fn note_conflicting_resets<'a>(ctx: &Ctx, hs: impl Iterator<Item = &'a FloatHistogram>) {
    let (mut reset, mut not_reset) = (false, false);
    for h in hs {
        match h.counter_reset_hint {
            CounterResetHint::CounterReset => reset = true,
            CounterResetHint::NotCounterReset => not_reset = true,
            _ => {}
        }
    }
    if reset && not_reset {
        ctx.note(
            Note::Warning,
            "PromQL warning: conflicting counter resets during histogram aggregation".to_string(),
        );
    }
}

/// `sum`/`avg` of the histograms of each group, per step, into the
/// group's row of `out` (one row per group, in group order). A group with
/// floats and histograms at one step gets no value there.
pub(crate) fn sum_into(
    ctx: &Ctx,
    avg: bool,
    input: &[GSeries],
    members: &[Vec<usize>],
    out: &mut [GSeries],
    n: usize,
) -> Result<(), EvalError> {
    for (row, mem) in out.iter_mut().zip(members) {
        ctx.check()?;
        for k in 0..n {
            let mut hists = mem.iter().filter_map(|&i| input[i].hist(k));
            let Some(first) = hists.next() else { continue };
            if mem.iter().any(|&i| input[i].vals[k].is_some()) {
                ctx.note(
                    Note::Warning,
                    "PromQL warning: encountered a mix of histograms and floats for aggregation"
                        .to_string(),
                );
                row.vals[k] = None;
                continue;
            }
            note_conflicting_resets(ctx, mem.iter().filter_map(|&i| input[i].hist(k)));
            let mut acc: FloatHistogram = first.clone();
            let mut count = 1.0;
            let mut ok = true;
            for h in hists {
                count += 1.0;
                if custom_mismatch(&acc, h) {
                    ctx.note(
                        Note::Info,
                        "PromQL info: mismatched custom buckets were reconciled during aggregation"
                            .to_string(),
                    );
                }
                match add_into(&mut acc, h) {
                    Ok(()) => {}
                    Err(_) => {
                        ctx.note(
                            Note::Warning,
                            format!(
                                "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                                input[mem[0]].labels.metric_name().unwrap_or("")
                            ),
                        );
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            if avg {
                acc = map_values(&acc, |c| c / count);
            }
            acc.counter_reset_hint = CounterResetHint::Gauge;
            if row.hists.is_empty() {
                ctx.admit::<Option<FloatHistogram>>(n)?;
                row.hists = vec![None; n];
            }
            row.vals[k] = None;
            row.hists[k] = Some(acc);
        }
    }
    Ok(())
}
