//! `rate`, `increase`, `delta` (extrapolated), `irate`, `idelta`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range;
use super::super::selected;
use super::super::value::{GSeries, Grid, drop_name, merge_unless_distinct, one_name};
use super::extrapolate::Extrapolator;
use super::matrix;
use crate::parser::ast::Expr;

pub(super) fn call(
    ctx: &Ctx,
    name: &str,
    args: &[Expr],
    g: Grid,
) -> Result<Option<Vec<GSeries>>, EvalError> {
    let (counter, per_second) = match name {
        "rate" => (true, true),
        "increase" => (true, false),
        "delta" => (false, false),
        "irate" | "idelta" => return instant(ctx, name == "irate", args, g).map(Some),
        _ => return Ok(None),
    };
    let m = matrix(ctx, args.first(), g)?;
    let width = m.range;
    let ends = m.ends;
    let distinct = one_name(m.series.iter().map(|s| &s.labels));
    let mut out = selected::par_map(
        ctx,
        m.series,
        Vec::new,
        |corrected: &mut Vec<f64>, labels, smp| {
            // Counter values with every earlier reset added back, so the
            // increase over any window is a difference of two entries.
            // Non-finite values would poison the running sum: fall back to
            // a per-window loop for those series.
            let finite = smp.iter().all(|p| p.v.is_finite());
            corrected.clear();
            if counter && finite {
                let mut acc = 0.0;
                let mut prev = f64::NAN;
                corrected.extend(smp.iter().map(|p| {
                    if p.v < prev {
                        acc += prev;
                    }
                    prev = p.v;
                    p.v + acc
                }));
            }
            let corrected = &*corrected;
            let mut x = Extrapolator::new(width, counter, per_second);
            let vals = range::windows(smp, &ends, width)
                .enumerate()
                .map(|(k, (lo, hi))| {
                    if hi < lo + 2 {
                        return None;
                    }
                    let w = &smp[lo..hi];
                    let inc = if !counter {
                        w[w.len() - 1].v - w[0].v
                    } else if finite {
                        corrected[hi - 1] - corrected[lo]
                    } else {
                        let mut inc = w[w.len() - 1].v - w[0].v;
                        for p in w.windows(2) {
                            if p[1].v < p[0].v {
                                inc += p[0].v;
                            }
                        }
                        inc
                    };
                    Some(x.rate(w[0], w[w.len() - 1], w.len(), inc, ends[k] - width))
                })
                .collect();
            Ok(GSeries {
                labels: drop_name(labels),
                vals,
            })
        },
    )?;
    range::broadcast(&mut out, g.n);
    merge_unless_distinct(out, distinct).map(Some)
}

/// `irate`/`idelta`: the last two samples of each window.
fn instant(ctx: &Ctx, is_rate: bool, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let m = matrix(ctx, args.first(), g)?;
    super::over_windows(ctx, m, g.n, false, |w, _| {
        if w.len() < 2 {
            return None;
        }
        let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
        if !is_rate {
            return Some(last.v - prev.v);
        }
        let dt = (last.t - prev.t) as f64 / 1000.0;
        if dt == 0.0 {
            return None;
        }
        // After a counter reset the last value is the increase.
        let inc = if last.v < prev.v {
            last.v
        } else {
            last.v - prev.v
        };
        Some(inc / dt)
    })
}
