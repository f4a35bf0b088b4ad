//! Per-step accumulators of one group, as `aggregate::stream` keeps them.
//!
//! Kept as one array per field rather than one array of per-step records:
//! a run of consecutive steps then folds in a loop over plain `f64`
//! arrays, which the compiler turns into vector code.

use super::super::functions::Emit;
use super::super::numeric::kahan_inc;
use super::Plan;
use crate::parser::ast::AggregateOp;
use hourglass_storage::Sample;

/// What an [`Acc`] holds per step, for counting it against the query.
pub(super) type AccStep = (f64, f64, u32, bool);

/// Per-step running state of one group.
pub(super) struct Acc {
    /// Sum, minimum or maximum.
    acc: Vec<f64>,
    /// Kahan compensation of the sum.
    comp: Vec<f64>,
    count: Vec<u32>,
    /// An infinite or NaN input was added (averages only).
    nonfinite: Vec<bool>,
    /// Input index of the first series that had a value.
    pub(super) first: usize,
}

/// How one operator folds a value into a step's state.
trait Step {
    fn step(acc: &mut f64, comp: &mut f64, count: &mut u32, nonfinite: &mut bool, x: f64);
}

struct SumStep;
struct AvgStep;
struct MinStep;
struct MaxStep;
struct CountStep;

impl Step for SumStep {
    #[inline(always)]
    fn step(acc: &mut f64, comp: &mut f64, count: &mut u32, _: &mut bool, x: f64) {
        *count += 1;
        (*acc, *comp) = kahan_inc(x, *acc, *comp);
    }
}

impl Step for AvgStep {
    // Only the mean needs to know whether an infinite sum came from an
    // infinite input or from overflow.
    #[inline(always)]
    fn step(acc: &mut f64, comp: &mut f64, count: &mut u32, nonfinite: &mut bool, x: f64) {
        *count += 1;
        (*acc, *comp) = kahan_inc(x, *acc, *comp);
        *nonfinite |= !x.is_finite();
    }
}

// NaN loses to any number; only all-NaN gives NaN.
impl Step for MinStep {
    #[inline(always)]
    fn step(acc: &mut f64, _: &mut f64, count: &mut u32, _: &mut bool, x: f64) {
        *count += 1;
        if x < *acc || acc.is_nan() {
            *acc = x;
        }
    }
}

impl Step for MaxStep {
    #[inline(always)]
    fn step(acc: &mut f64, _: &mut f64, count: &mut u32, _: &mut bool, x: f64) {
        *count += 1;
        if x > *acc || acc.is_nan() {
            *acc = x;
        }
    }
}

impl Step for CountStep {
    #[inline(always)]
    fn step(_: &mut f64, _: &mut f64, count: &mut u32, _: &mut bool, _: f64) {
        *count += 1;
    }
}

/// An [`Emit`] into one group's accumulators.
struct Sink<'a, S> {
    acc: &'a mut Acc,
    any: bool,
    op: std::marker::PhantomData<S>,
}

impl<S: Step> Emit for Sink<'_, S> {
    #[inline]
    fn one(&mut self, k: usize, x: f64) {
        let a = &mut *self.acc;
        if let (Some(v), Some(c), Some(n), Some(nf)) = (
            a.acc.get_mut(k),
            a.comp.get_mut(k),
            a.count.get_mut(k),
            a.nonfinite.get_mut(k),
        ) {
            self.any = true;
            S::step(v, c, n, nf, x);
        }
    }

    /// One bounds check for the whole run, then a loop with none.
    #[inline]
    fn run(&mut self, k0: usize, xs: &[f64]) {
        let r = k0..k0 + xs.len();
        let a = &mut *self.acc;
        if let (Some(v), Some(c), Some(n), Some(nf)) = (
            a.acc.get_mut(r.clone()),
            a.comp.get_mut(r.clone()),
            a.count.get_mut(r.clone()),
            a.nonfinite.get_mut(r),
        ) {
            self.any |= !xs.is_empty();
            for ((((v, c), n), nf), &x) in v.iter_mut().zip(c).zip(n).zip(nf).zip(xs) {
                S::step(v, c, n, nf, x);
            }
        } else {
            for (i, &x) in xs.iter().enumerate() {
                self.one(k0 + i, x);
            }
        }
    }
}

impl Acc {
    pub(super) fn new(op: AggregateOp, n: usize) -> Acc {
        let acc = if matches!(op, AggregateOp::Min | AggregateOp::Max) {
            f64::NAN
        } else {
            0.0
        };
        Acc {
            acc: vec![acc; n],
            comp: vec![0.0; n],
            count: vec![0; n],
            nonfinite: vec![false; n],
            first: usize::MAX,
        }
    }

    /// Folds in one series' values; true if it had any. One sink per
    /// operator, so the per-step work has no dispatch.
    #[inline]
    pub(super) fn fold(&mut self, op: AggregateOp, plan: &Plan, smp: &[Sample]) -> bool {
        use AggregateOp::*;
        match op {
            Sum => self.fold_with::<SumStep>(plan, smp),
            Avg => self.fold_with::<AvgStep>(plan, smp),
            Min => self.fold_with::<MinStep>(plan, smp),
            Max => self.fold_with::<MaxStep>(plan, smp),
            _ => self.fold_with::<CountStep>(plan, smp),
        }
    }

    #[inline]
    fn fold_with<S: Step>(&mut self, plan: &Plan, smp: &[Sample]) -> bool {
        let mut sink = Sink::<S> {
            acc: self,
            any: false,
            op: std::marker::PhantomData,
        };
        plan.each(smp, &mut sink);
        sink.any
    }

    /// Folds a later block's state into this one.
    pub(super) fn merge(&mut self, op: AggregateOp, b: &Acc) {
        use AggregateOp::*;
        self.first = self.first.min(b.first);
        for k in 0..self.count.len().min(b.count.len()) {
            if b.count[k] == 0 {
                continue;
            }
            self.count[k] += b.count[k];
            let (a, bv) = (self.acc[k], b.acc[k]);
            match op {
                Sum | Avg => {
                    let (s, c) = kahan_inc(bv, a, self.comp[k]);
                    self.acc[k] = s;
                    self.comp[k] = if s.is_infinite() { 0.0 } else { c + b.comp[k] };
                    self.nonfinite[k] |= b.nonfinite[k];
                }
                Min if bv < a || a.is_nan() => self.acc[k] = bv,
                Max if bv > a || a.is_nan() => self.acc[k] = bv,
                _ => {}
            }
        }
    }

    /// The group's values, or `None` for an average that overflowed.
    pub(super) fn finish(self, op: AggregateOp) -> Option<Vec<Option<f64>>> {
        use AggregateOp::*;
        let mut out = Vec::with_capacity(self.count.len());
        for k in 0..self.count.len() {
            let count = self.count[k];
            if count == 0 {
                out.push(None);
                continue;
            }
            let acc = self.acc[k];
            out.push(Some(match op {
                Count => f64::from(count),
                Group => 1.0,
                Sum | Avg => {
                    let sum = if acc.is_infinite() {
                        acc
                    } else {
                        acc + self.comp[k]
                    };
                    if op == Sum {
                        sum
                    } else if sum.is_finite() || self.nonfinite[k] {
                        sum / f64::from(count)
                    } else {
                        return None;
                    }
                }
                _ => acc,
            }));
        }
        Some(out)
    }
}
