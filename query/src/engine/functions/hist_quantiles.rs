//! `histogram_quantiles(v, "label", φ1, φ2, …)`: `histogram_quantile` at
//! several quantiles at once, each result labelled with its quantile.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::numeric::warn_invalid_quantiles;
use super::super::value::{GSeries, Grid, merge_same_labels};
use super::args::{scalar_arg, string_arg, vector_arg};
use super::{hist_instant, histogram};
use crate::parser::ast::Expr;
use crate::prom_text::exposition_float;
use hourglass_storage::Labels;
use std::collections::HashMap;

const FUNC: &str = "histogram_quantiles";

/// The call: every quantile of every histogram of `v`, as one vector.
pub(super) fn call(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let label = string_arg(args.get(1));
    if label.is_empty() {
        return Err(invalid(format!("invalid label name {label:?}")));
    }
    let quantiles = args.get(2..).unwrap_or(&[]);
    if quantiles.is_empty() {
        return Err(invalid("at least one quantile is needed".to_owned()));
    }
    let v = vector_arg(ctx, args.first(), g)?;
    if let Some(s) = v.iter().find(|s| s.labels.get(&label).is_some()) {
        return Err(invalid(format!(
            "label {label:?} is already present on input series {:?}",
            s.labels.metric_name().unwrap_or("")
        )));
    }
    let mut out = Vec::new();
    for arg in quantiles {
        let q = scalar_arg(ctx, Some(arg), g)?;
        warn_invalid_quantiles(ctx, &q);
        let native = hist_instant::quantiles(ctx, &q, &v, g.n)?;
        let classic = histogram::per_histogram(ctx, FUNC, v.clone(), g.n, |k, b| {
            histogram::bucket_quantile(q[k], b)
        })?;
        for s in histogram::with_native(ctx, classic, native)? {
            labelled(ctx, s, &label, &q, &mut out)?;
        }
    }
    merge_same_labels(out)
}

/// `s` with `label` set to its step's quantile: one series per quantile
/// value the steps ask for (one, unless φ changes over time).
fn labelled(
    ctx: &Ctx,
    s: GSeries,
    label: &str,
    q: &[f64],
    out: &mut Vec<GSeries>,
) -> Result<(), EvalError> {
    let mut by_value: HashMap<u64, usize> = HashMap::new();
    let first = out.len();
    for k in 0..s.vals.len().max(s.hists.len()) {
        let has = s.vals.get(k).is_some_and(Option::is_some)
            || s.hists.get(k).is_some_and(Option::is_some);
        if !has {
            continue;
        }
        let phi = q.get(k).copied().unwrap_or(f64::NAN);
        let i = *by_value.entry(phi.to_bits()).or_insert_with(|| {
            out.push(GSeries {
                labels: with_label(&s.labels, label, &exposition_float(phi)),
                vals: Vec::new(),
                hists: Vec::new(),
            });
            out.len() - 1
        });
        let row = &mut out[i];
        if let Some(Some(v)) = s.vals.get(k) {
            if row.vals.is_empty() {
                row.vals = ctx.grid(s.vals.len())?;
            }
            row.vals[k] = Some(*v);
        }
        if let Some(Some(h)) = s.hists.get(k) {
            if row.hists.is_empty() {
                row.hists = vec![None; s.hists.len()];
            }
            row.hists[k] = Some(h.clone());
        }
    }
    let n = s.vals.len();
    for row in out.iter_mut().skip(first) {
        if row.vals.is_empty() {
            row.vals = ctx.grid(n)?;
        }
    }
    Ok(())
}

fn with_label(l: &Labels, name: &str, value: &str) -> Labels {
    Labels::from_pairs(
        l.iter()
            .map(|p| (&*p.name, &*p.value))
            .chain(std::iter::once((name, value))),
    )
}

fn invalid(reason: String) -> EvalError {
    EvalError::InvalidArgument { func: FUNC, reason }
}
