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
use super::start_times;
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
    per_series(ctx, m, g.n, |smp, starts, ends, _: &mut ()| {
        if counter && !starts.is_empty() {
            let sts = start_times::aligned(smp, starts);
            return start_times::increase_windows(smp, &sts, ends, width, per_second);
        }
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
/// increase over a window is the difference of its edges' values with
/// every earlier reset added back ([`regular::reset_prefix`]).
///
/// Windows are found by walking and their results computed a run at a
/// time ([`Walked`]): with scrape jitter each window has a shape of its
/// own, and the extrapolation's chain of divisions, most of a window's
/// work, then overlaps from one window to the next. The walk moves each
/// edge by up to two samples without a branch ([`advance`]), as a window
/// slid by a step of one scrape interval usually needs, so jitter moving
/// an edge by one sample more or less costs no misprediction.
#[inline]
fn counter_windows(
    smp: &[Sample],
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    emit: &mut impl Emit,
) {
    match regular::reset_prefix(smp) {
        None => walk(smp, |i| smp[i].v + 0.0, ends, width, x, emit),
        Some(p) => walk(smp, |i| p[i], ends, width, x, emit),
    }
}

/// [`counter_windows`] with `edge(i)`, sample `i`'s value plus the resets
/// up to it.
#[inline]
fn walk(
    smp: &[Sample],
    edge: impl Fn(usize) -> f64,
    ends: &[i64],
    width: i64,
    x: &Extrapolator,
    emit: &mut impl Emit,
) {
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut run = Walked::new();
    for (k, &end) in ends.iter().enumerate() {
        hi = advance(smp, hi, end);
        let start = end.saturating_sub(width);
        lo = advance(&smp[..hi], lo, start);
        if hi < lo + 2 {
            run.flush(smp, ends, width, x, emit);
            continue;
        }
        if run.push(k, lo, hi, edge(hi - 1) - edge(lo)) {
            run.flush(smp, ends, width, x, emit);
        }
    }
    run.flush(smp, ends, width, x, emit);
}

/// The first index from `i` on whose sample is after `t` (or the end).
/// The next two samples are compared at once (sorted, so those not after
/// `t` come first and their count is the move), leaving one load on the
/// path from one window's edge to the next instead of one per sample.
#[inline(always)]
fn advance(smp: &[Sample], i: usize, t: i64) -> usize {
    let at = |j: usize| usize::from(smp.get(j).is_some_and(|s| s.t <= t));
    let mut i = i + at(i) + at(i + 1);
    while smp.get(i).is_some_and(|s| s.t <= t) {
        i += 1;
    }
    i
}

/// Windows of consecutive steps found by [`counter_windows`]' walk, not
/// yet computed: their sample bounds and increases.
struct Walked {
    /// The step of the first.
    k0: usize,
    len: usize,
    lo: [usize; WALKED],
    hi: [usize; WALKED],
    inc: [f64; WALKED],
}

/// Windows computed together.
const WALKED: usize = 64;

impl Walked {
    fn new() -> Walked {
        Walked {
            k0: 0,
            len: 0,
            lo: [0; WALKED],
            hi: [0; WALKED],
            inc: [0.0; WALKED],
        }
    }

    /// Adds step `k`'s window (the step after the last one added, or the
    /// first of a run); true when the run is full.
    #[inline]
    fn push(&mut self, k: usize, lo: usize, hi: usize, inc: f64) -> bool {
        if self.len == 0 {
            self.k0 = k;
        }
        let i = self.len.min(WALKED - 1);
        (self.lo[i], self.hi[i], self.inc[i]) = (lo, hi, inc);
        self.len = i + 1;
        self.len == WALKED
    }

    /// Computes the windows held and hands them to `emit` as one run. The
    /// extrapolation parts are kept while the shape repeats (scrapes on
    /// the grid read off it), as the per-window formula would give them.
    #[inline]
    fn flush(
        &mut self,
        smp: &[Sample],
        ends: &[i64],
        width: i64,
        x: &Extrapolator,
        emit: &mut impl Emit,
    ) {
        let mut out = [0.0f64; WALKED];
        let n = self.len;
        for (i, o) in out[..n].iter_mut().enumerate() {
            let (lo, hi) = (self.lo[i], self.hi[i]);
            let (first, last) = (smp[lo], smp[hi - 1]);
            let start = ends[self.k0 + i].saturating_sub(width);
            let parts = x.parts(first, last, hi - lo, start);
            *o = x.finish(&parts, first, self.inc[i]);
        }
        if n > 0 {
            emit.run(self.k0, &out[..n]);
        }
        self.len = 0;
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
    if is_rate && m.series.iter().any(|s| s.has_starts()) {
        return start_times::over_windows(ctx, m, g, start_times::irate, |w| last_two(w, true));
    }
    over_windows(ctx, m, g.n, false, |w, _| last_two(w, is_rate))
}

/// `irate` (`is_rate`) or `idelta` of a window's samples.
fn last_two(w: &[Sample], is_rate: bool) -> Option<f64> {
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

        /// Scrapes a few ms off their grid (every window a shape of its
        /// own, the walk's edges moving by zero, one or two samples a
        /// step) with missed scrapes, read at steps of one or more
        /// intervals from any offset: the walked windows are bit for bit
        /// the definition's. Counters either of two decimals, or of
        /// integers with resets (whose sums stay exact, as the definition
        /// adds the resets in another order).
        #[test]
        fn jittered_counter_windows_match_the_definition(
            scrapes in prop::collection::vec((-3i64..=3, 0u32..1500, 0u8..40), 2..120),
            decimals in any::<bool>(),
            interval in prop_oneof![Just(15_000i64), Just(10_000), Just(60_000)],
            per_step in 1i64..4,
            first_end in -20_000i64..100_000,
            steps in 1usize..90,
            width in prop_oneof![Just(300_000i64), Just(60_000), 15_000i64..400_000],
            per_second in any::<bool>(),
        ) {
            let mut v = 1234.5f64;
            let smp: Vec<Sample> = scrapes
                .iter()
                .enumerate()
                // A missed scrape (one in forty) leaves a gap.
                .filter(|(_, (_, _, miss))| *miss != 0)
                .map(|(i, &(jitter, cents, reset))| {
                    v = match (decimals, reset) {
                        (true, _) => ((v * 100.0).round() + f64::from(cents)) / 100.0,
                        (false, 1) => f64::from(cents),
                        (false, _) => v.round() + f64::from(cents),
                    };
                    Sample::new(i as i64 * interval + jitter, v)
                })
                .collect();
            let step = interval * per_step;
            let ends: Vec<i64> = (0..steps).map(|k| first_end + k as i64 * step).collect();
            let mut got = vec![None; ends.len()];
            let mut emit = |k: usize, v| got[k] = Some(v);
            windowed_each(&smp, &ends, fixed_step(&ends), width, true, per_second, &mut emit);
            let want = naive(&smp, &ends, width, true, per_second);
            let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
