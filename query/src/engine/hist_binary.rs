//! Binary operators where a native histogram is an operand: `+`/`-`
//! between histograms, `*` by a float on either side, `/` by a float on
//! the right, `==`/`!=` between histograms; every other pairing yields
//! nothing, with Prometheus's info annotation.

use super::histogram::arith::{Incompatible, add, custom_mismatch, equal, map_values, sub};
use super::histogram::trim::{Keep, trim};
use super::{Ctx, Note};
use crate::parser::ast::BinaryOp;
use hourglass_storage::FloatHistogram;

/// One operand at one step.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    Float(f64),
    Hist(&'a FloatHistogram),
}

/// One step's result.
pub(crate) enum Answer {
    Float(f64),
    Hist(FloatHistogram),
}

impl Operand<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Operand::Float(_) => "float",
            Operand::Hist(_) => "histogram",
        }
    }
}

/// `l op r` where at least one side is a histogram.
pub(crate) fn apply(
    ctx: &Ctx,
    op: BinaryOp,
    l: Operand,
    r: Operand,
    return_bool: bool,
) -> Option<Answer> {
    use BinaryOp::*;
    use Operand::{Float, Hist};
    let done = |h: Result<FloatHistogram, Incompatible>| match h {
        Ok(h) => Some(Answer::Hist(h)),
        Err(_) => {
            ctx.note(
                Note::Warning,
                format!("PromQL warning: incompatible bucket layout encountered for binary operator {:?}", op.as_str()),
            );
            None
        }
    };
    let reconciled = |a: &FloatHistogram, b: &FloatHistogram, what: &str| {
        if custom_mismatch(a, b) {
            ctx.note(
                Note::Info,
                format!("PromQL info: mismatched custom buckets were reconciled during {what}"),
            );
        }
    };
    match (op, l, r) {
        (Add, Hist(a), Hist(b)) => {
            reconciled(a, b, "addition");
            done(add(a, b))
        }
        (Sub, Hist(a), Hist(b)) => {
            reconciled(a, b, "subtraction");
            done(sub(a, b)).map(|x| match x {
                Answer::Hist(mut h) => {
                    h.counter_reset_hint = hourglass_storage::CounterResetHint::Gauge;
                    Answer::Hist(h)
                }
                other => other,
            })
        }
        (Mul, Hist(h), Float(f)) | (Mul, Float(f), Hist(h)) => {
            Some(Answer::Hist(map_values(h, |c| c * f)))
        }
        (Div, Hist(h), Float(f)) => {
            let mut q = map_values(h, |c| c / f);
            if f == 0.0 {
                // Division by zero leaves no buckets, as in Prometheus.
                q.positive_spans.clear();
                q.positive_buckets.clear();
                q.negative_spans.clear();
                q.negative_buckets.clear();
            }
            Some(Answer::Hist(q))
        }
        (TrimUpper, Hist(h), Float(x)) => Some(Answer::Hist(trim(h, x, Keep::Below))),
        (TrimLower, Hist(h), Float(x)) => Some(Answer::Hist(trim(h, x, Keep::Above))),
        (Eql | Neq, Hist(a), Hist(b)) => {
            let holds = equal(a, b) == (op == Eql);
            if return_bool {
                Some(Answer::Float(if holds { 1.0 } else { 0.0 }))
            } else {
                holds.then(|| Answer::Hist(a.clone()))
            }
        }
        _ => {
            ctx.note(
                Note::Info,
                format!(
                    "PromQL info: incompatible sample types encountered for binary operator {:?}: {} {} {}",
                    op.as_str(),
                    l.type_name(),
                    op.as_str(),
                    r.type_name()
                ),
            );
            None
        }
    }
}
