//! `absent` and `absent_over_time`.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::range;
use super::super::selected;
use super::super::value::{GSeries, GValue, Grid};
use super::args::{matrix, unparen, vector_arg};
use crate::parser::ast::Expr;
use hourglass_storage::{Labels, MatchOp};

/// `absent(v)`.
pub(super) fn absent(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<GValue, EvalError> {
    let series = vector_arg(ctx, args.first(), g)?;
    let present = |k: usize| {
        series
            .iter()
            .any(|s| s.vals[k].is_some() || s.hist(k).is_some())
    };
    absent_result(ctx, args.first(), g.n, present)
}

/// `absent_over_time(m)`.
pub(super) fn absent_over_time(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<GValue, EvalError> {
    let m = matrix(ctx, args.first(), g)?;
    let (ends, width) = (&m.ends, m.range);
    let mut windows: Vec<Vec<(usize, usize)>> = selected::par_map(
        ctx,
        m.series,
        || (),
        |_, _, samples, _, _| {
            ctx.admit::<(usize, usize)>(ends.len())?;
            Ok(range::windows(samples, ends, width).collect())
        },
    )?;
    // Histogram samples count as present too.
    let taken = match args.first() {
        Some(a) => ctx.take_hists(range::hist_key(a))?,
        None => None,
    };
    if let Some(hm) = taken {
        for s in &hm.series {
            let times: Vec<hourglass_storage::Sample> = s
                .hists
                .iter()
                .map(|(t, _)| hourglass_storage::Sample::new(*t, 0.0))
                .collect();
            windows.push(range::windows(&times, &hm.ends, hm.range).collect());
        }
    }
    let present = |k: usize| {
        let k = if m.ends.len() == 1 { 0 } else { k };
        windows.iter().any(|w| w[k].0 < w[k].1)
    };
    absent_result(ctx, args.first(), g.n, present)
}

/// `absent`/`absent_over_time`: one series at the steps where the
/// argument had none, labelled from the selector's equality matchers.
fn absent_result(
    ctx: &Ctx,
    arg: Option<&Expr>,
    n: usize,
    present: impl Fn(usize) -> bool,
) -> Result<GValue, EvalError> {
    let matchers = match arg.map(unparen) {
        Some(Expr::Vector(vs)) => vs.matchers.as_slice(),
        Some(Expr::Matrix(ms)) => ms.vector.matchers.as_slice(),
        _ => &[],
    };
    // In matcher order: the first equality matcher of a name sets the
    // label, and any other matcher of that name removes it again.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name() == "__name__" {
            continue;
        }
        if m.op() == MatchOp::Equal && !seen.contains(&m.name()) {
            seen.push(m.name());
            pairs.push((m.name(), m.value()));
        } else {
            pairs.retain(|(n, _)| *n != m.name());
        }
    }
    pairs.retain(|(_, v)| !v.is_empty());
    ctx.admit::<Option<f64>>(n)?;
    let vals: Vec<Option<f64>> = (0..n).map(|k| (!present(k)).then_some(1.0)).collect();
    if vals.iter().all(Option::is_none) {
        return Ok(GValue::Vector(Vec::new()));
    }
    Ok(GValue::Vector(vec![GSeries {
        hists: Vec::new(),
        labels: Labels::from_pairs(pairs),
        vals,
    }]))
}
