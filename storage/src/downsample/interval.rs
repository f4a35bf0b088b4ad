//! Downsampled intervals: what one series keeps per interval once its raw
//! samples are gone, how raw samples become intervals, how fine intervals
//! become coarse ones, and which synthetic samples stand for them when
//! read.

use crate::model::labels::Labels;
use crate::model::sample::{Sample, is_stale_nan};

/// One interval `[t, t + res)` of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Start, a multiple of `res`.
    pub t: i64,
    /// Length, ms.
    pub res: i64,
    /// Samples summarized (stale markers are not samples).
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Their smallest value (NaN values ignored unless all are NaN).
    pub min: f64,
    /// Their largest value (likewise).
    pub max: f64,
    /// The newest sample's time and value.
    pub last_t: i64,
    /// See `last_t`.
    pub last: f64,
    /// Counter increase, reset-corrected as PromQL does (a drop counts the
    /// new value whole), from the sample before the interval (in the same
    /// block) to `last`.
    pub inc: f64,
}

impl Interval {
    /// True when nothing in the interval differs bit for bit.
    fn same(&self, o: &Interval) -> bool {
        let f = |a: f64, b: f64| a.to_bits() == b.to_bits();
        self.t == o.t
            && self.res == o.res
            && self.count == o.count
            && self.last_t == o.last_t
            && f(self.sum, o.sum)
            && f(self.min, o.min)
            && f(self.max, o.max)
            && f(self.last, o.last)
            && f(self.inc, o.inc)
    }

    /// Folds `o` (later, or of the same interval) into `self`.
    fn absorb(&mut self, o: &Interval) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        if o.last_t >= self.last_t {
            self.last_t = o.last_t;
            self.last = o.last;
        }
        self.inc += o.inc;
    }
}

/// The downsampled part of one series in one partition: its intervals in
/// time order (disjoint), and its first sample, from which the first
/// interval's increase counts.
#[derive(Debug, Clone)]
pub struct DsSeries {
    /// The series.
    pub labels: Labels,
    /// The first sample summarized.
    pub first: Sample,
    /// The intervals.
    pub iv: Vec<Interval>,
}

impl PartialEq for DsSeries {
    fn eq(&self, o: &Self) -> bool {
        self.labels == o.labels
            && self.first == o.first
            && self.iv.len() == o.iv.len()
            && self.iv.iter().zip(&o.iv).all(|(a, b)| a.same(b))
    }
}

/// Counter increase from `a` to `b` as PromQL counts it.
fn step_inc(a: f64, b: f64) -> f64 {
    if b >= a { b - a } else { b }
}

/// Summarizes `samples` (time order, distinct times) into intervals of
/// `res`; `prev` is the sample just before them in the same block.
pub(crate) fn summarize(samples: &[Sample], res: i64, mut prev: Option<Sample>) -> Vec<Interval> {
    let mut out: Vec<Interval> = Vec::new();
    // Per interval: the value before it, and whether it holds a drop.
    let mut base: Vec<(Option<f64>, bool)> = Vec::new();
    for s in samples.iter().filter(|s| !is_stale_nan(s.v)) {
        let t = s.t.div_euclid(res) * res;
        let inc = prev.map_or(0.0, |p| step_inc(p.v, s.v));
        // A drop, or NaN on either side: no plain difference.
        let drop = prev.is_some_and(|p| s.v.partial_cmp(&p.v).is_none_or(|o| o.is_lt()));
        let one = Interval {
            t,
            res,
            count: 1,
            sum: s.v,
            min: s.v,
            max: s.v,
            last_t: s.t,
            last: s.v,
            inc,
        };
        match (out.last_mut(), base.last_mut()) {
            (Some(i), Some(b)) if i.t == t => {
                i.absorb(&one);
                b.1 |= drop;
            }
            _ => {
                base.push((Some(prev.map_or(s.v, |p| p.v)), drop));
                out.push(one);
            }
        }
        prev = Some(*s);
    }
    // Without a drop the increase is exactly `last - before`, as a reader
    // of `last`s computes it (a sum of steps may round differently).
    for (i, (b, drop)) in out.iter_mut().zip(base) {
        if !drop && let Some(b) = b {
            i.inc = i.last - b;
        }
    }
    out
}

/// Merges intervals of resolution below `res` that end at or before
/// `until` into intervals of `res` (which must be a multiple of theirs).
pub(crate) fn coarsen(iv: &mut Vec<Interval>, res: i64, until: i64) {
    let mut out: Vec<Interval> = Vec::with_capacity(iv.len());
    for i in iv.drain(..) {
        let t = i.t.div_euclid(res) * res;
        if i.res >= res || t.saturating_add(res) > until {
            out.push(i);
            continue;
        }
        match out.last_mut() {
            Some(o) if o.t == t && o.res == res => o.absorb(&i),
            _ => out.push(Interval { t, res, ..i }),
        }
    }
    *iv = out;
}

/// Adds `new` (summarized separately) to `s`: appended when it follows,
/// merged interval by interval where late data overlaps (the increase is
/// then approximate: the two runs' increases are added).
pub(crate) fn combine(s: &mut DsSeries, first: Sample, new: Vec<Interval>) {
    if new.is_empty() {
        return;
    }
    if s.iv.is_empty() {
        s.first = first;
        s.iv = new;
        return;
    }
    if first.t < s.first.t {
        s.first = first;
    }
    let end = s.iv.last().map_or(i64::MIN, |i| i.t + i.res);
    if new[0].t >= end {
        s.iv.extend(new);
        return;
    }
    let mut all = std::mem::take(&mut s.iv);
    all.extend(new);
    all.sort_by_key(|i| i.t);
    for i in all {
        match s.iv.last_mut() {
            Some(o) if i.t < o.t + o.res => o.absorb(&i),
            _ => s.iv.push(i),
        }
    }
}

/// Joins two blocks of one series, `b` after `a`: `b`'s first increase
/// gains the step from `a`'s last sample to `b`'s first.
pub(crate) fn join(a: &mut DsSeries, b: DsSeries) {
    let prev = a.iv.last().map(|i| Sample::new(i.last_t, i.last));
    let mut iv = b.iv;
    if let (Some(p), Some(f)) = (prev, iv.first_mut())
        && p.t < b.first.t
    {
        f.inc += step_inc(p.v, b.first.v);
    }
    combine(a, b.first, iv);
}

/// Which value of each interval a reader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAs {
    /// The last sample (plain selectors, and anything else).
    #[default]
    Last,
    /// Samples whose PromQL increase equals the intervals' reset-corrected
    /// increase (`rate`, `increase`); exact for series that are never
    /// negative (counters).
    Counter,
    /// The smallest value per interval.
    Min,
    /// The largest value per interval.
    Max,
    /// The sum per interval.
    Sum,
    /// The mean per interval.
    Avg,
    /// The number of samples: 1 for every raw sample (stale markers
    /// dropped), the count for every interval, so that `count_over_time`
    /// is the sum of what it reads.
    Count,
}

/// Appends the samples standing for `s`'s intervals within `[mint, maxt]`
/// (by each interval's last time) to `out`, in time order.
pub(crate) fn synthesize(s: &DsSeries, read: ReadAs, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
    let at = |i: &Interval, v: f64| Sample::new(i.last_t, v);
    if read == ReadAs::Counter && mint <= s.first.t && s.first.t <= maxt {
        // The increase of the first interval counts from here.
        if s.iv.first().is_some_and(|i| i.last_t > s.first.t) {
            out.push(s.first);
        }
    }
    let mut prev: Option<Sample> = Some(s.first);
    for i in &s.iv {
        let p = prev;
        prev = Some(Sample::new(i.last_t, i.last));
        if i.last_t < mint || i.last_t > maxt {
            continue;
        }
        match read {
            ReadAs::Last => out.push(at(i, i.last)),
            ReadAs::Min => out.push(at(i, i.min)),
            ReadAs::Max => out.push(at(i, i.max)),
            ReadAs::Sum => out.push(at(i, i.sum)),
            ReadAs::Avg => out.push(at(i, i.sum / i.count.max(1) as f64)),
            ReadAs::Count => out.push(at(i, i.count as f64)),
            ReadAs::Counter => {
                let pv = p.map_or(i.last, |p| p.v);
                let plain = step_inc(pv, i.last);
                let after = out.last().map_or(i64::MIN, |x| x.t);
                if plain.to_bits() != i.inc.to_bits() && i.last_t - 2 > after {
                    // A reset inside: climb by `inc - last` from `pv`,
                    // drop to 0, climb to `last`; PromQL adds exactly
                    // `inc` over the three.
                    out.push(Sample::new(i.last_t - 2, pv + i.inc - i.last));
                    out.push(Sample::new(i.last_t - 1, 0.0));
                }
                out.push(at(i, i.last));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(v: &[f64]) -> Vec<Sample> {
        v.iter()
            .enumerate()
            .map(|(k, &v)| Sample::new(k as i64 * 15_000, v))
            .collect()
    }

    fn promql_increase(s: &[Sample]) -> f64 {
        s.windows(2).map(|w| step_inc(w[0].v, w[1].v)).sum()
    }

    #[test]
    fn counter_reads_keep_the_reset_corrected_increase() {
        let raw = samples(&[
            5.0, 7.0, 9.0, 2.0, 4.0, 10.0, 1.0, 3.0, 8.0, 9.0, 12.0, 13.0,
        ]);
        let iv = summarize(&raw, 60_000, None);
        assert_eq!(iv.len(), 3);
        assert_eq!(iv.iter().map(|i| i.count).sum::<u64>(), 12);
        let ds = DsSeries {
            labels: Labels::default(),
            first: raw[0],
            iv,
        };
        let mut out = Vec::new();
        synthesize(&ds, ReadAs::Counter, i64::MIN, i64::MAX, &mut out);
        assert!(out.windows(2).all(|w| w[0].t < w[1].t));
        assert_eq!(promql_increase(&out), promql_increase(&raw));
        assert_eq!(out.last().map(|s| s.v), Some(13.0));
    }

    #[test]
    fn coarsening_folds_whole_intervals_only() {
        let raw = samples(&(0..40).map(f64::from).collect::<Vec<_>>());
        let mut iv = summarize(&raw, 60_000, None);
        let total = iv.iter().map(|i| i.sum).sum::<f64>();
        coarsen(&mut iv, 300_000, 480_000);
        assert_eq!(iv[0].res, 300_000);
        assert_eq!(iv[0].count, 20);
        assert_eq!(iv[1].res, 60_000, "the interval ending after `until` stays");
        assert_eq!(iv.iter().map(|i| i.sum).sum::<f64>(), total);
    }
}
