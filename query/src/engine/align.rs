//! The experimental `align <duration>` selector modifier: a selector
//! reads at its step's time (after `@` and `offset`) rounded down to a
//! multiple of the duration, so `metric align 1h` at 7:42 reads at 7:00.

use super::Ctx;
use super::error::EvalError;
use super::range;
use super::selected;
use super::value::{GSeries, Grid, align_down};
use crate::parser::ast::VectorSelector;
use hourglass_storage::{ReadAs, is_stale_nan};

/// An instant selector with `align`: as [`range::vector_selector`], each
/// step reading at its aligned time.
pub(crate) fn vector_selector(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
    timestamps: bool,
    align: i64,
) -> Result<Vec<GSeries>, EvalError> {
    let eg = range::pinned_grid(ctx, vs, g);
    let off = vs.offset.unwrap_or(0);
    ctx.admit::<i64>(eg.n)?;
    let reads: Vec<i64> = eg
        .times()
        .map(|t| align_down(t.saturating_sub(off), align))
        .collect();
    let (Some(&first), Some(&last)) = (reads.first(), reads.last()) else {
        return Ok(Vec::new());
    };
    let lookback = ctx.lookback;
    let mint = first.saturating_sub(lookback).saturating_add(1);
    let raw = range::load(ctx, &vs.matchers, mint, last, true, ReadAs::Last)?;
    let mut out = selected::par_grids(ctx, raw, eg.n, |s, hs, vals| {
        let mut hists = Vec::new();
        for (k, &te) in reads.iter().enumerate() {
            let i = s.partition_point(|p| p.t <= te);
            if let Some(smp) = i.checked_sub(1).and_then(|j| s.get(j))
                && smp.t > te.saturating_sub(lookback)
                && !is_stale_nan(smp.v)
            {
                vals[k] = Some(if timestamps {
                    smp.t as f64 / 1000.0
                } else {
                    smp.v
                });
            }
            if !hs.is_empty() {
                let one = Grid {
                    start: te,
                    step: 1,
                    n: 1,
                };
                let row = range::lookback_hists(
                    ctx,
                    s,
                    hs,
                    one,
                    0,
                    lookback,
                    timestamps,
                    &mut vals[k..=k],
                )?;
                if hists.is_empty() {
                    hists = vec![None; eg.n];
                }
                hists[k] = row.into_iter().next().flatten();
            }
        }
        Ok(hists)
    })?;
    range::broadcast(ctx, &mut out, g.n)?;
    Ok(out)
}
