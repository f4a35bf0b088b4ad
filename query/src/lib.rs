//! PromQL for Hourglass.
//!
//! This crate owns the query language: the hand-written lexer and parser
//! producing an [`Expr`]-shaped AST, the printer that turns an AST
//! back into canonical PromQL, and the evaluation engine that runs an AST
//! over a storage `Querier`. It reaches storage only through that seam and
//! never knows about HTTP or files.
//!
//! The parser accepts the language of Prometheus 3: UTF-8 quoted metric and
//! label names, durations and plain numbers (seconds) wherever Prometheus
//! takes a duration, duration expressions (`[5m * 2]`, `offset (1h - 5m)`,
//! `[step() + 1ms]`), the `anchored`/`smoothed` range modifiers, the
//! `fill()`/`fill_left()`/`fill_right()` binary modifiers, `_` digit
//! separators, and the experimental functions and `limitk`/`limit_ratio`
//! as if `promql-experimental-functions` were on.
//! It type-checks as Prometheus does, as each node is built. Every
//! [`ParseError`] carries the byte range of the problem; its `Display` draws
//! a caret under it. `parse(&e.to_string()) == Ok(e)` for every expression
//! `e` it returns.
//!
//! Inputs over [`MAX_QUERY_BYTES`], nested deeper than [`MAX_NESTING`] or
//! [`MAX_DEPTH`], or whose regexes take too long to compile are refused, so
//! no input overflows the stack or stalls the caller. Compiled regex
//! matchers are cached process-wide, since dashboards repeat them.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod admission;
pub mod duration;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
mod parser;
pub mod prom_text;

pub use admission::{Admission, MemoryBudget, QueueTimeout, Slot};
pub use engine::histogram::arith::{
    Incompatible as IncompatibleHistograms, add as histogram_add, scale as histogram_scale,
};
pub use engine::histogram::buckets::{Bucket as HistogramBucket, all_buckets as histogram_buckets};
pub use engine::{
    Engine, EngineOptions, ErrorKind, EvalError, InstantSample, QueryOptions, QueryOutput,
    QueryStats, RangeSeries, Value,
};
pub use parser::ast::{
    Aggregate, AggregateOp, At, Binary, BinaryOp, Call, DurationExpr, Expr, GroupSide, Grouping,
    MatrixSelector, NumberLiteral, RangeModifier, Subquery, Unary, UnaryOp, ValueType,
    VectorMatching, VectorSelector,
};
pub use parser::duration_expr::QueryTimes;
pub use parser::error::ParseError;
pub use parser::functions::{Func, Function, all_functions, lookup_function};
pub use parser::{MAX_DEPTH, MAX_NESTING, MAX_QUERY_BYTES, parse};
