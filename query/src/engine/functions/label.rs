//! `label_replace`, `label_join` and `sort_by_label*`: labels are rewritten
//! once per series, since they do not change over time.

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::value::{DEFERRED_NAME, GSeries, Grid, NAME, merge_same_labels, metric_name_of};
use super::args::{string_arg, vector_arg};
use crate::parser::ast::Expr;
use hourglass_storage::Labels;
use regex::Regex;
use std::cmp::Ordering;

/// `l` with `name` set to `value`; setting `__name__` revives a name
/// whose removal was deferred, replaced.
fn set_label(l: &Labels, name: &str, value: &str) -> Labels {
    Labels::from_pairs(
        l.iter()
            .filter(|p| &*p.name != name && !(name == NAME && &*p.name == DEFERRED_NAME))
            .map(|p| (&*p.name, &*p.value))
            .chain(std::iter::once((name, value))),
    )
}

/// The value of label `name` as the label functions read it: `__name__`
/// also when its removal is deferred.
fn label_value<'l>(l: &'l Labels, name: &str) -> Option<&'l str> {
    if name == NAME {
        metric_name_of(l)
    } else {
        l.get(name)
    }
}

/// Natural order, as Prometheus's `sort_by_label`: runs of digits compare
/// as numbers (`a9` < `a10`), everything else byte-wise.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (nx, ny) = (run(x), run(y));
                let trim = |s: &[u8]| {
                    let z = s.iter().take_while(|&&c| c == b'0').count();
                    s[z..].to_vec()
                };
                let (dx, dy) = (trim(&x[..nx]), trim(&y[..ny]));
                let ord = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(&dy));
                if ord.is_ne() {
                    return ord;
                }
                (x, y) = (&x[nx..], &y[ny..]);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                (x, y) = (&x[1..], &y[1..]);
            }
        }
    }
}

fn check_name(func: &'static str, name: &str) -> Result<(), EvalError> {
    if name.is_empty() {
        return Err(EvalError::InvalidArgument {
            func,
            reason: format!("invalid destination label name {name:?}"),
        });
    }
    Ok(())
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(super) fn replace(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let dst = string_arg(args.get(1));
    let repl = string_arg(args.get(2));
    let src = string_arg(args.get(3));
    let pattern = string_arg(args.get(4));
    let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| EvalError::InvalidArgument {
        func: "label_replace",
        reason: format!("invalid regular expression {pattern:?}: {e}"),
    })?;
    check_name("label_replace", &dst)?;
    let mut v = vector_arg(ctx, args.first(), g)?;
    let refs = repl.matches('$').count();
    for s in &mut v {
        ctx.check()?;
        let value = label_value(&s.labels, &src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            // Every `$` may repeat the whole value: a short query
            // can ask for huge labels, so they are counted first.
            ctx.admit::<u8>(refs.saturating_mul(value.len()).saturating_add(repl.len()))?;
            let mut out = String::new();
            caps.expand(&repl, &mut out);
            s.labels = set_label(&s.labels, &dst, &out);
        }
    }
    merge_same_labels(v)
}

/// `label_join(v, dst, separator, src...)`.
pub(super) fn join(ctx: &Ctx, args: &[Expr], g: Grid) -> Result<Vec<GSeries>, EvalError> {
    let dst = string_arg(args.get(1));
    let sep = string_arg(args.get(2));
    let srcs: Vec<String> = args.iter().skip(3).map(|a| string_arg(Some(a))).collect();
    check_name("label_join", &dst)?;
    let mut v = vector_arg(ctx, args.first(), g)?;
    for s in &mut v {
        ctx.check()?;
        let len = srcs
            .iter()
            .map(|n| {
                label_value(&s.labels, n)
                    .map_or(0, str::len)
                    .saturating_add(sep.len())
            })
            .fold(0, usize::saturating_add);
        ctx.admit::<u8>(len)?;
        let joined = srcs
            .iter()
            .map(|n| label_value(&s.labels, n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&sep);
        s.labels = set_label(&s.labels, &dst, &joined);
    }
    merge_same_labels(v)
}

/// `sort_by_label(v, label...)`, descending with `desc`.
pub(super) fn sort_by_label(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    desc: bool,
) -> Result<Vec<GSeries>, EvalError> {
    let names: Vec<String> = args.iter().skip(1).map(|a| string_arg(Some(a))).collect();
    let mut v = vector_arg(ctx, args.first(), g)?;
    v.sort_by(|a, b| {
        let ord = names
            .iter()
            .map(|n| {
                let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                natural_cmp(x, y)
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.labels.cmp(&b.labels));
        if desc { ord.reverse() } else { ord }
    });
    Ok(v)
}
