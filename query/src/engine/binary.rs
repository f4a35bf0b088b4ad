//! Binary operators: scalar/vector arithmetic and comparisons, vector
//! matching (one-to-one, many-to-one, one-to-many) and set operators.
//!
//! Labels do not change over time, so signatures and pairings are worked
//! out once per series; only the per-step checks for clashes run per step.

use super::Ctx;
use super::error::EvalError;
use super::hist_binary::{self, Answer, Operand};
use super::value::{GSeries, GValue, Grid, merge_same_labels, named, names_metric};
use crate::parser::ast::{Binary, BinaryOp, GroupSide, VectorMatching};
use hourglass_storage::{FloatHistogram, Labels};
use std::collections::HashMap;

pub(crate) fn eval(ctx: &Ctx, b: &Binary, g: Grid) -> Result<GValue, EvalError> {
    // Each operand is a path of its own for statistics-only reads.
    let lhs = ctx.with_stats_only(false, || ctx.eval(&b.lhs, g))?;
    let rhs = ctx.with_stats_only(false, || ctx.eval(&b.rhs, g))?;
    let op = b.op;
    Ok(match (lhs, rhs) {
        (GValue::Scalar(l), GValue::Scalar(r)) => GValue::Scalar({
            ctx.admit::<f64>(l.len())?;
            l.iter()
                .zip(&r)
                .map(|(&a, &c)| {
                    let (v, keep) = apply(op, a, c);
                    if op.is_comparison() {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    }
                })
                .collect()
        }),
        (GValue::Vector(v), GValue::Scalar(s)) => {
            GValue::Vector(vector_scalar(ctx, op, v, &s, false, b.return_bool)?)
        }
        (GValue::Scalar(s), GValue::Vector(v)) => {
            GValue::Vector(vector_scalar(ctx, op, v, &s, true, b.return_bool)?)
        }
        (GValue::Vector(l), GValue::Vector(r)) => {
            let default = VectorMatching {
                on: false,
                labels: Vec::new(),
                group: None,
            };
            let m = b.matching.as_ref().unwrap_or(&default);
            if op.is_set() {
                GValue::Vector(set_op(ctx, op, l, r, m, g.n)?)
            } else {
                let fill = Fill {
                    many: b.fill_left.map(|v| v.0),
                    one: b.fill_right.map(|v| v.0),
                };
                GValue::Vector(vector_vector(ctx, op, l, r, m, b.return_bool, fill, g.n)?)
            }
        }
        // The parser refuses strings as operands; nothing sensible to do.
        (_, _) => GValue::Vector(Vec::new()),
    })
}

/// `f` of two floats that are exact integers in `0..2^53` (every float
/// there is one integer), NaN for anything else.
fn bitwise(l: f64, r: f64, f: fn(u64, u64) -> u64) -> f64 {
    const MAX: f64 = 9_007_199_254_740_991.0;
    let exact = |x: f64| (0.0..=MAX).contains(&x) && x.fract() == 0.0;
    if exact(l) && exact(r) {
        f(l as u64, r as u64) as f64
    } else {
        f64::NAN
    }
}

/// `lhs op rhs` on two floats: the value and, for comparisons, whether it
/// holds (the value of a comparison is its left operand).
pub(crate) fn apply(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    use BinaryOp::*;
    match op {
        Add => (l + r, true),
        Sub => (l - r, true),
        Mul => (l * r, true),
        Div => (l / r, true),
        Mod => (l % r, true),
        Pow => (l.powf(r), true),
        Atan2 => (l.atan2(r), true),
        BitAnd => (bitwise(l, r, |a, b| a & b), true),
        BitOr => (bitwise(l, r, |a, b| a | b), true),
        BitXor => (bitwise(l, r, |a, b| a ^ b), true),
        Eql => (l, l == r),
        Neq => (l, l != r),
        Gt => (l, l > r),
        Lt => (l, l < r),
        Ge => (l, l >= r),
        Le => (l, l <= r),
        And | Or | Unless => (l, true),
        // Trimming is for histograms: a float has no answer.
        TrimUpper | TrimLower => (l, false),
    }
}

fn drops_name(op: BinaryOp, return_bool: bool) -> bool {
    return_bool || !(op.is_comparison() || op.is_set() || op.is_trim())
}

fn vector_scalar(
    ctx: &Ctx,
    op: BinaryOp,
    mut series: Vec<GSeries>,
    scalar: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let drop = drops_name(op, return_bool);
    for s in &mut series {
        if drop {
            s.labels = ctx.drop_name(&s.labels);
        }
        for (v, &sc) in s.vals.iter_mut().zip(scalar) {
            if let Some(x) = *v {
                let (l, r) = if swap { (sc, x) } else { (x, sc) };
                let (mut val, keep) = apply(op, l, r);
                // A comparison keeps the vector's value whichever side it is on.
                if op.is_comparison() && swap {
                    val = x;
                }
                *v = if return_bool {
                    Some(if keep { 1.0 } else { 0.0 })
                } else if keep {
                    Some(val)
                } else {
                    None
                };
            }
        }
        for (k, h) in s.hists.iter_mut().enumerate() {
            let (Some(hv), Some(&sc)) = (h.take(), scalar.get(k)) else {
                continue;
            };
            let (l, r) = if swap {
                (Operand::Float(sc), Operand::Hist(&hv))
            } else {
                (Operand::Hist(&hv), Operand::Float(sc))
            };
            match hist_binary::apply(ctx, op, l, r, return_bool) {
                Some(Answer::Hist(x)) => *h = Some(x),
                Some(Answer::Float(x)) => s.vals[k] = Some(x),
                None => {}
            }
        }
    }
    if drop {
        merge_same_labels(series)
    } else {
        Ok(series)
    }
}

/// The matching signature of a series under `on`/`ignoring`.
fn signature(l: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        Labels::from_pairs(
            l.iter()
                .map(|p| (named(&p.name), &*p.value))
                .filter(|(name, _)| m.labels.iter().any(|n| n == name)),
        )
    } else {
        Labels::from_pairs(
            l.iter()
                .filter(|p| !names_metric(&p.name) && !m.labels.iter().any(|n| n == &*p.name))
                .map(|p| (&*p.name, &*p.value)),
        )
    }
}

/// Interns signatures: series index -> signature id.
fn sig_ids(
    sides: [&[GSeries]; 2],
    m: &VectorMatching,
) -> ([Vec<usize>; 2], HashMap<Labels, usize>) {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut per = [Vec::new(), Vec::new()];
    for (side, series) in sides.iter().enumerate() {
        for s in series.iter() {
            let sig = signature(&s.labels, m);
            let next = ids.len();
            per[side].push(*ids.entry(sig).or_insert(next));
        }
    }
    (per, ids)
}

fn set_op(
    ctx: &Ctx,
    op: BinaryOp,
    lhs: Vec<GSeries>,
    rhs: Vec<GSeries>,
    m: &VectorMatching,
    n: usize,
) -> Result<Vec<GSeries>, EvalError> {
    let ([lsig, rsig], ids) = sig_ids([&lhs, &rhs], m);
    // present[sig][k]: does that side have a series with this sig at step k?
    let presence = |series: &[GSeries], sigs: &[usize]| {
        let mut p = ctx.filled(false, ids.len().saturating_mul(n))?;
        for (s, &id) in series.iter().zip(sigs) {
            for (k, v) in s.vals.iter().enumerate() {
                if v.is_some() || s.hist(k).is_some() {
                    p[id * n + k] = true;
                }
            }
        }
        Ok::<_, EvalError>(p)
    };
    ctx.check()?;
    Ok(match op {
        BinaryOp::And | BinaryOp::Unless => {
            let rp = presence(&rhs, &rsig)?;
            let want = op == BinaryOp::And;
            let mut out = lhs;
            for (s, &id) in out.iter_mut().zip(&lsig) {
                for (k, v) in s.vals.iter_mut().enumerate() {
                    if rp[id * n + k] != want {
                        *v = None;
                        if let Some(h) = s.hists.get_mut(k) {
                            *h = None;
                        }
                    }
                }
            }
            out.retain(GSeries::has_any);
            out
        }
        _ => {
            let lp = presence(&lhs, &lsig)?;
            let mut out = lhs;
            for (mut s, &id) in rhs.into_iter().zip(&rsig) {
                for (k, v) in s.vals.iter_mut().enumerate() {
                    if lp[id * n + k] {
                        *v = None;
                        if let Some(h) = s.hists.get_mut(k) {
                            *h = None;
                        }
                    }
                }
                out.push(s);
            }
            merge_same_labels(out)?
        }
    })
}

/// [`result_labels`], the name deferred under delayed name removal.
fn result_labels_in(
    ctx: &Ctx,
    many: &Labels,
    one: &Labels,
    m: &VectorMatching,
    drop: bool,
) -> Labels {
    if drop && ctx.delayed_names {
        ctx.drop_name(&result_labels(many, one, m, false))
    } else {
        result_labels(many, one, m, drop)
    }
}

fn result_labels(many: &Labels, one: &Labels, m: &VectorMatching, drop: bool) -> Labels {
    let include: &[String] = m.group.as_ref().map_or(&[], |(_, l)| l.as_slice());
    let keep = |name: &str| {
        if drop && names_metric(name) {
            return false;
        }
        if m.group.is_none() {
            let listed = m.labels.iter().any(|n| n == name);
            if m.on != listed {
                return false;
            }
        }
        !include.iter().any(|n| n == name)
    };
    let mut pairs: Vec<(&str, &str)> = many
        .iter()
        .filter(|p| keep(&p.name))
        .map(|p| (&*p.name, &*p.value))
        .collect();
    for name in include {
        if let Some(v) = one.get(name) {
            pairs.push((name, v));
        }
    }
    Labels::from_pairs(pairs)
}

/// The `fill_left`/`fill_right` values of a vector-vector operation. As
/// in Prometheus, `fill_left` stands in for a missing series of the
/// "many" side and `fill_right` for the "one" side, which under
/// `group_right` are the right and the left operand.
#[derive(Clone, Copy)]
struct Fill {
    many: Option<f64>,
    one: Option<f64>,
}

/// The value of `lhs op rhs` as a result slot.
fn slot(op: BinaryOp, l: f64, r: f64, return_bool: bool) -> Option<f64> {
    let (val, keep) = apply(op, l, r);
    if return_bool {
        Some(if keep { 1.0 } else { 0.0 })
    } else {
        keep.then_some(val)
    }
}

/// Adds `vals` under `labels` to `out`, merging with an earlier series of
/// the same labels unless both have a value at the same step.
fn push_merged(
    out: &mut Vec<GSeries>,
    by_labels: &mut HashMap<Labels, usize>,
    labels: Labels,
    vals: Vec<Option<f64>>,
) -> Result<(), EvalError> {
    push_merged_series(
        out,
        by_labels,
        GSeries {
            hists: Vec::new(),
            labels,
            vals,
        },
    )
}

/// [`push_merged`] of a series that may carry histograms.
fn push_merged_series(
    out: &mut Vec<GSeries>,
    by_labels: &mut HashMap<Labels, usize>,
    s: GSeries,
) -> Result<(), EvalError> {
    match by_labels.get(&s.labels) {
        None => {
            by_labels.insert(s.labels.clone(), out.len());
            out.push(s);
        }
        Some(&idx) => {
            if !out[idx].absorb(&s) {
                return Err(EvalError::MultipleMatches {
                    reason: "grouping labels must ensure unique matches",
                });
            }
        }
    }
    Ok(())
}

/// The float or histogram of `s` at step `k`.
fn operand(s: &GSeries, k: usize) -> Option<Operand<'_>> {
    match (s.vals[k], s.hist(k)) {
        (Some(v), _) => Some(Operand::Float(v)),
        (None, Some(h)) => Some(Operand::Hist(h)),
        (None, None) => None,
    }
}

/// Per signature and step: does `series` have a value there?
fn presence(
    ctx: &Ctx,
    series: &[GSeries],
    sigs: &[usize],
    nsig: usize,
    n: usize,
) -> Result<Vec<bool>, EvalError> {
    let mut p = ctx.filled(false, nsig.saturating_mul(n))?;
    for (s, &id) in series.iter().zip(sigs) {
        for (k, v) in s.vals.iter().enumerate() {
            if v.is_some() {
                p[id * n + k] = true;
            }
        }
    }
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ctx: &Ctx,
    op: BinaryOp,
    lhs: Vec<GSeries>,
    rhs: Vec<GSeries>,
    m: &VectorMatching,
    return_bool: bool,
    fill: Fill,
    n: usize,
) -> Result<Vec<GSeries>, EvalError> {
    let swapped = matches!(m.group, Some((GroupSide::Right, _)));
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let ([msig, osig], ids) = sig_ids([&many, &one], m);
    // The "one" side must be unique per signature at every step.
    let mut one_by_sig: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (j, &id) in osig.iter().enumerate() {
        one_by_sig[id].push(j);
    }
    for members in one_by_sig.iter().filter(|m| m.len() > 1) {
        for k in 0..n {
            let present: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&j| one[j].vals[k].is_some())
                .collect();
            if present.len() > 1 {
                return Err(EvalError::ManyToMany {
                    group: signature(&one[present[0]].labels, m).to_string(),
                    side: if swapped { "left" } else { "right" },
                    series: present
                        .iter()
                        .map(|&j| one[j].labels.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    ctx.check()?;
    let drop = drops_name(op, return_bool);
    let one_to_one = m.group.is_none();
    // For one-to-one: at each step, how often each "one" series was used.
    let mut used: Vec<Vec<u32>> = if one_to_one {
        ctx.admit::<u32>(n.saturating_mul(one.len()))?;
        vec![vec![0; n]; one.len()]
    } else {
        Vec::new()
    };
    let mut out: Vec<GSeries> = Vec::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    for (i, ms) in many.iter().enumerate() {
        for &j in &one_by_sig[msig[i]] {
            let os = &one[j];
            let labels = result_labels_in(ctx, &ms.labels, &os.labels, m, drop);
            ctx.check()?;
            let mut vals = ctx.grid(n)?;
            let mut hists: Vec<Option<FloatHistogram>> = Vec::new();
            for k in 0..n {
                if ms.hist(k).is_some() || os.hist(k).is_some() {
                    let (Some(mo), Some(oo)) = (operand(ms, k), operand(os, k)) else {
                        continue;
                    };
                    let (l, r) = if swapped { (oo, mo) } else { (mo, oo) };
                    let answer = hist_binary::apply(ctx, op, l, r, return_bool);
                    if one_to_one && answer.is_some() {
                        used[j][k] += 1;
                        if used[j][k] > 1 {
                            return Err(EvalError::MultipleMatches {
                                reason: "many-to-one matching must be explicit (group_left/group_right)",
                            });
                        }
                    }
                    match answer {
                        Some(Answer::Float(x)) => vals[k] = Some(x),
                        Some(Answer::Hist(h)) => {
                            hists.resize(n, None);
                            hists[k] = Some(h);
                        }
                        None => {}
                    }
                    continue;
                }
                let (Some(mv), Some(ov)) = (ms.vals[k], os.vals[k]) else {
                    continue;
                };
                let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
                let (val, keep) = apply(op, l, r);
                // Only results that survive a filtering comparison can clash.
                if one_to_one && (keep || return_bool) {
                    used[j][k] += 1;
                    if used[j][k] > 1 {
                        return Err(EvalError::MultipleMatches {
                            reason: "many-to-one matching must be explicit (group_left/group_right)",
                        });
                    }
                }
                vals[k] = if return_bool {
                    Some(if keep { 1.0 } else { 0.0 })
                } else if keep {
                    Some(val)
                } else {
                    None
                };
            }
            push_merged_series(
                &mut out,
                &mut by_labels,
                GSeries {
                    labels,
                    vals,
                    hists,
                },
            )?;
        }
    }
    let order = |mv: f64, ov: f64| if swapped { (ov, mv) } else { (mv, ov) };
    // The values of `s` at the steps where the other side has no partner
    // (`other_here[sig * n + k]` false), each met with the fill value by
    // `pair`; `None` when there are none.
    let filled = |s: &GSeries,
                  sig: usize,
                  other_here: &[bool],
                  pair: &dyn Fn(f64) -> (f64, f64)|
     -> Result<Option<Vec<Option<f64>>>, EvalError> {
        ctx.check()?;
        let mut vals = ctx.grid(n)?;
        for k in 0..n {
            if let Some(v) = s.vals[k]
                && !other_here[sig * n + k]
            {
                let (l, r) = pair(v);
                vals[k] = slot(op, l, r, return_bool);
            }
        }
        Ok(vals.iter().any(Option::is_some).then_some(vals))
    };
    if let Some(fv) = fill.one {
        // A "many" series with no partner at a step meets the fill value.
        let one_here = presence(ctx, &one, &osig, ids.len(), n)?;
        let empty = Labels::default();
        for (i, ms) in many.iter().enumerate() {
            if let Some(vals) = filled(ms, msig[i], &one_here, &|mv| order(mv, fv))? {
                let labels = result_labels_in(ctx, &ms.labels, &empty, m, drop);
                push_merged(&mut out, &mut by_labels, labels, vals)?;
            }
        }
    }
    if let Some(fv) = fill.many {
        // A "one" series nothing matches at a step yields a series of its
        // matching labels.
        let many_here = presence(ctx, &many, &msig, ids.len(), n)?;
        for (j, os) in one.iter().enumerate() {
            if let Some(vals) = filled(os, osig[j], &many_here, &|ov| order(fv, ov))? {
                push_merged(&mut out, &mut by_labels, signature(&os.labels, m), vals)?;
            }
        }
    }
    out.retain(GSeries::has_any);
    Ok(out)
}
