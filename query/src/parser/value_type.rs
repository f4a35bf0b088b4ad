//! The types a PromQL expression can have.

/// The four types a PromQL expression can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float.
    Scalar,
    /// One sample per series at each evaluation time.
    Vector,
    /// A window of samples per series (`foo[5m]`, subqueries).
    Matrix,
    /// A string literal.
    String,
}

impl ValueType {
    /// The name Prometheus uses in type errors.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}
