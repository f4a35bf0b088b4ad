//! What evaluation can fail with, and how each failure maps onto the
//! Prometheus API's `errorType`.

use hourglass_storage::StorageError;
use std::time::Duration;

/// The class of an [`EvalError`], one per Prometheus `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is unusable (`bad_data`, HTTP 400).
    BadData,
    /// The query is valid but cannot be evaluated on this data
    /// (`execution`, HTTP 422).
    Execution,
    /// The query ran out of time (`timeout`, HTTP 503).
    Timeout,
    /// The caller cancelled the query (`canceled`, HTTP 499).
    Canceled,
    /// Storage failed underneath (`internal`, HTTP 500).
    Internal,
    /// The server cannot take the query now: running queries hold the
    /// shared memory budget (`unavailable`, HTTP 503).
    Unavailable,
    /// What was asked for does not exist (`not_found`, HTTP 404); the
    /// engine never fails so, the HTTP API does.
    NotFound,
}

impl ErrorKind {
    /// The Prometheus API `errorType` string.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::BadData => "bad_data",
            ErrorKind::Execution => "execution",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Canceled => "canceled",
            ErrorKind::Internal => "internal",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NotFound => "not_found",
        }
    }
}

/// Everything `Engine::instant`/`Engine::range` can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A range query asks for more points per series than allowed.
    #[error(
        "exceeded maximum resolution of {limit} points per timeseries. Try decreasing the query resolution (?step=XX)"
    )]
    TooManyPoints {
        /// The configured limit.
        limit: usize,
    },
    /// `end < start` or `step <= 0`.
    #[error("invalid query range: {reason}")]
    BadRange {
        /// What is wrong.
        reason: &'static str,
    },
    /// A duration expression (`[step() * 2]`) with no valid value for
    /// this query.
    #[error("invalid duration expression: {reason}")]
    BadDuration {
        /// What is wrong.
        reason: String,
    },
    /// A range query of a string or range-vector expression.
    #[error("invalid expression type \"{got}\" for range query, must be Scalar or instant Vector")]
    BadRangeType {
        /// The expression's type name.
        got: &'static str,
    },
    /// Two series on the "one" side of a match share a signature.
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{series}];many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany {
        /// The matching labels.
        group: String,
        /// `left` or `right`.
        side: &'static str,
        /// The clashing series.
        series: String,
    },
    /// A one-to-one or many-to-one match produced clashing results.
    #[error("multiple matches for labels: {reason}")]
    MultipleMatches {
        /// Prometheus's explanation.
        reason: &'static str,
    },
    /// Two series of one result carry the same labels at the same time
    /// (e.g. after a function dropped the metric name).
    #[error("vector cannot contain metrics with the same labelset: {labels}")]
    DuplicateLabelset {
        /// The clashing labels.
        labels: String,
    },
    /// A function argument is invalid (bad regex, label name, factor...).
    #[error("invalid argument to {func}(): {reason}")]
    InvalidArgument {
        /// The function or aggregation.
        func: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The query needed more samples in memory than allowed.
    #[error(
        "query processing would load too many samples into memory in query execution (limit {limit})"
    )]
    TooManySamples {
        /// The configured limit.
        limit: usize,
    },
    /// The server-wide memory budget for queries is in use by others.
    #[error(
        "query processing would load too many samples into memory in query execution: the server-wide query memory budget ({limit} samples) is held by running queries; retry later"
    )]
    MemoryBudget {
        /// The budget in samples.
        limit: usize,
    },
    /// The query selected more series than allowed.
    #[error("query selected more than {limit} series")]
    TooManySeries {
        /// The configured limit.
        limit: usize,
    },
    /// The query ran past its deadline.
    #[error("query timed out in query execution after {after:?}")]
    Timeout {
        /// The time limit.
        after: Duration,
    },
    /// The caller cancelled the query.
    #[error("query was canceled in query execution")]
    Canceled,
    /// Storage could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl EvalError {
    /// Which `errorType` this error is reported as.
    pub fn kind(&self) -> ErrorKind {
        use EvalError::*;
        match self {
            TooManyPoints { .. } | BadRange { .. } | BadRangeType { .. } | BadDuration { .. } => {
                ErrorKind::BadData
            }
            ManyToMany { .. }
            | MultipleMatches { .. }
            | DuplicateLabelset { .. }
            | InvalidArgument { .. }
            | TooManySamples { .. }
            | TooManySeries { .. } => ErrorKind::Execution,
            Timeout { .. } => ErrorKind::Timeout,
            Canceled => ErrorKind::Canceled,
            Storage(_) => ErrorKind::Internal,
            MemoryBudget { .. } => ErrorKind::Unavailable,
        }
    }
}
