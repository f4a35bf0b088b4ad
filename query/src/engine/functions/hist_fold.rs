//! `sum`/`avg` by group of `rate`, `increase` or `delta` over series
//! holding native histograms only, folded as each series is evaluated:
//! no per-series rows of histograms (see `fused`).

use super::super::histogram::arith::{add_into, custom_mismatch, map_values_in_place};
use super::super::histogram::reset::is_reset;
use super::super::range::HistMatrix;
use super::super::value::GSeries;
use super::super::{Ctx, Note};
use super::hist_range::{Out, Window, answer, hist_windows, incompatible};
use crate::engine::error::EvalError;
use crate::parser::functions::Func as F;
use hourglass_storage::{CounterResetHint, FloatHistogram, HistBuf, Labels};
use rayon::prelude::*;

/// One step of a group's histogram sum.
#[derive(Clone, Default)]
struct SumStep {
    h: Option<FloatHistogram>,
    n: f64,
    /// Histograms that cannot be added met here: no value.
    bad: bool,
}

impl SumStep {
    fn add(&mut self, ctx: &Ctx, h: FloatHistogram, n: f64, name: &str) {
        if self.bad {
            return;
        }
        self.n += n;
        let Some(acc) = &mut self.h else {
            self.h = Some(h);
            return;
        };
        if custom_mismatch(acc, &h) {
            ctx.note(
                Note::Info,
                "PromQL info: mismatched custom buckets were reconciled during aggregation"
                    .to_string(),
            );
        }
        if let Err(e) = add_into(acc, &h) {
            incompatible(ctx, e, name);
            self.bad = true;
            self.h = None;
        }
    }
}

/// Series folded by one worker before its partial sums are handed back;
/// fixed, so the order of additions never depends on the workers.
const FOLD_BLOCK: usize = 128;

/// `sum` (or `avg`) by group of `f` over the histogram series of a range
/// argument that holds no floats, folded as each series is evaluated: no
/// per-series rows of histograms. `groups[i]` is the group of series `i`;
/// one row per group that has a value, in the order of its first series
/// with one (as the general path orders them).
pub(super) fn fold_sum(
    ctx: &Ctx,
    f: F,
    hm: &HistMatrix,
    groups: &[usize],
    keys: Vec<Labels>,
    avg: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let n = hm.ends.len();
    let blocks: Vec<usize> = (0..hm.series.len()).step_by(FOLD_BLOCK).collect();
    type Partial = Vec<(usize, usize, Vec<SumStep>)>;
    let partials = blocks
        .par_iter()
        .map(|&b0| -> Result<Partial, EvalError> {
            // (group, first series with a value, steps)
            let mut part: Partial = Vec::new();
            // The block's series decode one after another into one buffer.
            let mut buf = HistBuf::default();
            let block = hm.series.iter().zip(groups).enumerate();
            for (i, (s, &gi)) in block.skip(b0).take(FOLD_BLOCK) {
                ctx.check()?;
                // Histograms still in chunks: decoded now, let go after.
                let held = match hm.pending.get(i) {
                    Some(Some(it)) => {
                        Some(ctx.decode_hists_into(&s.labels, it.clone(), &mut buf)?)
                    }
                    _ => None,
                };
                let hists: &[(i64, FloatHistogram)] = match held {
                    Some(_) => buf.as_slice(),
                    None => &s.hists,
                };
                let name = s.labels.metric_name().unwrap_or("");
                let resets: Vec<bool> = if matches!(f, F::Rate | F::Increase) {
                    hists
                        .windows(2)
                        .map(|p| is_reset(&p[1].1, &p[0].1))
                        .collect()
                } else {
                    Vec::new()
                };
                let hw = hist_windows(hists, &hm.ends, hm.range);
                for (k, (hlo, hhi)) in hw.enumerate() {
                    let w = Window {
                        resets: resets
                            .get(hlo..hhi.saturating_sub(1).max(hlo))
                            .unwrap_or(&[]),
                        floats: &[],
                        all_floats: &[],
                        hists: &hists[hlo..hhi],
                        end: hm.ends[k],
                        range: hm.range,
                    };
                    let Out::Hist(h) = answer(ctx, f, &w, name) else {
                        continue;
                    };
                    let slot = match part.iter().position(|p| p.0 == gi) {
                        Some(p) => p,
                        None => {
                            ctx.admit::<SumStep>(n)?;
                            part.push((gi, i, vec![SumStep::default(); n]));
                            part.len() - 1
                        }
                    };
                    part[slot].2[k].add(ctx, h, 1.0, name);
                }
                if let Some(held) = held {
                    ctx.release(held);
                }
            }
            Ok(part)
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    let name = hm
        .series
        .first()
        .and_then(|s| s.labels.metric_name())
        .unwrap_or("");
    let mut total: Vec<Option<(usize, Vec<SumStep>)>> = (0..keys.len()).map(|_| None).collect();
    for part in partials {
        for (gi, first, steps) in part {
            match total.get_mut(gi) {
                Some(Some((_, t))) => {
                    for (a, b) in t.iter_mut().zip(steps) {
                        match b.h {
                            _ if b.bad => {
                                *a = SumStep {
                                    bad: true,
                                    ..SumStep::default()
                                }
                            }
                            Some(h) => a.add(ctx, h, b.n, name),
                            None => {}
                        }
                    }
                    ctx.let_go::<SumStep>(n);
                }
                Some(slot) => *slot = Some((first, steps)),
                None => ctx.let_go::<SumStep>(n),
            }
        }
    }
    let mut out: Vec<(usize, GSeries)> = Vec::new();
    for (labels, t) in keys.into_iter().zip(total) {
        let Some((first, steps)) = t else { continue };
        let hists: Vec<Option<FloatHistogram>> = steps
            .into_iter()
            .map(|s| {
                let mut h = s.h?;
                if avg {
                    map_values_in_place(&mut h, |c| c / s.n);
                }
                h.counter_reset_hint = CounterResetHint::Gauge;
                Some(h)
            })
            .collect();
        if hists.iter().any(Option::is_some) {
            out.push((
                first,
                GSeries {
                    labels,
                    vals: vec![None; n],
                    hists,
                },
            ));
        }
    }
    out.sort_by_key(|(first, _)| *first);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}
