//! Selectors over the step grid: the lookback walk for instant selectors,
//! and the per-step windows of range selectors and subqueries.

use super::Ctx;
use super::error::EvalError;
use super::selected::{self, Selected};
use super::value::NAME;
use super::value::{GSeries, GValue, Grid, RawSeries};
use crate::parser::ast::{Expr, MatrixSelector, RangeModifier, Subquery, VectorSelector};
use hourglass_storage::{
    FloatHistogram, HistogramIter, MatchOp, Matcher, ReadAs, Sample, is_stale_nan,
};

/// Selects every series matching `matchers` with samples in `[mint, maxt]`;
/// their samples are decoded later, by whoever consumes them. Downsampled
/// spans are read as `read` asks (the function being evaluated), and a
/// warning states their resolution.
pub(crate) fn load(
    ctx: &Ctx,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    keep_stale: bool,
    read: ReadAs,
) -> Result<Vec<Selected>, EvalError> {
    ctx.check()?;
    if mint > maxt {
        return Ok(Vec::new());
    }
    let t0 = std::time::Instant::now();
    let stats_only = ctx.stats_only();
    let set = ctx.querier.select_as(matchers, mint, maxt, read)?;
    if let Some(res) = set.downsampled_resolution() {
        ctx.downsampled_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.note(
            super::Note::Warning,
            format!(
                "part of the range was answered from data downsampled to {} resolution",
                crate::duration::format_duration(res)
            ),
        );
    }
    // Histograms still in chunks stay there for a sum that folds series
    // by series (it decodes each when it gets to it).
    let lazy = ctx.lazy_hists() && !stats_only && !keep_stale;
    let mut held = 0usize;
    let series: Vec<_> = set
        .map(|s| {
            held = held.saturating_add(s.samples.held_bytes());
            held = held.saturating_add(s.start_times.len() * size_of::<Sample>());
            let sel = Selected::stored(s.labels, s.samples, keep_stale).with_starts(s.start_times);
            if lazy && s.histograms.is_lazy() {
                return Ok(sel.with_lazy_hists(s.histograms));
            }
            let (hists, _) = ctx.decode_hists(&sel.labels, s.histograms, keep_stale)?;
            Ok(sel.with_hists(hists))
        })
        .collect::<Result<_, EvalError>>()?;
    ctx.selected_in(t0.elapsed());
    ctx.add_series(series.len())?;
    // The picked series and their chunk handles, drawn from the memory
    // budget as soon as the querier hands them over (before any is decoded).
    ctx.hold_bookkeeping(
        held.saturating_add(series.capacity().saturating_mul(size_of::<Selected>())),
    )?;
    Ok(series)
}

/// Repeats single-step results over `n` steps (for `@`).
pub(crate) fn broadcast(ctx: &Ctx, series: &mut [GSeries], n: usize) -> Result<(), EvalError> {
    for s in series {
        if s.vals.len() == 1 && n != 1 {
            s.vals = ctx.filled(s.vals[0], n)?;
            if let Some(h) = s.hists.first() {
                s.hists = ctx.filled(h.clone(), n)?;
            }
        }
    }
    Ok(())
}

/// An instant selector: at each step the newest sample in
/// `(t - lookback, t]`, unless that sample is a stale marker. With
/// `timestamps`, the value is the sample's time in seconds instead.
pub(crate) fn vector_selector(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
    timestamps: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let (raw, eg, off) = selector_load(ctx, vs, g)?;
    let lookback = ctx.lookback;
    let mut out = selected::par_grids(ctx, raw, eg.n, |s, hs, vals| {
        lookback_each(s, eg, off, lookback, timestamps, |k, v| vals[k] = Some(v));
        if hs.is_empty() {
            Ok(Vec::new())
        } else {
            lookback_hists(ctx, s, hs, eg, off, lookback, timestamps, vals)
        }
    })?;
    broadcast(ctx, &mut out, g.n)?;
    Ok(out)
}

/// The series of an instant selector, with the grid it is evaluated on
/// (one step under `@`) and its offset.
pub(crate) fn selector_load(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
) -> Result<(Vec<Selected>, Grid, i64), EvalError> {
    selector_window(ctx, vs, g, 0, true)
}

/// [`selector_load`] for interpolation: also the samples up to `ahead`
/// after the last step, and without stale markers.
pub(crate) fn selector_load_around(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
    ahead: i64,
) -> Result<(Vec<Selected>, Grid, i64), EvalError> {
    selector_window(ctx, vs, g, ahead, false)
}

/// The times `vs` is read at: `g`, or the one time its `@` pins.
pub(crate) fn pinned_grid(ctx: &Ctx, vs: &VectorSelector, g: Grid) -> Grid {
    match vs.at {
        Some(at) => Grid {
            start: ctx.at_time(at),
            step: 1,
            n: 1,
        },
        None => g,
    }
}

fn selector_window(
    ctx: &Ctx,
    vs: &VectorSelector,
    g: Grid,
    ahead: i64,
    keep_stale: bool,
) -> Result<(Vec<Selected>, Grid, i64), EvalError> {
    let eg = pinned_grid(ctx, vs, g);
    let off = vs.offset.unwrap_or(0);
    let first = eg.t(0).saturating_sub(off);
    let last = eg.t(eg.n - 1).saturating_sub(off).saturating_add(ahead);
    let mint = first.saturating_sub(ctx.lookback).saturating_add(1);
    Ok((
        load(ctx, &vs.matchers, mint, last, keep_stale, ReadAs::Last)?,
        eg,
        off,
    ))
}

/// One series of an instant selector: hands `emit` the step index and
/// value of every step of `eg` with a sample in `(t - lookback, t]` (after
/// `offset`) that is not a stale marker; with `timestamps`, the sample's
/// time in seconds instead of its value.
#[inline]
pub(crate) fn lookback_each(
    s: &[Sample],
    eg: Grid,
    off: i64,
    lookback: i64,
    timestamps: bool,
    mut emit: impl FnMut(usize, f64),
) {
    let mut i = 0usize; // s[..i] have t <= current step
    for (k, t) in eg.times().enumerate() {
        let te = t.saturating_sub(off);
        while i < s.len() && s[i].t <= te {
            i += 1;
        }
        if let Some(smp) = i.checked_sub(1).and_then(|j| s.get(j))
            && smp.t > te.saturating_sub(lookback)
            && !is_stale_nan(smp.v)
        {
            emit(
                k,
                if timestamps {
                    smp.t as f64 / 1000.0
                } else {
                    smp.v
                },
            );
        }
    }
}

/// The histogram row of an instant selector over a series that has
/// histograms: at each step the newer of its float (already in `vals`)
/// and its histogram sample wins; a stale histogram hides both.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lookback_hists(
    ctx: &Ctx,
    s: &[Sample],
    hs: &[(i64, FloatHistogram)],
    eg: Grid,
    off: i64,
    lookback: i64,
    timestamps: bool,
    vals: &mut [Option<f64>],
) -> Result<Vec<Option<FloatHistogram>>, EvalError> {
    ctx.admit::<Option<FloatHistogram>>(eg.n)?;
    let mut out = vec![None; eg.n];
    let (mut i, mut j) = (0usize, 0usize);
    for (k, t) in eg.times().enumerate() {
        let te = t.saturating_sub(off);
        while i < s.len() && s[i].t <= te {
            i += 1;
        }
        while j < hs.len() && hs[j].0 <= te {
            j += 1;
        }
        let Some((ht, h)) = j.checked_sub(1).and_then(|j| hs.get(j)) else {
            continue;
        };
        let float_t = i.checked_sub(1).and_then(|i| s.get(i)).map(|p| p.t);
        if *ht <= te.saturating_sub(lookback) || float_t.is_some_and(|ft| ft > *ht) {
            continue;
        }
        vals[k] = None;
        if h.is_stale() {
            continue;
        }
        if timestamps {
            vals[k] = Some(*ht as f64 / 1000.0);
        } else {
            out[k] = Some(h.clone());
        }
    }
    Ok(out)
}

/// The series of a range argument that carry native histograms, with
/// their float samples, for the functions that read histograms.
pub(crate) struct HistMatrix {
    pub series: Vec<RawSeries>,
    /// Per series, histograms still in chunks (see `Ctx::take_hists`);
    /// empty when none are.
    pub pending: Vec<Option<HistogramIter>>,
    pub range: i64,
    /// As [`MatrixArg::ends`].
    pub ends: Vec<i64>,
}

/// Moves the histograms of `series` aside into a [`HistMatrix`] stashed
/// under `key` (the float samples of those series stay, and are copied).
fn stash_hists(
    ctx: &Ctx,
    key: usize,
    series: &mut [Selected],
    range: i64,
    ends: &[i64],
) -> Result<(), EvalError> {
    let (mut hs, mut pending) = (Vec::new(), Vec::new());
    for s in series.iter_mut().filter(|s| s.has_hists()) {
        let samples = s.decode_floats(ctx)?;
        hs.push(RawSeries {
            labels: s.labels.clone(),
            samples,
            hists: std::mem::take(&mut s.hists),
        });
        pending.push(s.lazy_hists.take());
    }
    if !hs.is_empty() {
        if pending.iter().all(Option::is_none) {
            pending.clear();
        }
        ctx.stash_hists(
            key,
            HistMatrix {
                series: hs,
                pending,
                range,
                ends: ends.to_vec(),
            },
        );
    }
    Ok(())
}

/// A range vector, ready for a function: its series and, per output step,
/// the inclusive end of the window `(end - range, end]`.
pub(crate) struct MatrixArg {
    pub series: Vec<Selected>,
    pub range: i64,
    /// One entry per step, or a single entry under `@` (broadcast later).
    pub ends: Vec<i64>,
    /// The evaluation time of each entry of `ends` (before `offset`).
    pub times: Vec<i64>,
    /// Every series carries the same metric name: the selector has an
    /// `__name__="…"` matcher (otherwise unknown without looking).
    pub name_fixed: bool,
}

impl MatrixArg {
    /// One window per step of `g`, also under `@` (whose window is the
    /// same at every step): for functions whose other arguments vary by
    /// step, or whose answer depends on the evaluation time.
    pub(crate) fn per_step(mut self, ctx: &Ctx, g: Grid) -> Result<MatrixArg, EvalError> {
        if self.ends.len() == 1 && g.n > 1 {
            ctx.admit::<i64>(g.n.saturating_mul(2))?;
            self.ends = vec![self.ends[0]; g.n];
            self.times = g.times().collect();
        }
        Ok(self)
    }
}

/// True when `matchers` pin the metric name to one value.
fn fixes_name(matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .any(|m| m.name() == NAME && m.op() == MatchOp::Equal && !m.value().is_empty())
}

/// Evaluates a range-vector expression (range selector or subquery) for
/// the steps of `g`.
pub(crate) fn matrix_arg(ctx: &Ctx, e: &Expr, g: Grid) -> Result<MatrixArg, EvalError> {
    matrix_arg_as(ctx, e, g, ReadAs::Last)
}

/// [`matrix_arg`] for a function that wants downsampled spans read as
/// `read` (a subquery's points are its own: `read` does not reach them).
pub(crate) fn matrix_arg_as(
    ctx: &Ctx,
    e: &Expr,
    g: Grid,
    read: ReadAs,
) -> Result<MatrixArg, EvalError> {
    match e {
        Expr::Paren(inner) => matrix_arg_as(ctx, inner, g, read),
        Expr::Matrix(ms) => {
            let mut m = matrix_selector(ctx, ms, g, read)?;
            stash_hists(ctx, hist_key(e), &mut m.series, m.range, &m.ends)?;
            Ok(m)
        }
        Expr::Subquery(sq) => subquery(ctx, sq, g, hist_key(e), read == ReadAs::Count),
        _ => Err(EvalError::BadRangeType {
            got: e.value_type().name(),
        }),
    }
}

/// The key a range argument's histograms are stashed under: the address
/// of its (unparenthesised) node.
pub(crate) fn hist_key(e: &Expr) -> usize {
    match e {
        Expr::Paren(inner) => hist_key(inner),
        e => e as *const Expr as usize,
    }
}

/// The evaluation times and window ends (after `off`) of a range
/// argument, counted before they are allocated.
fn times_for(
    ctx: &Ctx,
    at: Option<crate::parser::ast::At>,
    off: i64,
    g: Grid,
) -> Result<(Vec<i64>, Vec<i64>), EvalError> {
    let times: Vec<i64> = match at {
        Some(at) => vec![ctx.at_time(at)],
        None => {
            ctx.admit::<i64>(g.n.saturating_mul(2))?;
            g.times().collect()
        }
    };
    let ends = times.iter().map(|t| t.saturating_sub(off)).collect();
    Ok((times, ends))
}

fn matrix_selector(
    ctx: &Ctx,
    ms: &MatrixSelector,
    g: Grid,
    read: ReadAs,
) -> Result<MatrixArg, EvalError> {
    let vs = &ms.vector;
    let off = vs.offset.unwrap_or(0);
    let (times, mut ends) = times_for(ctx, vs.at, off, g)?;
    if let Some(a) = vs.align {
        ends.iter_mut()
            .for_each(|e| *e = super::value::align_down(*e, a));
    }
    let (first, last) = (ends[0], ends[ends.len() - 1]);
    // `anchored` also reads the sample before each window, `smoothed` the
    // ones on both sides of it.
    let (before, after) = match vs.modifier {
        Some(RangeModifier::Anchored) => (ctx.lookback, 0),
        Some(RangeModifier::Smoothed) => (ctx.lookback, ctx.lookback),
        None => (0, 0),
    };
    let mint = first
        .saturating_sub(ms.range_ms)
        .saturating_sub(before)
        .saturating_add(1);
    let series = load(
        ctx,
        &vs.matchers,
        mint,
        last.saturating_add(after),
        false,
        read,
    )?;
    Ok(MatrixArg {
        series,
        range: ms.range_ms,
        ends,
        times,
        name_fixed: fixes_name(&vs.matchers),
    })
}

/// A subquery's points (its histograms stashed under `key`); with `ones`,
/// each float as a 1 (read as [`ReadAs::Count`]).
fn subquery(
    ctx: &Ctx,
    sq: &Subquery,
    g: Grid,
    key: usize,
    ones: bool,
) -> Result<MatrixArg, EvalError> {
    let off = sq.offset.unwrap_or(0);
    let step = sq.step_ms.unwrap_or(ctx.subquery_step).max(1);
    let (times, ends) = times_for(ctx, sq.at, off, g)?;
    let (first, last) = (ends[0], ends[ends.len() - 1]);
    // Points sit on absolute multiples of the step (epoch-aligned), or,
    // for `[r::s]`, on the first window's end minus multiples of it (the
    // caller evaluates per step when later ends fall between them).
    let lo = first.saturating_sub(sq.range_ms);
    let start = if sq.aligned {
        first.saturating_sub((sq.range_ms.saturating_sub(1) / step).saturating_mul(step))
    } else {
        lo.div_euclid(step)
            .saturating_mul(step)
            .saturating_add(if lo.rem_euclid(step) == 0 { 0 } else { step })
    };
    let series = if start > last || (sq.aligned && super::aligned::off_end_grid(ctx, step, g)) {
        Vec::new()
    } else {
        // A tiny step over a long range would allocate without bound.
        let n = last
            .checked_sub(start)
            .map_or(u64::MAX, |d| (d / step) as u64)
            .saturating_add(1);
        ctx.check_points(n)?;
        let inner = Grid {
            start,
            step,
            n: usize::try_from(n).map_err(|_| EvalError::TooManySamples { limit: usize::MAX })?,
        };
        // Reset hints derived for statistics-only reads describe
        // neighbouring samples, not the subquery's points: not below one.
        let gs = match ctx.with_stats_only(false, || ctx.eval(&sq.expr, inner))? {
            GValue::Vector(s) => s,
            GValue::Scalar(v) => {
                ctx.admit::<Option<f64>>(v.len())?;
                vec![GSeries {
                    hists: Vec::new(),
                    labels: Default::default(),
                    vals: v.into_iter().map(Some).collect(),
                }]
            }
            GValue::String(_) => Vec::new(),
        };
        // Each row becomes samples: counted before the copy, and the row
        // let go after it.
        // Allocated at their exact sizes: a vector grown by doubling
        // holds up to twice what was counted.
        ctx.admit::<Selected>(gs.len())?;
        let mut out = Vec::with_capacity(gs.len());
        let mut with_hists = Vec::new();
        for s in gs {
            ctx.check()?;
            let n = s.vals.iter().filter(|v| v.is_some()).count();
            ctx.keep(n)?;
            let mut samples: Vec<Sample> = Vec::with_capacity(n);
            samples.extend(s.vals.iter().enumerate().filter_map(|(k, v)| {
                v.map(|v| Sample::new(inner.t(k), if ones { 1.0 } else { v }))
            }));
            ctx.release(s.vals.len());
            if s.hists.iter().any(Option::is_some) {
                let hists = inner.timed(s.hists);
                with_hists.push(RawSeries {
                    labels: s.labels.clone(),
                    samples: samples.clone(),
                    hists,
                });
            }
            let sel = Selected::owned(s.labels, samples);
            if sel.has_owned_samples() {
                out.push(sel);
            }
        }
        if !with_hists.is_empty() {
            ctx.stash_hists(
                key,
                HistMatrix {
                    series: with_hists,
                    pending: Vec::new(),
                    range: sq.range_ms,
                    ends: ends.clone(),
                },
            );
        }
        out
    };
    Ok(MatrixArg {
        series,
        range: sq.range_ms,
        ends,
        times,
        name_fixed: false,
    })
}

/// Index ranges `[lo, hi)` of the samples inside each window
/// `(end - range, end]`; `ends` must not decrease.
pub(crate) fn windows<'a>(
    samples: &'a [Sample],
    ends: &'a [i64],
    range: i64,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let (mut lo, mut hi) = (0usize, 0usize);
    ends.iter().map(move |&e| {
        while hi < samples.len() && samples[hi].t <= e {
            hi += 1;
        }
        while lo < hi && samples[lo].t <= e.saturating_sub(range) {
            lo += 1;
        }
        (lo, hi)
    })
}
