//! `rate`, `increase`, `delta` (extrapolated), `irate`, `idelta`.

use super::super::error::EvalError;
use super::super::range;
use super::super::range::MatrixArg;
use super::super::value::{GSeries, Grid};
use super::super::{Ctx, Note};
use super::Emit;
use super::apply::{over_windows, per_series};
use super::args::{matrix, matrix_as};
use super::extrapolate::Extrapolator;
use super::regular;
use crate::parser::ast::Expr;
use crate::parser::functions::Func;
use hourglass_storage::{ReadAs, Sample};

/// `rate` (`counter`, `per_second`), `increase` (`counter`) or `delta`.
pub(super) fn extrapolating(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    counter: bool,
    per_second: bool,
) -> Result<Vec<GSeries>, EvalError> {
    // Downsampled spans: samples that keep the reset-corrected increase.
    let read = if counter {
        ReadAs::Counter
    } else {
        ReadAs::Last
    };
    let m = matrix_as(ctx, args.first(), g, read)?;
    from_matrix(ctx, m, counter, per_second, g)
}

/// `rate`/`increase` (`counter`) or `delta` of an evaluated range argument.
pub(crate) fn from_matrix(
    ctx: &Ctx,
    m: MatrixArg,
    counter: bool,
    per_second: bool,
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    if counter {
        note_non_counters(ctx, &m);
    }
    let (width, step) = (m.range, fixed_step(&m.ends));
    per_series(ctx, m, g.n, |smp, ends, _: &mut ()| {
        let mut vals = vec![None; ends.len()];
        let mut emit = |k: usize, v| vals[k] = Some(v);
        windowed_each(smp, ends, step, width, counter, per_second, &mut emit);
        vals
    })
}

/// Prometheus's info when `rate`/`increase` reads a series whose name
/// does not look like a counter's (and that is not typed `counter`).
pub(crate) fn note_non_counters(ctx: &Ctx, m: &MatrixArg) {
    // One name for all: the first series gives the verdict (no look at
    // the labels of thousands of others, a cache miss each).
    let n = if m.name_fixed { 1 } else { m.series.len() };
    let mut last: Option<&str> = None;
    for l in m.series.iter().take(n).map(|s| &s.labels) {
        // One verdict per run of one name: cheap over many series.
        let Some(name) = l.metric_name() else {
            continue;
        };
        if last == Some(name) {
            continue;
        }
        last = Some(name);
        let counter_like = ["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s))
            || l.get("__type__") == Some("counter");
        if counter_like {
            continue;
        }
        ctx.note(
            Note::Info,
            format!("PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"),
        );
    }
}

/// `(counter, per_second)` of the extrapolating functions, `None` for
/// every other function.
pub(crate) fn extrapolated(func: Func) -> Option<(bool, bool)> {
    match func {
        Func::Rate => Some((true, true)),
        Func::Increase => Some((true, false)),
        Func::Delta => Some((false, false)),
        _ => None,
    }
}

/// The spacing of `ends` if it is one fixed step, for [`windowed_each`]
/// (found once per query, not once per series).
pub(crate) fn fixed_step(ends: &[i64]) -> Option<i64> {
    regular::step(ends)
}

/// One series' extrapolated rate (`per_second`), increase or delta over
/// the window `(end - width, end]` for each of `ends` (non-decreasing,
/// spaced `step` apart if that is `Some`), handed to `emit` with the
/// step's index (steps without a value are skipped). One pass: the
/// window's bounds only move forward.
pub(crate) fn windowed_each(
    smp: &[Sample],
    ends: &[i64],
    step: Option<i64>,
    width: i64,
    counter: bool,
    per_second: bool,
    emit: &mut impl Emit,
) {
    let mut x = Extrapolator::new(width, counter, per_second);
    // Non-finite values would poison the running sums of reset
    // corrections: those series add up each window instead.
    if counter && regular::all_finite(smp) {
        // Samples a fixed interval apart, read at a step that is a whole
        // number of intervals: the windows slide (see `regular.rs`).
        if let (Some(d), Some(step)) = (regular::interval(smp), step)
            && step % d == 0
            && ends.first().is_some_and(|e| e.checked_sub(width).is_some())
            && let Ok(m) = usize::try_from(step / d)
        {
            regular::counter_windows(smp, ends, width, &x, m, emit);
        } else {
            counter_windows(smp, ends, width, &x, emit);
        }
        return;
    }
    for (k, (lo, hi)) in range::windows(smp, ends, width).enumerate() {
        if hi < lo + 2 {
            continue;
        }
        let w = &smp[lo..hi];
        let (first, last) = (w[0], w[w.len() - 1]);
        let inc = if counter {
            resets_added(w)
        } else {
            last.v - first.v
        };
        emit.one(
            k,
            x.rate(first, last, w.len(), inc, ends[k].saturating_sub(width)),
        );
    }
}

/// [`windowed_each`] for a counter whose values are all finite: the
/// increase over a window is the difference of the values at its edges
/// with every earlier reset added back, kept as one running sum per edge
/// (each edge only moves forward, and both add the same resets in the same
/// order, so the difference is exactly that of prefix sums). The shape's
/// extrapolation parts are kept in locals while the shape repeats.
#[inline]
fn counter_windows(
    smp: &[Sample],
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    emit: &mut impl Emit,
) {
    let len = smp.len();
    let (mut lo, mut hi) = (0usize, 0usize);
    let (mut reset_lo, mut reset_hi) = (0.0f64, 0.0f64);
    let mut prev_hi = f64::NAN;
    let mut shape = (i64::MIN, i64::MIN, 0usize);
    let mut parts = x.parts(Sample::new(0, 0.0), Sample::new(1, 0.0), 2, 0);
    for (k, &end) in ends.iter().enumerate() {
        while hi < len && smp[hi].t <= end {
            let v = smp[hi].v;
            if v < prev_hi {
                reset_hi += prev_hi;
            }
            prev_hi = v;
            hi += 1;
        }
        let start = end.saturating_sub(width);
        while lo < hi && smp[lo].t <= start {
            if lo + 1 < len && smp[lo + 1].v < smp[lo].v {
                reset_lo += smp[lo].v;
            }
            lo += 1;
        }
        if hi < lo + 2 {
            continue;
        }
        let (first, last) = (smp[lo], smp[hi - 1]);
        let inc = (last.v + reset_hi) - (first.v + reset_lo);
        let s = (
            first.t.saturating_sub(start),
            last.t.saturating_sub(start),
            hi - lo,
        );
        if s != shape {
            shape = s;
            parts = x.parts(first, last, hi - lo, start);
        }
        emit.one(k, x.finish(&parts, first, inc));
    }
}

/// `last - first` plus the value before every reset in `w`.
fn resets_added(w: &[Sample]) -> f64 {
    let mut inc = w[w.len() - 1].v - w[0].v;
    for p in w.windows(2) {
        if p[1].v < p[0].v {
            inc += p[0].v;
        }
    }
    inc
}

/// `irate`/`idelta`: the last two samples of each window.
pub(super) fn instant(
    ctx: &Ctx,
    is_rate: bool,
    args: &[Expr],
    g: Grid,
) -> Result<Vec<GSeries>, EvalError> {
    let m = matrix(ctx, args.first(), g)?;
    over_windows(ctx, m, g.n, false, |w, _| {
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

#[cfg(test)]
pub(super) mod tests {
    use super::super::extrapolate::extrapolate;
    use super::*;
    use proptest::prelude::*;

    /// The definition: each window's samples gathered from scratch.
    pub(in super::super) fn naive(
        smp: &[Sample],
        ends: &[i64],
        width: i64,
        counter: bool,
        per_second: bool,
    ) -> Vec<Option<f64>> {
        ends.iter()
            .map(|&end| {
                let w: Vec<Sample> = smp
                    .iter()
                    .copied()
                    .filter(|p| p.t > end.saturating_sub(width) && p.t <= end)
                    .collect();
                if w.len() < 2 {
                    return None;
                }
                let inc = if counter {
                    resets_added(&w)
                } else {
                    w[w.len() - 1].v - w[0].v
                };
                extrapolate(&w, inc, end - width, end, counter, per_second)
            })
            .collect()
    }

    fn value() -> impl Strategy<Value = f64> {
        // Integers keep prefix sums exact, so results must match bitwise.
        prop_oneof![
            8 => (0i64..1000).prop_map(|v| v as f64),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn windowed_rate_matches_the_definition(
            gaps in prop::collection::vec((prop_oneof![Just(15_000i64), 1i64..40_000], value()), 0..60),
            finite in any::<bool>(),
            first_end in -100_000i64..400_000,
            step in prop_oneof![Just(15_000i64), 1i64..60_000],
            steps in 1usize..40,
            width in prop_oneof![Just(300_000i64), 1i64..200_000],
            counter in any::<bool>(),
            per_second in any::<bool>(),
        ) {
            let mut t = 0;
            let smp: Vec<Sample> = gaps
                .into_iter()
                .map(|(d, v)| {
                    t += d;
                    Sample::new(t, if finite && !v.is_finite() { 7.0 } else { v })
                })
                .collect();
            let ends: Vec<i64> = (0..steps).map(|k| first_end + k as i64 * step).collect();
            let mut got = vec![None; ends.len()];
            let mut emit = |k: usize, v| got[k] = Some(v);
            windowed_each(&smp, &ends, fixed_step(&ends), width, counter, per_second, &mut emit);
            let want = naive(&smp, &ends, width, counter, per_second);
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
