//! The PromQL syntax tree. Nodes hold no positions, so two parses of the
//! same query in different spellings compare equal; the printer writes one
//! canonical spelling.

use super::functions::Function;
pub use super::value_type::ValueType;
use hourglass_storage::Matcher;

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `1`, `0x1f`, `Inf`, `5m` (as 300 seconds).
    Number(NumberLiteral),
    /// `"text"`.
    String(String),
    /// `foo{job="api"} offset 5m`.
    Vector(VectorSelector),
    /// `foo[5m]`.
    Matrix(MatrixSelector),
    /// `expr[1h:1m]`.
    Subquery(Subquery),
    /// `(expr)`, kept so printing preserves the grouping.
    Paren(Box<Expr>),
    /// `-expr` or `+expr` (never directly on a number: `-1` is a literal).
    Unary(Unary),
    /// `lhs op rhs`.
    Binary(Binary),
    /// `sum by (job) (expr)`.
    Aggregate(Aggregate),
    /// `rate(foo[5m])`.
    Call(Call),
}

/// A float literal. All NaNs compare equal so that printed-and-reparsed
/// trees compare equal.
#[derive(Debug, Clone, Copy)]
pub struct NumberLiteral(pub f64);

impl PartialEq for NumberLiteral {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || (self.0.is_nan() && other.0.is_nan())
    }
}

/// A duration expression; values are seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A plain number of seconds (`300`).
    Number(NumberLiteral),
    /// A duration literal, in milliseconds (`5m`).
    Duration(i64),
    /// `step()`: the query's step (0 for an instant query).
    Step,
    /// `range()`: the query's `end - start` (0 for an instant query).
    Range,
    /// `start()`: the query's start, in seconds since the epoch.
    Start,
    /// `end()`: the query's end, in seconds since the epoch.
    End,
    /// `time()`: the evaluation time, in seconds since the epoch.
    Time,
    /// `-e`.
    Neg(Box<DurationExpr>),
    /// `a op b` with op one of `+ - * / % ^`, or a comparison, which
    /// always carries `bool` (1 or 0).
    Binary(BinaryOp, Box<DurationExpr>, Box<DurationExpr>),
    /// `min(a, b)`.
    Min(Box<DurationExpr>, Box<DurationExpr>),
    /// `max(a, b)`.
    Max(Box<DurationExpr>, Box<DurationExpr>),
}

/// `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// `@ 1700000000.123`, in milliseconds since the epoch.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// Selects series by label matchers.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name when written as `foo{…}` or `{"foo", …}`.
    pub name: Option<String>,
    /// Every matcher, starting with `__name__="<name>"` when `name` is set;
    /// this is the list storage selects with.
    pub matchers: Vec<Matcher>,
    /// `offset` in milliseconds; `None` when absent or zero.
    pub offset: Option<i64>,
    /// `offset (step() * 2)`: an offset that depends on the query, bound
    /// into `offset` when the query runs.
    pub offset_expr: Option<Box<DurationExpr>>,
    /// `@` modifier.
    pub at: Option<At>,
    /// `anchored`/`smoothed` (on a range selector: on its window).
    pub modifier: Option<RangeModifier>,
    /// `align 1m` (experimental): the time the selector reads at (after
    /// `@` and `offset`) rounded down to a multiple of this many
    /// milliseconds; `None` when absent or zero.
    pub align: Option<i64>,
}

impl VectorSelector {
    /// `name` (if any) and `matchers`, with no modifier.
    pub fn new(name: Option<String>, matchers: Vec<Matcher>) -> Self {
        VectorSelector {
            name,
            matchers,
            offset: None,
            offset_expr: None,
            at: None,
            modifier: None,
            align: None,
        }
    }
}

/// The window modifiers of Prometheus 3's extended range selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeModifier {
    /// `x[5m] anchored`: the window also holds the newest sample at or
    /// before its start; no extrapolation.
    Anchored,
    /// `x[5m] smoothed`, `x smoothed`: edges (or the step) interpolated.
    Smoothed,
}

impl RangeModifier {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeModifier::Anchored => "anchored",
            RangeModifier::Smoothed => "smoothed",
        }
    }
}

/// `selector[range]`; offset and `@` live on the inner selector.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector and its modifiers.
    pub vector: VectorSelector,
    /// Window length in milliseconds, > 0.
    pub range_ms: i64,
    /// `[step() * 2]`: a range that depends on the query, bound into
    /// `range_ms` when the query runs.
    pub range_expr: Option<Box<DurationExpr>>,
}

/// `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// An instant-vector expression.
    pub expr: Box<Expr>,
    /// Range in milliseconds, > 0.
    pub range_ms: i64,
    /// Step in milliseconds; `None` means the default evaluation interval.
    pub step_ms: Option<i64>,
    /// `expr[1h::1m]`: points sit on the evaluation time minus multiples
    /// of the step instead of on multiples of the step since the epoch.
    pub aligned: bool,
    /// `offset` in milliseconds; `None` when absent or zero.
    pub offset: Option<i64>,
    /// `@` modifier.
    pub at: Option<At>,
    /// A range that depends on the query (bound into `range_ms`).
    pub range_expr: Option<Box<DurationExpr>>,
    /// A step that depends on the query (bound into `step_ms`).
    pub step_expr: Option<Box<DurationExpr>>,
    /// An offset that depends on the query (bound into `offset`).
    pub offset_expr: Option<Box<DurationExpr>>,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
}

/// `-expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unary {
    /// The operator.
    pub op: UnaryOp,
    /// Scalar or instant-vector operand.
    pub expr: Box<Expr>,
}

/// Binary operators, lowest precedence first in groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `unless`
    Unless,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `atan2`
    Atan2,
    /// `bitand`: bitwise and of exact non-negative integers.
    BitAnd,
    /// `bitor`
    BitOr,
    /// `bitxor`
    BitXor,
    /// `^`
    Pow,
    /// `</`: a native histogram without its observations above the
    /// right operand.
    TrimUpper,
    /// `>/`: a native histogram without its observations below the
    /// right operand.
    TrimLower,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Or => "or",
            And => "and",
            Unless => "unless",
            Eql => "==",
            Neq => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Atan2 => "atan2",
            BitAnd => "bitand",
            BitOr => "bitor",
            BitXor => "bitxor",
            Pow => "^",
            TrimUpper => "</",
            TrimLower => ">/",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And | Unless => 2,
            Eql | Neq | Lt | Le | Gt | Ge => 3,
            Add | Sub => 4,
            Mul | Div | Mod | Atan2 | BitAnd | BitOr | BitXor | TrimUpper | TrimLower => 5,
            Pow => 6,
        }
    }

    /// `^` groups from the right: `2 ^ 3 ^ 2` is `2 ^ (3 ^ 2)`.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }

    /// The least precedence an operator in the right operand may have
    /// (precedence climbing): the same for right-associative `^`, one
    /// more for the others.
    pub fn rhs_min_precedence(self) -> u8 {
        if self.is_right_associative() {
            self.precedence()
        } else {
            self.precedence() + 1
        }
    }

    /// `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// `</ >/`: they keep the metric name, as comparisons do.
    pub fn is_trim(self) -> bool {
        matches!(self, BinaryOp::TrimUpper | BinaryOp::TrimLower)
    }

    /// `and or unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

/// Which side of a many-to-one match has the many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSide {
    /// `group_left`: the left side has many.
    Left,
    /// `group_right`: the right side has many.
    Right,
}

/// `on(…)`/`ignoring(…)` with optional `group_left/right(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorMatching {
    /// `on` when true, `ignoring` when false.
    pub on: bool,
    /// The labels listed after `on`/`ignoring`.
    pub labels: Vec<String>,
    /// `group_left(…)`/`group_right(…)` and the labels to copy over.
    pub group: Option<(GroupSide, Vec<String>)>,
}

/// `lhs op rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// `bool` modifier (comparisons only).
    pub return_bool: bool,
    /// Vector matching; `None` for the default (one-to-one on all labels,
    /// many-to-many for set operators) and whenever a side is a scalar.
    pub matching: Option<VectorMatching>,
    /// `fill_left(v)` (or `fill(v)`): the value of a missing left operand.
    pub fill_left: Option<NumberLiteral>,
    /// `fill_right(v)` (or `fill(v)`): the value of a missing right operand.
    pub fill_right: Option<NumberLiteral>,
}

/// Declares [`AggregateOp`], its keywords and the list of all of them
/// from one table.
macro_rules! aggregate_ops {
    ($($variant:ident $word:literal $doc:literal;)*) => {
        /// Aggregation operators.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AggregateOp {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        impl AggregateOp {
            /// Every aggregation, for lookups.
            pub const ALL: [AggregateOp; [$($word),*].len()] = [$(AggregateOp::$variant),*];

            /// The keyword.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AggregateOp::$variant => $word,)*
                }
            }
        }
    };
}

aggregate_ops! {
    Sum "sum" "`sum`";
    Min "min" "`min`";
    Max "max" "`max`";
    Avg "avg" "`avg`";
    Group "group" "`group`";
    Stddev "stddev" "`stddev`";
    Stdvar "stdvar" "`stdvar`";
    Count "count" "`count`";
    CountValues "count_values" "`count_values(\"label\", v)`";
    Bottomk "bottomk" "`bottomk(k, v)`";
    Topk "topk" "`topk(k, v)`";
    Quantile "quantile" "`quantile(φ, v)`";
    Limitk "limitk" "`limitk(k, v)`";
    LimitRatio "limit_ratio" "`limit_ratio(r, v)`";
}

impl AggregateOp {
    /// The type of the leading parameter, if the aggregation takes one.
    pub fn param_type(self) -> Option<ValueType> {
        use AggregateOp::*;
        match self {
            CountValues => Some(ValueType::String),
            Bottomk | Topk | Quantile | Limitk | LimitRatio => Some(ValueType::Scalar),
            _ => None,
        }
    }

    /// Looks a keyword up, ignoring case as Prometheus does.
    pub fn from_word(word: &str) -> Option<AggregateOp> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// Keep only these labels (never empty: `by ()` is no grouping).
    By(Vec<String>),
    /// Drop these labels (may be empty).
    Without(Vec<String>),
}

/// `op [grouping] ([param,] expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The aggregation.
    pub op: AggregateOp,
    /// The instant vector aggregated.
    pub expr: Box<Expr>,
    /// `k`, `φ` or the label of `count_values`.
    pub param: Option<Box<Expr>>,
    /// `by`/`without`; `None` aggregates everything into one series.
    pub grouping: Option<Grouping>,
}

/// A function call, checked against the function table.
#[derive(Clone, PartialEq)]
pub struct Call {
    /// The function's table entry.
    pub func: &'static Function,
    /// Arguments, already type-checked.
    pub args: Vec<Expr>,
}

impl std::fmt::Debug for Call {
    // The name identifies the table entry; its signature is noise here.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("func", &self.func.name)
            .field("args", &self.args)
            .finish()
    }
}

impl Expr {
    /// The static type of the expression.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::Vector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(e) => e.value_type(),
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.returns,
        }
    }
}
