//! The function table of Prometheus 3: names, argument types, how many
//! optional or repeated arguments, and the return type. The parser checks
//! every call against it; the engine will dispatch on `name`.

use super::ast::ValueType;

/// One PromQL function's signature.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
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

use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

const fn f(name: &'static str, args: &'static [ValueType], returns: ValueType) -> Function {
    Function {
        name,
        args,
        variadic: 0,
        returns,
        experimental: false,
    }
}

const fn opt(name: &'static str, args: &'static [ValueType], variadic: i8) -> Function {
    Function {
        name,
        args,
        variadic,
        returns: V,
        experimental: false,
    }
}

const fn exp(mut func: Function) -> Function {
    func.experimental = true;
    func
}

/// Sorted by name, so lookups can binary-search.
static FUNCTIONS: &[Function] = &[
    f("abs", &[V], V),
    f("absent", &[V], V),
    f("absent_over_time", &[M], V),
    f("acos", &[V], V),
    f("acosh", &[V], V),
    f("asin", &[V], V),
    f("asinh", &[V], V),
    f("atan", &[V], V),
    f("atanh", &[V], V),
    f("avg_over_time", &[M], V),
    f("ceil", &[V], V),
    f("changes", &[M], V),
    f("clamp", &[V, S, S], V),
    f("clamp_max", &[V, S], V),
    f("clamp_min", &[V, S], V),
    f("cos", &[V], V),
    f("cosh", &[V], V),
    f("count_over_time", &[M], V),
    opt("day_of_month", &[V], 1),
    opt("day_of_week", &[V], 1),
    opt("day_of_year", &[V], 1),
    opt("days_in_month", &[V], 1),
    f("deg", &[V], V),
    f("delta", &[M], V),
    f("deriv", &[M], V),
    exp(f("double_exponential_smoothing", &[M, S, S], V)),
    f("exp", &[V], V),
    exp(f("first_over_time", &[M], V)),
    f("floor", &[V], V),
    f("histogram_avg", &[V], V),
    f("histogram_count", &[V], V),
    f("histogram_fraction", &[S, S, V], V),
    f("histogram_quantile", &[S, V], V),
    f("histogram_stddev", &[V], V),
    f("histogram_stdvar", &[V], V),
    f("histogram_sum", &[V], V),
    opt("hour", &[V], 1),
    f("idelta", &[M], V),
    f("increase", &[M], V),
    exp(opt("info", &[V, V], 1)),
    f("irate", &[M], V),
    opt("label_join", &[V, Str, Str, Str], -1),
    f("label_replace", &[V, Str, Str, Str, Str], V),
    f("last_over_time", &[M], V),
    f("ln", &[V], V),
    f("log10", &[V], V),
    f("log2", &[V], V),
    exp(f("mad_over_time", &[M], V)),
    f("max_over_time", &[M], V),
    f("min_over_time", &[M], V),
    opt("minute", &[V], 1),
    opt("month", &[V], 1),
    f("pi", &[], S),
    f("predict_linear", &[M, S], V),
    f("present_over_time", &[M], V),
    f("quantile_over_time", &[S, M], V),
    f("rad", &[V], V),
    f("rate", &[M], V),
    f("resets", &[M], V),
    opt("round", &[V, S], 1),
    f("scalar", &[V], S),
    f("sgn", &[V], V),
    f("sin", &[V], V),
    f("sinh", &[V], V),
    f("sort", &[V], V),
    exp(opt("sort_by_label", &[V, Str], -1)),
    exp(opt("sort_by_label_desc", &[V, Str], -1)),
    f("sort_desc", &[V], V),
    f("sqrt", &[V], V),
    f("stddev_over_time", &[M], V),
    f("stdvar_over_time", &[M], V),
    f("sum_over_time", &[M], V),
    f("tan", &[V], V),
    f("tanh", &[V], V),
    f("time", &[], S),
    f("timestamp", &[V], V),
    exp(f("ts_of_first_over_time", &[M], V)),
    exp(f("ts_of_last_over_time", &[M], V)),
    exp(f("ts_of_max_over_time", &[M], V)),
    exp(f("ts_of_min_over_time", &[M], V)),
    f("vector", &[S], V),
    opt("year", &[V], 1),
];

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
    fn arity() {
        let lj = lookup_function("label_join").unwrap();
        assert_eq!((lj.min_args(), lj.max_args()), (3, None));
        let round = lookup_function("round").unwrap();
        assert_eq!((round.min_args(), round.max_args()), (1, Some(2)));
        let hour = lookup_function("hour").unwrap();
        assert_eq!((hour.min_args(), hour.max_args()), (0, Some(1)));
    }
}
