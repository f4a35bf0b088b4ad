//! Calendar functions (`hour`, `day_of_week`, ...) on values read as Unix
//! seconds, in UTC, on [`hourglass_storage::calendar`].

use super::super::Ctx;
use super::super::value::{GSeries, Grid};
use super::{FamilyResult, map_values, vector_arg};
use crate::parser::ast::Expr;
use hourglass_storage::Labels;
use hourglass_storage::calendar::{civil_from_days, days_in_month};

fn date_part(name: &str, secs: f64) -> f64 {
    if !secs.is_finite() {
        return f64::NAN;
    }
    // Go truncates the float to whole seconds toward zero.
    let s = secs.trunc() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_month" => f64::from(d),
        "day_of_year" => {
            let before: u32 = (1..m).map(|mm| days_in_month(y, mm)).sum();
            f64::from(before + d)
        }
        "days_in_month" => f64::from(days_in_month(y, m)),
        "month" => f64::from(m),
        "year" => y as f64,
        _ => f64::NAN,
    }
}

pub(super) fn call(ctx: &Ctx, name: &str, args: &[Expr], g: Grid) -> FamilyResult {
    if !matches!(
        name,
        "minute"
            | "hour"
            | "day_of_week"
            | "day_of_month"
            | "day_of_year"
            | "days_in_month"
            | "month"
            | "year"
    ) {
        return Ok(None);
    }
    // Without an argument: vector(time()).
    let input = match args.first() {
        Some(_) => vector_arg(ctx, args.first(), g)?,
        None => {
            ctx.admit::<Option<f64>>(g.n)?;
            vec![GSeries {
                labels: Labels::default(),
                vals: g.times().map(|t| Some(t as f64 / 1000.0)).collect(),
            }]
        }
    };
    map_values(input, |v, _| date_part(name, v)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        assert_eq!(date_part("day_of_year", 1_709_164_800.0), 60.0);
        assert_eq!(date_part("days_in_month", 1_709_164_800.0), 29.0);
    }
}
