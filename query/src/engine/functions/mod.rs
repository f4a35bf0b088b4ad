//! Function calls: one exhaustive match from the parsed [`Func`] to its
//! implementation, so every function that parses is evaluated.

mod absent;
mod apply;
mod args;
mod delta_temporality;
mod emit;
mod extended;
mod extrapolate;
mod hist_fold;
mod hist_instant;
mod hist_quantiles;
mod hist_range;
mod histogram;
mod info;
mod label;
mod math;
mod over_time;
pub(crate) mod rate;
mod regular;
mod scalar;
mod start_times;
mod time;
mod window_extreme;
mod window_sum;

use super::Ctx;
use super::error::EvalError;
use super::range::hist_key;
use super::value::{GValue, Grid};
use crate::parser::ast::{Call, Expr};
use crate::parser::functions::Func as F;
pub(crate) use args::unparen;
pub(crate) use emit::Emit;
pub(crate) use extended::smoothed_selector;
use hourglass_storage::ReadAs;
use time::DatePart;

pub(crate) fn call(ctx: &Ctx, c: &Call, g: Grid) -> Result<GValue, EvalError> {
    let args = &c.args;
    let (keep_name, drop_name) = (true, false);
    let unary = |f: fn(f64) -> f64| math::unary(ctx, args, g, f);
    let date = |part: DatePart| time::call(ctx, args, g, part);
    let window_as = |keep: bool, f: over_time::Kernel, read: ReadAs| {
        over_time::each(ctx, args, g, keep, f, read)
    };
    let window = |keep: bool, f: over_time::Kernel| window_as(keep, f, ReadAs::Last);
    let native_stat = |which| {
        let v = ctx.with_stats_only(true, || args::vector_arg(ctx, args.first(), g))?;
        hist_instant::stat(ctx, &v, g.n, which)
    };
    // `x[5m] anchored`/`smoothed`: the parser allows them only where
    // `extended` has an answer.
    if let Some(Expr::Matrix(ms)) = args.first().map(unparen)
        && let Some(modifier) = ms.vector.modifier
    {
        let m = args::matrix(ctx, args.first(), g)?;
        return extended::call(ctx, c.func.id, modifier, m, g).map(GValue::Vector);
    }
    let out = match c.func.id {
        F::Time => return scalar::time(ctx, g),
        F::Step => return scalar::seconds(ctx, g, ctx.query_step),
        F::Range => return scalar::seconds(ctx, g, ctx.query_end - ctx.query_start),
        F::Start => return scalar::seconds(ctx, g, ctx.query_start),
        F::End => return scalar::seconds(ctx, g, ctx.query_end),
        F::Pi => return scalar::pi(ctx, g),
        F::MinOf => return scalar::min_max_of(ctx, args, g, f64::lt),
        F::MaxOf => return scalar::min_max_of(ctx, args, g, f64::gt),
        F::Vector => return scalar::vector(ctx, args, g),
        F::Scalar => return scalar::scalar(ctx, args, g),
        F::Absent => return absent::absent(ctx, args, g),
        F::AbsentOverTime => return absent::absent_over_time(ctx, args, g),
        F::Timestamp => scalar::timestamp(ctx, args, g),

        F::Abs => unary(f64::abs),
        F::Ceil => unary(f64::ceil),
        F::Floor => unary(f64::floor),
        F::Exp => unary(f64::exp),
        F::Sqrt => unary(f64::sqrt),
        F::Ln => unary(f64::ln),
        F::Log2 => unary(f64::log2),
        F::Log10 => unary(f64::log10),
        F::Sin => unary(f64::sin),
        F::Cos => unary(f64::cos),
        F::Tan => unary(f64::tan),
        F::Asin => unary(f64::asin),
        F::Acos => unary(f64::acos),
        F::Atan => unary(f64::atan),
        F::Sinh => unary(f64::sinh),
        F::Cosh => unary(f64::cosh),
        F::Tanh => unary(f64::tanh),
        F::Asinh => unary(f64::asinh),
        F::Acosh => unary(f64::acosh),
        F::Atanh => unary(f64::atanh),
        F::Deg => unary(f64::to_degrees),
        F::Rad => unary(f64::to_radians),
        F::Sgn => unary(math::sgn),
        F::Clamp => math::clamp(ctx, args, g),
        F::ClampMin => math::clamp_min(ctx, args, g),
        F::ClampMax => math::clamp_max(ctx, args, g),
        F::Round => math::round(ctx, args, g),
        F::Sort => math::sort(ctx, args, g, false),
        F::SortDesc => math::sort(ctx, args, g, true),

        F::Minute => date(DatePart::Minute),
        F::Hour => date(DatePart::Hour),
        F::DayOfWeek => date(DatePart::DayOfWeek),
        F::DayOfMonth => date(DatePart::DayOfMonth),
        F::DayOfYear => date(DatePart::DayOfYear),
        F::DaysInMonth => date(DatePart::DaysInMonth),
        F::Month => date(DatePart::Month),
        F::Year => date(DatePart::Year),

        F::LabelReplace => label::replace(ctx, args, g),
        F::LabelJoin => label::join(ctx, args, g),
        F::SortByLabel => label::sort_by_label(ctx, args, g, false),
        F::SortByLabelDesc => label::sort_by_label(ctx, args, g, true),

        F::Rate => rate::extrapolating(ctx, args, g, true, true),
        F::Increase => rate::extrapolating(ctx, args, g, true, false),
        F::Delta => rate::extrapolating(ctx, args, g, false, false),
        F::Irate => rate::instant(ctx, true, args, g),
        F::Idelta => rate::instant(ctx, false, args, g),

        F::SumOverTime => over_time::sum(ctx, args, g),
        F::AvgOverTime => over_time::avg(ctx, args, g),
        // Reads a count per sample (1 raw, n per downsampled interval).
        F::CountOverTime => window_as(drop_name, over_time::counted, ReadAs::Count),
        F::MinOverTime => over_time::extreme(ctx, args, g, window_extreme::Extreme::Min),
        F::MaxOverTime => over_time::extreme(ctx, args, g, window_extreme::Extreme::Max),
        F::StddevOverTime => window(drop_name, over_time::stddev),
        F::StdvarOverTime => window(drop_name, over_time::stdvar),
        F::LastOverTime => window(keep_name, over_time::last),
        F::FirstOverTime => window(keep_name, over_time::first),
        F::TsOfLastOverTime => window(drop_name, over_time::ts_of_last),
        F::TsOfFirstOverTime => window(drop_name, over_time::ts_of_first),
        F::TsOfMaxOverTime => window(drop_name, over_time::ts_of_max),
        F::TsOfMinOverTime => window(drop_name, over_time::ts_of_min),
        F::PresentOverTime => window(drop_name, over_time::present),
        F::MadOverTime => window(drop_name, over_time::mad),
        F::Changes => window(drop_name, over_time::changes),
        F::Resets => start_times::resets_call(ctx, args, g),
        F::Deriv => window(drop_name, over_time::deriv),
        F::QuantileOverTime => over_time::quantile_over_time(ctx, args, g),
        F::DirectDeltaIncrease => delta_temporality::call(ctx, args, g, false, false),
        F::DirectDeltaRate => delta_temporality::call(ctx, args, g, false, true),
        F::ExtrapolatedDeltaIncrease => delta_temporality::call(ctx, args, g, true, false),
        F::ExtrapolatedDeltaRate => delta_temporality::call(ctx, args, g, true, true),
        F::PredictLinear => over_time::predict_linear(ctx, args, g),
        F::DoubleExponentialSmoothing => over_time::double_exponential_smoothing(ctx, args, g),

        F::HistogramQuantile => {
            ctx.with_stats_only(false, || histogram::call_quantile(ctx, args, g))
        }
        F::HistogramQuantiles => ctx.with_stats_only(false, || hist_quantiles::call(ctx, args, g)),
        F::HistogramFraction => {
            ctx.with_stats_only(false, || histogram::call_fraction(ctx, args, g))
        }
        F::HistogramAvg => native_stat(hist_instant::Stat::Avg),
        F::HistogramCount => native_stat(hist_instant::Stat::Count),
        F::HistogramStddev => native_stat(hist_instant::Stat::Stddev),
        F::HistogramStdvar => native_stat(hist_instant::Stat::Stdvar),
        F::HistogramSum => native_stat(hist_instant::Stat::Sum),
        F::Info => info::info(ctx, args, g),
    };
    out.and_then(|rows| with_hist_rows(ctx, c, rows, g))
        .map(GValue::Vector)
}

/// `sum`/`avg` by group of the range function `c` (`rate`, `increase`,
/// `delta`) over the histogram series of its range argument, folded as
/// each series is evaluated; `None` (nothing taken) unless every series
/// of the argument holds histograms only. `key_of` gives a series' group.
pub(crate) fn fold_hist_sum(
    ctx: &Ctx,
    c: &Call,
    key_of: impl Fn(&hourglass_storage::Labels) -> hourglass_storage::Labels,
    avg: bool,
    g: Grid,
) -> Result<Option<Vec<super::value::GSeries>>, EvalError> {
    let Some(arg) = c.args.first() else {
        return Ok(None);
    };
    let key = hist_key(arg);
    let Some(hm) = ctx.take_hists_lazy(key) else {
        return Ok(None);
    };
    if hm.ends.len() != g.n || hm.series.iter().any(|s| !s.samples.is_empty()) {
        ctx.stash_hists(key, hm);
        return Ok(None);
    }
    let mut keys = Vec::new();
    let mut index = std::collections::HashMap::new();
    let groups: Vec<usize> = hm
        .series
        .iter()
        .map(|s| {
            *index.entry(key_of(&s.labels)).or_insert_with_key(|k| {
                keys.push(k.clone());
                keys.len() - 1
            })
        })
        .collect();
    hist_fold::fold_sum(ctx, c.func.id, &hm, &groups, keys, avg).map(Some)
}

/// The rows of call `c` with the answers for the histogram-carrying
/// series of its range argument, which were set aside for the functions
/// that read histograms (the others never see them).
pub(crate) fn with_hist_rows(
    ctx: &Ctx,
    c: &Call,
    rows: Vec<super::value::GSeries>,
    g: Grid,
) -> Result<Vec<super::value::GSeries>, EvalError> {
    let range_arg = c
        .args
        .iter()
        .find(|a| a.value_type() == crate::parser::ast::ValueType::Matrix);
    match range_arg.map(|a| ctx.take_hists(hist_key(a))).transpose()? {
        Some(Some(hm)) if hist_range::handles(c.func.id).is_some() => {
            let hist_rows = hist_range::eval(ctx, c.func.id, hm, g)?;
            Ok(hist_range::merge_rows(rows, hist_rows))
        }
        Some(Some(hm)) => {
            // The float functions answered from the floats alone.
            for s in hm.series.iter().filter(|s| !s.samples.is_empty()) {
                ctx.note(
                    super::Note::Info,
                    format!(
                        "PromQL info: ignored histograms in a range containing both floats and histograms for metric name {:?}",
                        s.labels.metric_name().unwrap_or("")
                    ),
                );
            }
            Ok(rows)
        }
        _ => Ok(rows),
    }
}
