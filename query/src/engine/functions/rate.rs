//! `rate`, `increase`, `delta` (extrapolated), `irate`, `idelta`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range;
use super::super::value::{GSeries, Grid, drop_name, merge_unless_distinct, one_name};
use super::matrix;
use crate::parser::ast::Expr;
use hourglass_storage::Sample;
use rayon::prelude::*;

/// Prometheus's `extrapolatedRate` over `s` (the window's samples) for the
/// window `(start, end]`. `increase` is `last - first` plus, for counters,
/// the value before every reset (given by `resets`).
fn extrapolate(
    s: &[Sample],
    increase: f64,
    start: i64,
    end: i64,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = sampled / (s.len() - 1) as f64;
    let threshold = avg * 1.1;
    let mut to_start = (first.t - start) as f64 / 1000.0;
    let mut to_end = (end - last.t) as f64 / 1000.0;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    // A counter is not extrapolated below zero.
    if counter && increase > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= (end - start) as f64 / 1000.0;
    }
    Some(increase * factor)
}

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
    let distinct = one_name(&m.series);
    let mut out: Vec<GSeries> = m
        .series
        .into_par_iter()
        .map_init(Vec::new, |corrected: &mut Vec<f64>, s| {
            ctx.check()?;
            let smp = &s.samples;
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
                    extrapolate(w, inc, ends[k] - width, ends[k], counter, per_second)
                })
                .collect();
            Ok(GSeries {
                labels: drop_name(&s.labels),
                vals,
            })
        })
        .collect::<Result<_, EvalError>>()?;
    range::broadcast(&mut out, g.n);
    merge_unless_distinct(out, distinct).map(Some)
}

/// `irate`/`idelta`: the last two samples of each window.
fn instant(ctx: &Ctx, is_rate: bool, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let m = matrix(ctx, args.first(), g)?;
    super::over_windows(ctx, m, g.n, false, |_, w, _, _, _| {
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
