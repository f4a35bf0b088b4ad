//! `info(v [, {selector}])`: adds to each series of `v` the data labels of
//! the info series (`target_info` unless the selector names others by
//! `__name__`; negative name matchers alone narrow the `*_info` metrics)
//! that share its identifying labels `instance` and `job`.
//!
//! The selector's other matchers pick the info series and which of their
//! labels to add; when nothing matches at a step and one of them does not
//! accept an empty value, the series is dropped at that step. Labels the
//! series already has are never overwritten; of several series of one
//! info metric the newest sample wins; two info metrics giving one label
//! different values is an error. Series of the info metrics themselves
//! pass through unchanged.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range;
use super::super::selected;
use super::super::value::{GSeries, Grid, NAME};
use super::args::{unparen, vector_arg};
use crate::parser::ast::{Expr, VectorSelector};
use hourglass_storage::{Labels, MatchOp, Matcher};
use std::collections::HashMap;

/// The labels that tie a series to its info series.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

pub(super) fn info(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let base = vector_arg(ctx, args.first(), g)?;
    let selector: &[Matcher] = match args.get(1).map(unparen) {
        Some(Expr::Vector(vs)) => &vs.matchers,
        _ => &[],
    };
    let (mut names, data): (Vec<Matcher>, Vec<Matcher>) =
        selector.iter().cloned().partition(|m| m.name() == NAME);
    // No name matcher means `target_info`; only negative ones narrow all
    // the info metrics (`*_info`).
    if names.is_empty() {
        names.push(matcher(MatchOp::Equal, NAME, "target_info")?);
    } else if names
        .iter()
        .all(|m| matches!(m.op(), MatchOp::NotEqual | MatchOp::RegexNoMatch))
    {
        names.push(matcher(MatchOp::RegexMatch, NAME, ".+_info")?);
    }
    let is_info = |l: &Labels| {
        let name = l.metric_name().unwrap_or("");
        names.iter().all(|m| m.matches(name))
    };
    let needs_match = data.iter().any(|m| !m.matches_empty());
    // The info series, with the time of the sample each step sees.
    let mut select = names.clone();
    select.push(matcher(MatchOp::RegexMatch, NAME, ".+")?);
    let vs = VectorSelector::new(None, select);
    let infos: Vec<GSeries> = info_series(ctx, &vs, g)?
        .into_iter()
        .filter(|s| data.iter().all(|m| m.matches_labels(&s.labels)))
        .collect();
    let key = |l: &Labels| -> Vec<String> {
        IDENTIFYING
            .iter()
            .map(|n| l.get(n).unwrap_or("").to_owned())
            .collect()
    };
    let mut by_key: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (j, s) in infos.iter().enumerate() {
        by_key.entry(key(&s.labels)).or_default().push(j);
    }
    let mut out: Vec<GSeries> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in base {
        ctx.check()?;
        let identified = IDENTIFYING.iter().any(|n| s.labels.get(n).is_some());
        if is_info(&s.labels) || !identified {
            let row = s
                .vals
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| (k, v)));
            push(ctx, &mut out, &mut index, s.labels.clone(), g.n, row)?;
            continue;
        }
        let candidates = by_key.get(&key(&s.labels)).map_or(&[][..], Vec::as_slice);
        for (k, v) in s.vals.iter().enumerate() {
            let Some(v) = *v else { continue };
            // Per info metric, the series with the newest sample.
            let mut newest: HashMap<&str, (f64, usize)> = HashMap::new();
            for &j in candidates {
                if infos[j].hists.get(k).is_some_and(Option::is_some) {
                    return Err(EvalError::InvalidArgument {
                        func: "info",
                        reason: "info sample should be float".into(),
                    });
                }
                if let Some(t) = infos[j].vals[k] {
                    let name = infos[j].labels.metric_name().unwrap_or("");
                    let e = newest.entry(name).or_insert((t, j));
                    if t > e.0 {
                        *e = (t, j);
                    }
                }
            }
            if newest.is_empty() {
                if !needs_match {
                    let one = std::iter::once((k, v));
                    push(ctx, &mut out, &mut index, s.labels.clone(), g.n, one)?;
                }
                continue;
            }
            let mut added: Vec<(&str, &str)> = Vec::new();
            for &(_, j) in newest.values() {
                for p in infos[j].labels.iter() {
                    let (n, val) = (&*p.name, &*p.value);
                    let wanted = data.is_empty() || data.iter().any(|m| m.name() == n);
                    if n == NAME || IDENTIFYING.contains(&n) || !wanted {
                        continue;
                    }
                    if s.labels.get(n).is_some() {
                        continue;
                    }
                    match added.iter().find(|(a, _)| *a == n) {
                        Some((_, prev)) if *prev != val => {
                            return Err(EvalError::InvalidArgument {
                                func: "info",
                                reason: format!(
                                    "conflicting label {n:?}: {prev:?} and {val:?} from different info metrics"
                                ),
                            });
                        }
                        Some(_) => {}
                        None => added.push((n, val)),
                    }
                }
            }
            let labels =
                Labels::from_pairs(s.labels.iter().map(|p| (&*p.name, &*p.value)).chain(added));
            push(
                ctx,
                &mut out,
                &mut index,
                labels,
                g.n,
                std::iter::once((k, v)),
            )?;
        }
    }
    Ok(out)
}

/// The info series: at each step the time of the float sample the step
/// sees, and the histogram it sees instead, if any (an error once used).
fn info_series(ctx: &Ctx, vs: &VectorSelector, g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let (raw, eg, off) = range::selector_load(ctx, vs, g)?;
    let lookback = ctx.lookback;
    let mut out = selected::par_grids(ctx, raw, eg.n, |s, hs, vals| {
        range::lookback_each(s, eg, off, lookback, true, |k, v| vals[k] = Some(v));
        if hs.is_empty() {
            Ok(Vec::new())
        } else {
            range::lookback_hists(ctx, s, hs, eg, off, lookback, false, vals)
        }
    })?;
    range::broadcast(ctx, &mut out, g.n)?;
    Ok(out)
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, EvalError> {
    Matcher::new(op, name, value).map_err(|e| EvalError::InvalidArgument {
        func: "info",
        reason: e.to_string(),
    })
}

/// Adds the values `vals` (step, value) under `labels`; two values for
/// one labelset at one step are an error.
fn push(
    ctx: &Ctx,
    out: &mut Vec<GSeries>,
    index: &mut HashMap<Labels, usize>,
    labels: Labels,
    n: usize,
    vals: impl Iterator<Item = (usize, f64)>,
) -> Result<(), EvalError> {
    let i = match index.get(&labels) {
        Some(&i) => i,
        None => {
            out.push(GSeries {
                hists: Vec::new(),
                labels: labels.clone(),
                vals: ctx.grid(n)?,
            });
            index.insert(labels, out.len() - 1);
            out.len() - 1
        }
    };
    let s = &mut out[i];
    for (k, v) in vals {
        match s.vals.get_mut(k) {
            Some(slot @ None) => *slot = Some(v),
            Some(Some(_)) => {
                return Err(EvalError::DuplicateLabelset {
                    labels: s.labels.to_string(),
                });
            }
            None => {}
        }
    }
    Ok(())
}
