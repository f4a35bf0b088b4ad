//! Range functions over series that carry native histograms: `rate`,
//! `increase`, `delta`, `irate`, `idelta`, `resets`, `changes` and the
//! `*_over_time` functions Prometheus defines on histograms. A series'
//! float samples are answered as the float functions answer them; a
//! window holding both floats and histograms gets the annotation
//! Prometheus gives and no value where it gives none.

use super::super::hist_aggregate::note_conflicting_resets;
use super::super::histogram::arith::{
    Incompatible, add_into, custom_mismatch, equal, map_values_in_place, reduce, sub,
};
use super::super::histogram::reset::is_reset;
use super::super::range::{self, HistMatrix};
use super::super::value::{GSeries, Grid, RawSeries};
use super::super::{Ctx, Note};
use super::extrapolate::Extrapolator;
use super::rate::windowed_each;
use crate::engine::error::EvalError;
use crate::engine::numeric::kahan_sum;
use crate::parser::functions::Func as F;
use hourglass_storage::{CounterResetHint, FloatHistogram, Labels, Sample};
use rayon::prelude::*;

/// The functions answered here, with whether they keep the metric name.
pub(super) fn handles(f: F) -> Option<bool> {
    match f {
        F::Rate
        | F::Increase
        | F::Delta
        | F::Irate
        | F::Idelta
        | F::Resets
        | F::Changes
        | F::SumOverTime
        | F::AvgOverTime
        | F::CountOverTime
        | F::PresentOverTime => Some(false),
        F::LastOverTime | F::FirstOverTime => Some(true),
        F::TsOfLastOverTime | F::TsOfFirstOverTime => Some(false),
        _ => None,
    }
}

/// One step's answer.
pub(super) enum Out {
    None,
    Float(f64),
    Hist(FloatHistogram),
}

/// `f` over the histogram-carrying series of a range argument: one row
/// per series (labels as the float function would give them).
pub(super) fn eval(ctx: &Ctx, f: F, hm: HistMatrix, g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let keep_name = handles(f).unwrap_or(false);
    let mut out = hm
        .series
        .par_iter()
        .map(|s| one_series(ctx, f, &hm, s, keep_name))
        .collect::<Result<Vec<_>, EvalError>>()?;
    range::broadcast(ctx, &mut out, g.n)?;
    Ok(out)
}

/// `f` over every window of one series.
fn one_series(
    ctx: &Ctx,
    f: F,
    hm: &HistMatrix,
    s: &RawSeries,
    keep_name: bool,
) -> Result<GSeries, EvalError> {
    ctx.check()?;
    let name = s.labels.metric_name().unwrap_or("").to_string();
    let n = hm.ends.len();
    ctx.admit::<(Option<f64>, Option<FloatHistogram>)>(n)?;
    let mut vals = vec![None; n];
    let mut hists = vec![None; n];
    let resets = neighbour_resets(f, &s.hists);
    let fw = range::windows(&s.samples, &hm.ends, hm.range);
    let hw = hist_windows(&s.hists, &hm.ends, hm.range);
    for (k, ((flo, fhi), (hlo, hhi))) in fw.zip(hw).enumerate() {
        let w = Window {
            resets: resets_within(&resets, hlo, hhi),
            floats: &s.samples[flo..fhi],
            all_floats: &s.samples,
            hists: &s.hists[hlo..hhi],
            end: hm.ends[k],
            range: hm.range,
        };
        match answer(ctx, f, &w, &name) {
            Out::None => {}
            Out::Float(v) => vals[k] = Some(v),
            Out::Hist(h) => hists[k] = Some(h),
        }
    }
    Ok(GSeries {
        labels: if keep_name {
            s.labels.clone()
        } else {
            ctx.drop_name(&s.labels)
        },
        vals,
        hists,
    })
}

/// `[i]`: whether `hs[i + 1]` is a counter reset after `hs[i]`, for the
/// functions that ask (empty for the others): found once per pair of
/// neighbours, not per window.
pub(super) fn neighbour_resets(f: F, hs: &[(i64, FloatHistogram)]) -> Vec<bool> {
    if !matches!(f, F::Rate | F::Increase | F::Resets) {
        return Vec::new();
    }
    hs.windows(2).map(|p| is_reset(&p[1].1, &p[0].1)).collect()
}

/// The part of [`neighbour_resets`] between the window's histograms
/// `hlo..hhi`.
pub(super) fn resets_within(resets: &[bool], hlo: usize, hhi: usize) -> &[bool] {
    resets
        .get(hlo..hhi.saturating_sub(1).max(hlo))
        .unwrap_or(&[])
}

/// Index ranges of the histogram samples inside each window.
pub(super) fn hist_windows<'a>(
    hs: &'a [(i64, FloatHistogram)],
    ends: &'a [i64],
    range: i64,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let (mut lo, mut hi) = (0usize, 0usize);
    ends.iter().map(move |&e| {
        while hi < hs.len() && hs[hi].0 <= e {
            hi += 1;
        }
        while lo < hi && hs[lo].0 <= e.saturating_sub(range) {
            lo += 1;
        }
        (lo, hi)
    })
}

/// One window of one series.
pub(super) struct Window<'a> {
    /// `resets[i]`: `hists[i + 1]` is a counter reset after `hists[i]`.
    pub(super) resets: &'a [bool],
    pub(super) floats: &'a [Sample],
    /// Every float sample of the series (the float rate walks them).
    pub(super) all_floats: &'a [Sample],
    pub(super) hists: &'a [(i64, FloatHistogram)],
    pub(super) end: i64,
    pub(super) range: i64,
}

fn mixed(ctx: &Ctx, name: &str) -> Out {
    ctx.note(
        Note::Warning,
        format!(
            "PromQL warning: encountered a mix of histograms and floats for metric name {name:?}"
        ),
    );
    Out::None
}

pub(super) fn incompatible(ctx: &Ctx, _why: Incompatible, name: &str) -> Out {
    ctx.note(
        Note::Warning,
        format!(
            "PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
        ),
    );
    Out::None
}

/// Notes that `a` and `b` had their custom bounds reconciled for `what`
/// (`aggregation`, `subtraction`).
pub(crate) fn note_reconciled(ctx: &Ctx, a: &FloatHistogram, b: &FloatHistogram, what: &str) {
    if custom_mismatch(a, b) {
        ctx.note(
            Note::Info,
            format!("PromQL info: mismatched custom buckets were reconciled during {what}"),
        );
    }
}

/// `a - b`, noting when mismatched custom buckets were reconciled.
fn subtract(
    ctx: &Ctx,
    a: &FloatHistogram,
    b: &FloatHistogram,
) -> Result<FloatHistogram, Incompatible> {
    note_reconciled(ctx, a, b, "subtraction");
    sub(a, b)
}

pub(super) fn answer(ctx: &Ctx, f: F, w: &Window, name: &str) -> Out {
    let (nf, nh) = (w.floats.len(), w.hists.len());
    if nf == 0 && nh == 0 {
        return Out::None;
    }
    let float = |v: Option<f64>| v.map_or(Out::None, Out::Float);
    match f {
        F::Rate | F::Increase | F::Delta => {
            let counter = f != F::Delta;
            if nf > 0 && nh > 0 {
                return mixed(ctx, name);
            }
            if nh == 0 {
                let mut got = None;
                let mut emit = |_: usize, v: f64| got = Some(v);
                windowed_each(
                    w.all_floats,
                    &[w.end],
                    None,
                    w.range,
                    counter,
                    f == F::Rate,
                    &mut emit,
                );
                return float(got);
            }
            hist_rate(ctx, w, counter, f == F::Rate, name)
        }
        F::Irate | F::Idelta => instant(ctx, w, f == F::Irate, name),
        F::Resets | F::Changes => Out::Float(transitions(w, f == F::Resets) as f64),
        F::TsOfLastOverTime => {
            let t = w
                .floats
                .last()
                .map(|p| p.t)
                .max(w.hists.last().map(|h| h.0));
            float(t.map(|t| t as f64 / 1000.0))
        }
        F::TsOfFirstOverTime => {
            let tf = w.floats.first().map(|p| p.t);
            let th = w.hists.first().map(|h| h.0);
            let t = match (tf, th) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            float(t.map(|t| t as f64 / 1000.0))
        }
        F::CountOverTime => Out::Float((nf + nh) as f64),
        F::PresentOverTime => Out::Float(1.0),
        F::LastOverTime | F::FirstOverTime => {
            let last = f == F::LastOverTime;
            let (fp, hp) = if last {
                (w.floats.last(), w.hists.last())
            } else {
                (w.floats.first(), w.hists.first())
            };
            match (fp, hp) {
                (Some(p), Some(h)) if (p.t > h.0) == last => Out::Float(p.v),
                (_, Some(h)) => Out::Hist(h.1.clone()),
                (Some(p), None) => Out::Float(p.v),
                (None, None) => Out::None,
            }
        }
        F::SumOverTime | F::AvgOverTime => {
            if nf > 0 && nh > 0 {
                return mixed(ctx, name);
            }
            if nh == 0 {
                let sum = kahan_sum(w.floats.iter().map(|p| p.v));
                return Out::Float(if f == F::SumOverTime {
                    sum
                } else {
                    sum / nf as f64
                });
            }
            note_conflicting_resets(ctx, w.hists.iter().map(|(_, h)| h));
            let mut acc = w.hists[0].1.clone();
            for (_, h) in &w.hists[1..] {
                note_reconciled(ctx, &acc, h, "aggregation");
                if let Err(e) = add_into(&mut acc, h) {
                    return incompatible(ctx, e, name);
                }
            }
            if f == F::AvgOverTime {
                let n = nh as f64;
                map_values_in_place(&mut acc, |c| c / n);
            }
            acc.counter_reset_hint = CounterResetHint::Gauge;
            Out::Hist(acc)
        }
        _ => Out::None,
    }
}

/// `resets` (`resets`) or `changes` over the window's samples in time
/// order: floats and histograms compared among their kind, and every
/// change of kind counted too.
fn transitions(w: &Window, resets: bool) -> usize {
    let (mut i, mut j) = (0usize, 0usize);
    let mut prev: Option<Result<f64, &FloatHistogram>> = None;
    let mut n = 0;
    while i < w.floats.len() || j < w.hists.len() {
        let take_float = match (w.floats.get(i), w.hists.get(j)) {
            (Some(p), Some(h)) => p.t < h.0,
            (Some(_), None) => true,
            _ => false,
        };
        let curr = if take_float {
            i += 1;
            Ok(w.floats[i - 1].v)
        } else {
            j += 1;
            Err(&w.hists[j - 1].1)
        };
        n += usize::from(match (&prev, &curr) {
            (Some(Ok(a)), Ok(b)) if resets => b < a,
            (Some(Ok(a)), Ok(b)) => !(a == b || (a.is_nan() && b.is_nan())),
            (Some(Err(a)), Err(b)) if resets => is_reset(b, a),
            (Some(Err(a)), Err(b)) => !equal(b, a),
            (Some(_), _) => true,
            (None, _) => false,
        });
        prev = Some(curr);
    }
    n
}

/// Prometheus's `histogramRate`, extrapolated as the float rate is: a
/// counter's increase is the sum of the increases between neighbours (the
/// whole sample after a reset), so nothing is subtracted across a reset
/// or a change of layout; extrapolation stops where the count would reach
/// zero.
fn hist_rate(ctx: &Ctx, w: &Window, counter: bool, per_second: bool, name: &str) -> Out {
    let hs = w.hists;
    if hs.len() < 2 {
        return Out::None;
    }
    let (first, last) = (&hs[0], &hs[hs.len() - 1]);
    note_kind(ctx, counter, &first.1, &last.1, name);
    let h = if counter {
        increase(ctx, hs, w.resets)
    } else {
        subtract(ctx, &last.1, &first.1)
    };
    let mut h = match h {
        Ok(h) => h,
        Err(e) => return incompatible(ctx, e, name),
    };
    let start = w.end.saturating_sub(w.range);
    let (f, l) = (
        Sample::new(first.0, first.1.count),
        Sample::new(last.0, 0.0),
    );
    let factor = if counter && h.count > 0.0 {
        Extrapolator::new(w.range, true, per_second).rate(f, l, hs.len(), h.count, start) / h.count
    } else {
        Extrapolator::new(w.range, false, per_second).rate(f, l, hs.len(), 1.0, start)
    };
    map_values_in_place(&mut h, |c| c * factor);
    h.counter_reset_hint = CounterResetHint::Gauge;
    Out::Hist(h)
}

/// Warns when the histograms at the two ends are not what the function
/// reads: counters (`counter`: a rate or an increase), else two gauges
/// (`delta`, `idelta`).
fn note_kind(ctx: &Ctx, counter: bool, a: &FloatHistogram, b: &FloatHistogram, name: &str) {
    let gauges = [a, b].map(|h| h.counter_reset_hint == CounterResetHint::Gauge);
    let not = match counter {
        true if gauges.contains(&true) => "counter",
        false if gauges.contains(&false) => "gauge",
        _ => return,
    };
    ctx.note(
        Note::Warning,
        format!("PromQL warning: this native histogram metric is not a {not}: {name:?}"),
    );
}

/// A counter's increase over `hs` (at least two samples); `resets[i]`
/// says whether `hs[i + 1]` is a counter reset after `hs[i]`.
fn increase(
    ctx: &Ctx,
    hs: &[(i64, FloatHistogram)],
    resets: &[bool],
) -> Result<FloatHistogram, Incompatible> {
    let (first, last) = (&hs[0].1, &hs[hs.len() - 1].1);
    let any_reset = resets.iter().any(|&r| r);
    if !any_reset && first.uses_custom_buckets() == last.uses_custom_buckets() {
        let min_schema = hs.iter().map(|h| h.1.schema).min().unwrap_or(last.schema);
        note_reconciled(ctx, last, first, "subtraction");
        return if min_schema < last.schema {
            sub(&reduce(last, min_schema), first)
        } else {
            sub(last, first)
        };
    }
    let mut acc: Option<FloatHistogram> = None;
    for (i, p) in hs.windows(2).enumerate() {
        let (prev, curr) = (&p[0].1, &p[1].1);
        let step = if resets.get(i).copied().unwrap_or(false) {
            curr.clone()
        } else {
            subtract(ctx, curr, prev)?
        };
        match &mut acc {
            None => acc = Some(step),
            Some(a) => add_into(a, &step)?,
        }
    }
    acc.ok_or(Incompatible::MixedSchemas)
}

/// `irate`/`idelta`: the last two samples of the window.
fn instant(ctx: &Ctx, w: &Window, is_rate: bool, name: &str) -> Out {
    // The last two samples, floats and histograms together.
    let lf = w.floats.len();
    let lh = w.hists.len();
    let newer_float = |i: usize, j: usize| match (i.checked_sub(1), j.checked_sub(1)) {
        (Some(a), Some(b)) => w.floats[a].t > w.hists[b].0,
        (Some(_), None) => true,
        _ => false,
    };
    let mut picked: Vec<Result<Sample, &(i64, FloatHistogram)>> = Vec::with_capacity(2);
    let (mut i, mut j) = (lf, lh);
    while picked.len() < 2 && (i > 0 || j > 0) {
        if newer_float(i, j) {
            i -= 1;
            picked.push(Ok(w.floats[i]));
        } else {
            j -= 1;
            picked.push(Err(&w.hists[j]));
        }
    }
    let [last, prev] = picked.as_slice() else {
        return Out::None;
    };
    if let (Err(l), Err(p)) = (last, prev) {
        note_kind(ctx, is_rate, &l.1, &p.1, name);
    }
    match (last, prev) {
        (Ok(last), Ok(prev)) => {
            if !is_rate {
                return Out::Float(last.v - prev.v);
            }
            let dt = (last.t - prev.t) as f64 / 1000.0;
            if dt == 0.0 {
                return Out::None;
            }
            let inc = if last.v < prev.v {
                last.v
            } else {
                last.v - prev.v
            };
            Out::Float(inc / dt)
        }
        (Err(last), Err(prev)) => {
            let d = if is_rate && is_reset(&last.1, &prev.1) {
                Ok(last.1.clone())
            } else {
                subtract(ctx, &last.1, &prev.1)
            };
            let mut d = match d {
                Ok(d) => d,
                Err(e) => return incompatible(ctx, e, name),
            };
            if is_rate {
                let dt = (last.0 - prev.0) as f64 / 1000.0;
                if dt == 0.0 {
                    return Out::None;
                }
                map_values_in_place(&mut d, |c| c / dt);
            }
            d.counter_reset_hint = CounterResetHint::Gauge;
            Out::Hist(d)
        }
        _ => mixed(ctx, name),
    }
}

/// Replaces the rows of `float_rows` whose labels a histogram row has
/// (those series' answers come from the histogram path) and adds the rest.
pub(super) fn merge_rows(mut float_rows: Vec<GSeries>, hist_rows: Vec<GSeries>) -> Vec<GSeries> {
    let taken: Vec<&Labels> = hist_rows.iter().map(|s| &s.labels).collect();
    float_rows.retain(|s| !taken.contains(&&s.labels));
    float_rows.extend(hist_rows.into_iter().filter(GSeries::has_any));
    float_rows
}
