//! `topk`, `bottomk`, `limitk` and `limit_ratio`: aggregations that keep
//! input series, with their labels, at the steps where they are selected.

use super::Ctx;
use super::error::EvalError;
use super::label_hash::prometheus_hash;
use super::numeric::{nan_first, nan_last};
use super::value::GSeries;
use crate::parser::ast::AggregateOp;
use std::cmp::Ordering;

/// topk/bottomk/limitk/limit_ratio keep input series (with their labels)
/// at the steps where they are selected.
pub(super) fn select_series(
    ctx: &Ctx,
    op: AggregateOp,
    input: Vec<GSeries>,
    members: &[Vec<usize>],
    n: usize,
    param: impl Fn(usize) -> f64,
) -> Result<Vec<GSeries>, EvalError> {
    // A NaN parameter at any step is an error, whether or not there is
    // anything to select from (as Prometheus checks the parameters first).
    if (0..n).any(|k| param(k).is_nan()) {
        return Err(EvalError::InvalidArgument {
            func: op.as_str(),
            reason: if op == AggregateOp::LimitRatio {
                "ratio value is NaN".into()
            } else {
                "parameter value is NaN".into()
            },
        });
    }
    ctx.admit::<bool>(n.saturating_mul(input.len()))?;
    let limits = matches!(op, AggregateOp::Limitk | AggregateOp::LimitRatio);
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
            // limitk and limit_ratio pick histograms too; topk and
            // bottomk rank floats only.
            let present = mem
                .iter()
                .copied()
                .filter(|&i| input[i].vals[k].is_some() || (limits && input[i].hist(k).is_some()));
            let chosen: Vec<usize> = match op {
                AggregateOp::LimitRatio => {
                    let r = p.clamp(-1.0, 1.0);
                    present
                        .filter(|&i| {
                            let ratio = prometheus_hash(&input[i].labels) as f64 / u64::MAX as f64;
                            if r >= 0.0 {
                                ratio < r
                            } else {
                                ratio >= 1.0 + r
                            }
                        })
                        .collect()
                }
                _ => {
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
            if !limits {
                s.hists = Vec::new();
            }
            for (h, &kp) in s.hists.iter_mut().zip(keep) {
                if !kp {
                    *h = None;
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
            .filter(GSeries::has_any)
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

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_storage::Labels;
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
                   .map(|vals| GSeries {
    hists: Vec::new(), labels: Labels::default(), vals })
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
