//! The function table of Prometheus 3: one [`Func`] variant per function,
//! and for each its name, argument types, how many optional or repeated
//! arguments, and the return type. The parser resolves a name to a
//! variant and checks the call against its [`Function`]; the engine
//! evaluates with an exhaustive match on the variant, so a function that
//! parses cannot be missing at evaluation.

use super::value_type::ValueType;

/// One PromQL function's signature.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    /// The function this row describes.
    pub id: Func,
    /// The name, case-sensitive.
    pub name: &'static str,
    /// Argument types in order. With `variadic != 0` the last entry is the
    /// type of the optional/repeated arguments.
    pub args: &'static [ValueType],
    /// 0: exactly `args.len()` arguments. n > 0: the last argument may be
    /// repeated up to n times (`round(v)` / `round(v, 1)`), at least
    /// `args.len() - 1`. -1: any number of repetitions.
    pub variadic: i8,
    /// What the call evaluates to.
    pub returns: ValueType,
    /// Behind `--enable-feature=promql-experimental-functions` in
    /// Prometheus; we accept them always.
    pub experimental: bool,
}

impl Function {
    /// Fewest arguments accepted.
    pub fn min_args(&self) -> usize {
        if self.variadic == 0 {
            self.args.len()
        } else {
            self.args.len().saturating_sub(1)
        }
    }

    /// Most arguments accepted, `None` when unbounded.
    pub fn max_args(&self) -> Option<usize> {
        match self.variadic {
            0 => Some(self.args.len()),
            n if n > 0 => Some(self.args.len() - 1 + n as usize),
            _ => None,
        }
    }

    /// The expected type of argument `i` (0-based).
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        self.args
            .get(i.min(self.args.len().saturating_sub(1)))
            .copied()
    }
}

/// A signature before it is given its name and variant.
struct Sig {
    args: &'static [ValueType],
    variadic: i8,
    returns: ValueType,
    experimental: bool,
}

impl Sig {
    const fn named(self, id: Func, name: &'static str) -> Function {
        Function {
            id,
            name,
            args: self.args,
            variadic: self.variadic,
            returns: self.returns,
            experimental: self.experimental,
        }
    }
}

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

const fn f(args: &'static [ValueType], returns: ValueType) -> Sig {
    Sig {
        args,
        variadic: 0,
        returns,
        experimental: false,
    }
}

const fn opt(args: &'static [ValueType], variadic: i8) -> Sig {
    Sig {
        args,
        variadic,
        returns: V,
        experimental: false,
    }
}

const fn exp(mut sig: Sig) -> Sig {
    sig.experimental = true;
    sig
}

/// Declares [`Func`] and the table of signatures from one list, in the
/// same order, so the variant's discriminant is its row.
macro_rules! function_table {
    ($($variant:ident $name:literal $sig:expr;)*) => {
        /// A PromQL function: what a call's name resolves to.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Func {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        /// Sorted by name, so lookups can binary-search; row `i` is the
        /// variant with discriminant `i`.
        static FUNCTIONS: &[Function] = &[$($sig.named(Func::$variant, $name),)*];
    };
}

function_table! {
    Abs "abs" f(&[V], V);
    Absent "absent" f(&[V], V);
    AbsentOverTime "absent_over_time" f(&[M], V);
    Acos "acos" f(&[V], V);
    Acosh "acosh" f(&[V], V);
    Asin "asin" f(&[V], V);
    Asinh "asinh" f(&[V], V);
    Atan "atan" f(&[V], V);
    Atanh "atanh" f(&[V], V);
    AvgOverTime "avg_over_time" f(&[M], V);
    Ceil "ceil" f(&[V], V);
    Changes "changes" f(&[M], V);
    Clamp "clamp" f(&[V, S, S], V);
    ClampMax "clamp_max" f(&[V, S], V);
    ClampMin "clamp_min" f(&[V, S], V);
    Cos "cos" f(&[V], V);
    Cosh "cosh" f(&[V], V);
    CountOverTime "count_over_time" f(&[M], V);
    DayOfMonth "day_of_month" opt(&[V], 1);
    DayOfWeek "day_of_week" opt(&[V], 1);
    DayOfYear "day_of_year" opt(&[V], 1);
    DaysInMonth "days_in_month" opt(&[V], 1);
    Deg "deg" f(&[V], V);
    Delta "delta" f(&[M], V);
    Deriv "deriv" f(&[M], V);
    DirectDeltaIncrease "direct_delta_increase" exp(f(&[M], V));
    DirectDeltaRate "direct_delta_rate" exp(f(&[M], V));
    DoubleExponentialSmoothing "double_exponential_smoothing" exp(f(&[M, S, S], V));
    End "end" f(&[], S);
    Exp "exp" f(&[V], V);
    ExtrapolatedDeltaIncrease "extrapolated_delta_increase" exp(f(&[M], V));
    ExtrapolatedDeltaRate "extrapolated_delta_rate" exp(f(&[M], V));
    FirstOverTime "first_over_time" exp(f(&[M], V));
    Floor "floor" f(&[V], V);
    HistogramAvg "histogram_avg" f(&[V], V);
    HistogramCount "histogram_count" f(&[V], V);
    HistogramFraction "histogram_fraction" f(&[S, S, V], V);
    HistogramQuantile "histogram_quantile" f(&[S, V], V);
    HistogramQuantiles "histogram_quantiles" exp(opt(&[V, Str, S], -1));
    HistogramStddev "histogram_stddev" f(&[V], V);
    HistogramStdvar "histogram_stdvar" f(&[V], V);
    HistogramSum "histogram_sum" f(&[V], V);
    Hour "hour" opt(&[V], 1);
    Idelta "idelta" f(&[M], V);
    Increase "increase" f(&[M], V);
    Info "info" exp(opt(&[V, V], 1));
    Irate "irate" f(&[M], V);
    LabelJoin "label_join" opt(&[V, Str, Str, Str], -1);
    LabelReplace "label_replace" f(&[V, Str, Str, Str, Str], V);
    LastOverTime "last_over_time" f(&[M], V);
    Ln "ln" f(&[V], V);
    Log10 "log10" f(&[V], V);
    Log2 "log2" f(&[V], V);
    MadOverTime "mad_over_time" exp(f(&[M], V));
    MaxOf "max_of" f(&[S, S], S);
    MaxOverTime "max_over_time" f(&[M], V);
    MinOf "min_of" f(&[S, S], S);
    MinOverTime "min_over_time" f(&[M], V);
    Minute "minute" opt(&[V], 1);
    Month "month" opt(&[V], 1);
    Pi "pi" f(&[], S);
    PredictLinear "predict_linear" f(&[M, S], V);
    PresentOverTime "present_over_time" f(&[M], V);
    QuantileOverTime "quantile_over_time" f(&[S, M], V);
    Rad "rad" f(&[V], V);
    Range "range" f(&[], S);
    Rate "rate" f(&[M], V);
    Resets "resets" f(&[M], V);
    Round "round" opt(&[V, S], 1);
    Scalar "scalar" f(&[V], S);
    Sgn "sgn" f(&[V], V);
    Sin "sin" f(&[V], V);
    Sinh "sinh" f(&[V], V);
    Sort "sort" f(&[V], V);
    SortByLabel "sort_by_label" exp(opt(&[V, Str], -1));
    SortByLabelDesc "sort_by_label_desc" exp(opt(&[V, Str], -1));
    SortDesc "sort_desc" f(&[V], V);
    Sqrt "sqrt" f(&[V], V);
    Start "start" f(&[], S);
    StddevOverTime "stddev_over_time" f(&[M], V);
    StdvarOverTime "stdvar_over_time" f(&[M], V);
    Step "step" f(&[], S);
    SumOverTime "sum_over_time" f(&[M], V);
    Tan "tan" f(&[V], V);
    Tanh "tanh" f(&[V], V);
    Time "time" f(&[], S);
    Timestamp "timestamp" f(&[V], V);
    TsOfFirstOverTime "ts_of_first_over_time" exp(f(&[M], V));
    TsOfLastOverTime "ts_of_last_over_time" exp(f(&[M], V));
    TsOfMaxOverTime "ts_of_max_over_time" exp(f(&[M], V));
    TsOfMinOverTime "ts_of_min_over_time" exp(f(&[M], V));
    Vector "vector" f(&[S], V);
    Year "year" opt(&[V], 1);
}

impl Func {
    /// The function called `name` (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Func> {
        lookup_function(name).map(|f| f.id)
    }

    /// This function's signature.
    pub fn signature(self) -> &'static Function {
        // The table is declared with the enum, one row per variant in
        // discriminant order.
        &FUNCTIONS[self as usize]
    }

    /// The name a query calls it by.
    pub fn name(self) -> &'static str {
        self.signature().name
    }
}

/// Finds a function by its exact (case-sensitive) name.
pub fn lookup_function(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .and_then(|i| FUNCTIONS.get(i))
}

/// Every function, sorted by name.
pub fn all_functions() -> &'static [Function] {
    FUNCTIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(lookup_function("rate").map(|f| f.name), Some("rate"));
        assert!(lookup_function("Rate").is_none());
        assert!(lookup_function("holt_winters").is_none());
    }

    #[test]
    fn every_variant_is_its_own_row() {
        for (i, row) in FUNCTIONS.iter().enumerate() {
            assert_eq!(row.id as usize, i, "{}", row.name);
            assert_eq!(row.id.signature(), row);
            assert_eq!(Func::from_name(row.name), Some(row.id));
        }
    }

    #[test]
    fn arity() {
        let lj = lookup_function("label_join").unwrap();
        assert_eq!((lj.min_args(), lj.max_args()), (3, None));
        let round = Func::Round.signature();
        assert_eq!((round.min_args(), round.max_args()), (1, Some(2)));
        let hour = Func::Hour.signature();
        assert_eq!((hour.min_args(), hour.max_args()), (0, Some(1)));
    }
}
