//! Calendar functions (`hour`, `day_of_week`, ...) on values read as Unix
//! seconds, in UTC, on [`hourglass_storage::calendar`].

use super::super::Ctx;
use super::super::error::EvalError;
use super::super::value::{GSeries, Grid};
use super::apply::map_values;
use super::args::vector_arg;
use crate::parser::ast::Expr;
use hourglass_storage::Labels;
use hourglass_storage::calendar::{civil_from_days, days_in_month};

/// The part of a date a calendar function reads.
#[derive(Clone, Copy)]
pub(super) enum DatePart {
    Minute,
    Hour,
    DayOfWeek,
    DayOfMonth,
    DayOfYear,
    DaysInMonth,
    Month,
    Year,
}

fn date_part(part: DatePart, secs: f64) -> f64 {
    if !secs.is_finite() {
        return f64::NAN;
    }
    // Go truncates the float to whole seconds toward zero.
    let s = secs.trunc() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match part {
        DatePart::Minute => ((sod / 60) % 60) as f64,
        DatePart::Hour => (sod / 3600) as f64,
        DatePart::DayOfWeek => (days + 4).rem_euclid(7) as f64,
        DatePart::DayOfMonth => f64::from(d),
        DatePart::DayOfYear => {
            let before: u32 = (1..m).map(|mm| days_in_month(y, mm)).sum();
            f64::from(before + d)
        }
        DatePart::DaysInMonth => f64::from(days_in_month(y, m)),
        DatePart::Month => f64::from(m),
        DatePart::Year => y as f64,
    }
}

/// `minute(v)`, `hour(v)`, ...: `part` of each value read as Unix
/// seconds; without an argument, of `vector(time())`.
pub(super) fn call(
    ctx: &Ctx,
    args: &[Expr],
    g: Grid,
    part: DatePart,
) -> Result<Vec<GSeries>, EvalError> {
    let input = match args.first() {
        Some(_) => vector_arg(ctx, args.first(), g)?,
        None => {
            ctx.admit::<Option<f64>>(g.n)?;
            vec![GSeries {
                hists: Vec::new(),
                labels: Labels::default(),
                vals: g.times().map(|t| Some(t as f64 / 1000.0)).collect(),
            }]
        }
    };
    map_values(ctx, input, |v, _| date_part(part, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date_part(DatePart::DayOfWeek, 0.0), 4.0);
        assert_eq!(date_part(DatePart::DayOfYear, 1_709_164_800.0), 60.0);
        assert_eq!(date_part(DatePart::DaysInMonth, 1_709_164_800.0), 29.0);
    }
}
