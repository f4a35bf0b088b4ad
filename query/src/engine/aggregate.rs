//! Aggregation operators over the step grid: series are grouped once
//! (labels do not change over time), then each group is folded per step.

use super::Ctx;
use super::error::EvalError;
use super::eval::eval as eval_expr;
use super::fused;
use super::value::{GSeries, GValue, Grid, NAME};
use crate::parser::ast::{Aggregate, AggregateOp, Grouping};
use crate::prom_text::plain_float;
use hourglass_storage::Labels;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Kahan-compensated running sum: returns the new (sum, compensation).
/// An infinite sum resets the compensation so it cannot turn into NaN.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    // Written as selects, which compile without branches.
    let lost = if sum.abs() >= inc.abs() {
        (sum - t) + inc
    } else {
        (inc - t) + sum
    };
    let c = if t.is_infinite() { 0.0 } else { c + lost };
    (t, c)
}

/// Compensated sum of `vals`.
pub(crate) fn kahan_sum(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in vals {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// Mean that survives overflow of the plain sum.
pub(crate) fn mean(vals: &[f64]) -> f64 {
    let n = vals.len() as f64;
    let sum = kahan_sum(vals.iter().copied());
    if sum.is_finite() || vals.iter().any(|v| !v.is_finite()) {
        return sum / n;
    }
    // The plain sum overflowed: add up the shares instead.
    kahan_sum(vals.iter().map(|v| v / n))
}

/// Population variance (Welford).
pub(crate) fn variance(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in vals {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// φ-quantile with linear interpolation between closest ranks; `vals` is
/// sorted in place (NaN first, as Go's sort does).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    vals.sort_by(nan_first);
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    vals[lower as usize] * (1.0 - weight) + vals[upper as usize] * weight
}

/// Ascending with NaN before everything.
pub(crate) fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// The labels a series is grouped under.
pub(crate) fn group_key(l: &Labels, g: &Option<Grouping>) -> Labels {
    match g {
        None => Labels::default(),
        Some(Grouping::By(names)) => Labels::from_pairs(
            l.iter()
                .filter(|p| names.iter().any(|n| n == &*p.name))
                .map(|p| (&*p.name, &*p.value)),
        ),
        Some(Grouping::Without(names)) => Labels::from_pairs(
            l.iter()
                .filter(|p| &*p.name != NAME && !names.iter().any(|n| n == &*p.name))
                .map(|p| (&*p.name, &*p.value)),
        ),
    }
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    // Prometheus 3 accepts any UTF-8 name; only the empty name is invalid.
    !s.is_empty()
}

pub(crate) fn eval(ctx: &Ctx, a: &Aggregate, g: Grid) -> Result<GValue, EvalError> {
    if let Some(v) = fused::eval(ctx, a, g)? {
        return Ok(v);
    }
    let input = match eval_expr(ctx, &a.expr, g)? {
        GValue::Vector(v) => v,
        _ => Vec::new(),
    };
    eval_input(ctx, a, g, input)
}

/// `a` over its already evaluated input.
pub(crate) fn eval_input(
    ctx: &Ctx,
    a: &Aggregate,
    g: Grid,
    input: Vec<GSeries>,
) -> Result<GValue, EvalError> {
    let param = match &a.param {
        Some(p) => Some(eval_expr(ctx, p, g)?),
        None => None,
    };
    let scalar_param = |k: usize| match &param {
        Some(GValue::Scalar(v)) => v.get(k).copied().unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    // Groups in first-seen order.
    let mut keys: Vec<Labels> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_key(&s.labels, &a.grouping);
        let gi = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            keys.len() - 1
        });
        members[gi].push(i);
    }
    ctx.check()?;
    use AggregateOp::*;
    let out = match a.op {
        Topk | Bottomk | Limitk | LimitRatio => {
            select_series(ctx, a.op, input, &members, g.n, scalar_param)?
        }
        CountValues => {
            let label = match &param {
                Some(GValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            if !valid_label_name(&label) {
                return Err(EvalError::InvalidArgument {
                    func: "count_values",
                    reason: format!("invalid label name {label:?}"),
                });
            }
            let mut out: Vec<GSeries> = Vec::new();
            let mut by: HashMap<Labels, usize> = HashMap::new();
            for (key, mem) in keys.iter().zip(&members) {
                for k in 0..g.n {
                    ctx.check()?;
                    for &i in mem {
                        let Some(v) = input[i].vals[k] else { continue };
                        let val = plain_float(v);
                        let labels = Labels::from_pairs(
                            key.iter()
                                .filter(|p| *p.name != *label)
                                .map(|p| (&*p.name, &*p.value))
                                .chain(std::iter::once((label.as_str(), val.as_str()))),
                        );
                        // Each distinct value is a series of its own over
                        // every step: counted before it is allocated.
                        let idx = match by.get(&labels) {
                            Some(&idx) => idx,
                            None => {
                                let vals = ctx.grid(g.n)?;
                                by.insert(labels.clone(), out.len());
                                out.push(GSeries { labels, vals });
                                out.len() - 1
                            }
                        };
                        let slot = &mut out[idx].vals[k];
                        *slot = Some(slot.unwrap_or(0.0) + 1.0);
                    }
                }
            }
            out
        }
        op @ (Sum | Avg | Count | Group | Min | Max) => keys
            .into_iter()
            .zip(&members)
            .map(|(key, mem)| {
                ctx.admit::<StreamStep>(g.n)?;
                Ok(GSeries {
                    vals: stream(op, &input, mem, g.n),
                    labels: key,
                })
            })
            .collect::<Result<_, EvalError>>()?,
        op => {
            let mut out = Vec::with_capacity(keys.len());
            let mut buf: Vec<f64> = Vec::new();
            for (key, mem) in keys.into_iter().zip(&members) {
                let mut vals = ctx.grid(g.n)?;
                for (k, slot) in vals.iter_mut().enumerate() {
                    buf.clear();
                    buf.extend(mem.iter().filter_map(|&i| input[i].vals[k]));
                    if buf.is_empty() {
                        continue;
                    }
                    *slot = Some(fold(op, &mut buf, scalar_param(k)));
                }
                out.push(GSeries { labels: key, vals });
            }
            out
        }
    };
    Ok(GValue::Vector(out))
}

/// What [`stream`] allocates per step: its state and the result.
type StreamStep = (f64, f64, u32, bool, Option<f64>);

/// The simple aggregations, folded series by series (each series' values
/// are contiguous, so this walks memory in order) with per-step state.
fn stream(op: AggregateOp, input: &[GSeries], mem: &[usize], n: usize) -> Vec<Option<f64>> {
    use AggregateOp::*;
    let mut acc = vec![
        if matches!(op, Min | Max) {
            f64::NAN
        } else {
            0.0
        };
        n
    ];
    let mut comp = vec![0.0; n];
    let mut count = vec![0u32; n];
    let mut nonfinite = vec![false; n];
    for &i in mem {
        let vals = &input[i].vals;
        // One loop per operator, zipped so the hot sum has no bounds checks.
        let steps = vals.iter().zip(count.iter_mut()).zip(acc.iter_mut());
        match op {
            Sum | Avg => {
                for (((v, c), a), (cp, nf)) in steps.zip(comp.iter_mut().zip(nonfinite.iter_mut()))
                {
                    if let Some(x) = *v {
                        *c += 1;
                        (*a, *cp) = kahan_inc(x, *a, *cp);
                        *nf |= !x.is_finite();
                    }
                }
            }
            // NaN loses to any number; only all-NaN gives NaN.
            Min => {
                for ((v, c), a) in steps {
                    if let Some(x) = *v {
                        *c += 1;
                        if x < *a || a.is_nan() {
                            *a = x;
                        }
                    }
                }
            }
            Max => {
                for ((v, c), a) in steps {
                    if let Some(x) = *v {
                        *c += 1;
                        if x > *a || a.is_nan() {
                            *a = x;
                        }
                    }
                }
            }
            _ => {
                for ((v, c), _) in steps {
                    *c += u32::from(v.is_some());
                }
            }
        }
    }
    (0..n)
        .map(|k| {
            let c = count[k];
            (c > 0).then(|| match op {
                Count => f64::from(c),
                Group => 1.0,
                Sum | Avg => {
                    let sum = if acc[k].is_infinite() {
                        acc[k]
                    } else {
                        acc[k] + comp[k]
                    };
                    if op == Sum {
                        sum
                    } else if sum.is_finite() || nonfinite[k] {
                        sum / f64::from(c)
                    } else {
                        // The plain sum overflowed: redo this step exactly.
                        let vals: Vec<f64> = mem.iter().filter_map(|&i| input[i].vals[k]).collect();
                        mean(&vals)
                    }
                }
                _ => acc[k],
            })
        })
        .collect()
}

fn fold(op: AggregateOp, vals: &mut [f64], param: f64) -> f64 {
    use AggregateOp::*;
    match op {
        Sum => kahan_sum(vals.iter().copied()),
        Avg => mean(vals),
        Count => vals.len() as f64,
        Group => 1.0,
        // NaN loses to any number; only all-NaN gives NaN.
        Min => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        Max => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        Stdvar => variance(vals.iter().copied()),
        Stddev => variance(vals.iter().copied()).sqrt(),
        Quantile => quantile(param, vals),
        _ => f64::NAN,
    }
}

/// topk/bottomk/limitk/limit_ratio keep input series (with their labels)
/// at the steps where they are selected.
fn select_series(
    ctx: &Ctx,
    op: AggregateOp,
    input: Vec<GSeries>,
    members: &[Vec<usize>],
    n: usize,
    param: impl Fn(usize) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    ctx.admit::<bool>(n.saturating_mul(input.len()))?;
    let mut keep = vec![vec![false; n]; input.len()];
    // At a single step, the order of the result is the rank order.
    let mut order: Vec<usize> = Vec::new();
    for mem in members {
        let mut mem = mem.clone();
        if op == AggregateOp::Limitk {
            mem.sort_by(|&a, &b| input[a].labels.cmp(&input[b].labels));
        }
        // Small k: every step's shortlist built in one pass over the
        // members' values in memory order (step by step across thousands
        // of series would miss the cache at every value).
        let top = op == AggregateOp::Topk;
        let mut shortlists = (matches!(op, AggregateOp::Topk | AggregateOp::Bottomk)
            && (0..n).all(|k| small_k(param(k)).is_some()))
        .then(|| shortlists(&input, &mem, n, top, |k| small_k(param(k)).unwrap_or(0)));
        #[allow(clippy::needless_range_loop)] // k indexes `keep` rows and the input
        for k in 0..n {
            let p = param(k);
            let present = mem.iter().copied().filter(|&i| input[i].vals[k].is_some());
            let chosen: Vec<usize> = match op {
                AggregateOp::LimitRatio => {
                    if p.is_nan() {
                        return Err(EvalError::InvalidArgument {
                            func: "limit_ratio",
                            reason: "ratio value is NaN".into(),
                        });
                    }
                    let r = p.clamp(-1.0, 1.0);
                    present
                        .filter(|&i| {
                            let ratio = input[i].labels.stable_hash() as f64 / u64::MAX as f64;
                            if r >= 0.0 {
                                ratio < r
                            } else {
                                ratio >= 1.0 + r
                            }
                        })
                        .collect()
                }
                _ => {
                    if p.is_nan() {
                        return Err(EvalError::InvalidArgument {
                            func: op.as_str(),
                            reason: "parameter value is NaN".into(),
                        });
                    }
                    let kk = if p >= 1.0 { p.min(1e15) as usize } else { 0 };
                    let val = |i: usize| input[i].vals[k].unwrap_or(f64::NAN);
                    let by = |a: &usize, b: &usize| match op {
                        AggregateOp::Topk => nan_first(&val(*b), &val(*a)).then_with(|| a.cmp(b)),
                        _ => nan_last(&val(*a), &val(*b)).then_with(|| a.cmp(b)),
                    };
                    if let Some(lists) = shortlists.as_mut() {
                        std::mem::take(&mut lists[k])
                    } else if op != AggregateOp::Limitk && kk <= SMALL_K {
                        best_k(present, kk, by)
                    } else {
                        let mut cand: Vec<usize> = present.collect();
                        if op != AggregateOp::Limitk {
                            // Partition out the k best, then order just those.
                            if kk > 0 && kk < cand.len() {
                                cand.select_nth_unstable_by(kk - 1, by);
                            }
                            cand.truncate(kk);
                            cand.sort_by(by);
                        }
                        cand.truncate(kk);
                        cand
                    }
                }
            };
            for &i in &chosen {
                keep[i][k] = true;
            }
            if n == 1 {
                order.extend(chosen);
            }
        }
    }
    let mut input: Vec<Option<GSeries>> = input.into_iter().map(Some).collect();
    let mut pick = |i: usize, keep: &[bool]| {
        input[i].take().map(|mut s| {
            for (v, &kp) in s.vals.iter_mut().zip(keep) {
                if !kp {
                    *v = None;
                }
            }
            s
        })
    };
    let out: Vec<GSeries> = if n == 1 {
        order.iter().filter_map(|&i| pick(i, &keep[i])).collect()
    } else {
        (0..keep.len())
            .filter_map(|i| pick(i, &keep[i]))
            .filter(|s| s.vals.iter().any(Option::is_some))
            .collect()
    };
    Ok(out)
}

/// Up to this k, `topk`/`bottomk` keep a sorted shortlist while scanning
/// instead of collecting and partitioning every candidate.
const SMALL_K: usize = 64;

/// The first `kk` of `items` in the (total) order `by`, in that order:
/// most items are rejected by one comparison with the shortlist's last.
fn best_k(
    items: impl Iterator<Item = usize>,
    kk: usize,
    by: impl Fn(&usize, &usize) -> Ordering,
) -> Vec<usize> {
    let mut best: Vec<usize> = Vec::with_capacity(kk + 1);
    if kk == 0 {
        return best;
    }
    for i in items {
        if best.len() == kk && best.last().is_some_and(|l| by(&i, l) != Ordering::Less) {
            continue;
        }
        let at = best.partition_point(|b| by(b, &i) == Ordering::Less);
        best.insert(at, i);
        best.truncate(kk);
    }
    best
}

/// `k` of `topk`/`bottomk` for parameter `p` when it is small enough for
/// a shortlist (NaN is not: it is an error, reported by the caller).
fn small_k(p: f64) -> Option<usize> {
    if p.is_nan() {
        return None;
    }
    let kk = if p >= 1.0 { p.min(1e15) as usize } else { 0 };
    (kk <= SMALL_K).then_some(kk)
}

/// For each of `n` steps, the first `kk(step)` of `mem` with a value there,
/// in `topk` (`top`) or `bottomk` order with ties to the earlier series:
/// [`best_k`] for all steps at once, reading each series' values in order.
fn shortlists(
    input: &[GSeries],
    mem: &[usize],
    n: usize,
    top: bool,
    kk: impl Fn(usize) -> usize,
) -> Vec<Vec<usize>> {
    let kks: Vec<usize> = (0..n).map(kk).collect();
    let mut best: Vec<Vec<(f64, usize)>> = kks.iter().map(|&k| Vec::with_capacity(k)).collect();
    // `a` ranks before `b`; equal values keep member (input) order, since
    // members arrive in increasing index order and a newcomer never ranks
    // before an equal one.
    let before = |a: f64, b: f64| {
        if top {
            nan_first(&b, &a) == Ordering::Less
        } else {
            nan_last(&a, &b) == Ordering::Less
        }
    };
    for &i in mem {
        for ((v, list), &kk) in input[i].vals.iter().zip(&mut best).zip(&kks) {
            let Some(v) = *v else { continue };
            if kk == 0 || (list.len() == kk && list.last().is_some_and(|l| !before(v, l.0))) {
                continue;
            }
            let at = list.partition_point(|b| !before(v, b.0));
            list.insert(at, (v, i));
            list.truncate(kk);
        }
    }
    best.into_iter()
        .map(|l| l.into_iter().map(|(_, i)| i).collect())
        .collect()
}

/// Ascending with NaN after everything.
fn nan_last(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn best_k_is_sort_then_truncate(
            vals in prop::collection::vec(prop_oneof![(0i32..5).prop_map(f64::from), Just(f64::NAN)], 0..50),
            kk in 0usize..12,
            top in any::<bool>(),
        ) {
            let by = |a: &usize, b: &usize| {
                if top {
                    nan_first(&vals[*b], &vals[*a]).then_with(|| a.cmp(b))
                } else {
                    nan_last(&vals[*a], &vals[*b]).then_with(|| a.cmp(b))
                }
            };
            let mut want: Vec<usize> = (0..vals.len()).collect();
            want.sort_by(by);
            want.truncate(kk);
            prop_assert_eq!(best_k(0..vals.len(), kk, by), want);
        }

        #[test]
        fn shortlists_are_best_k_at_every_step(
            rows in prop::collection::vec(
                prop::collection::vec(prop_oneof![
                    3 => (0i32..4).prop_map(|v| Some(f64::from(v))),
                    1 => Just(Some(f64::NAN)),
                    1 => Just(None),
                ], 5),
                0..30,
            ),
            skip in 0usize..3,
            kks in prop::collection::vec(0usize..6, 5),
            top in any::<bool>(),
        ) {
            let input: Vec<GSeries> = rows
                .into_iter()
                .map(|vals| GSeries { labels: Labels::default(), vals })
                .collect();
            // Members: every series but a few, in input order.
            let mem: Vec<usize> = (0..input.len()).filter(|i| i % 4 != skip).collect();
            let got = shortlists(&input, &mem, 5, top, |k| kks[k]);
            for k in 0..5 {
                let val = |i: usize| input[i].vals[k].unwrap_or(f64::NAN);
                let by = |a: &usize, b: &usize| {
                    if top {
                        nan_first(&val(*b), &val(*a)).then_with(|| a.cmp(b))
                    } else {
                        nan_last(&val(*a), &val(*b)).then_with(|| a.cmp(b))
                    }
                };
                let present = mem.iter().copied().filter(|&i| input[i].vals[k].is_some());
                prop_assert_eq!(&got[k], &best_k(present, kks[k], by), "step {}", k);
            }
        }
    }
}
