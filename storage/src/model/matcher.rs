//! Label matchers with Prometheus semantics.

use super::labels::Labels;
use regex::Regex;
use std::fmt;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNoMatch,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

/// A matcher's regex did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {reason}")]
pub struct MatcherError {
    /// The label the matcher applies to.
    pub name: String,
    /// The pattern as written.
    pub pattern: String,
    /// What the regex compiler said.
    pub reason: String,
}

/// `name op "value"`. A missing label matches as the empty string, so
/// `{l=""}` selects series without `l`.
///
/// Regexes are fully anchored and `.` matches newlines, as in Prometheus 3:
/// the pattern `p` is compiled as `^(?s:p)$`.
///
/// ```
/// use hourglass_storage::{MatchOp, Matcher};
/// let m = Matcher::new(MatchOp::RegexMatch, "job", "api|web").unwrap();
/// assert!(m.matches("web"));
/// assert!(!m.matches("webserver"));
/// ```
#[derive(Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~` and `!~`.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherError> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                let anchored = format!("^(?s:{value})$");
                Some(Regex::new(&anchored).map_err(|e| MatcherError {
                    name: name.clone(),
                    pattern: value.clone(),
                    reason: e.to_string(),
                })?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or pattern as written (unanchored).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Does a label value (empty when absent) satisfy this matcher?
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::RegexMatch, Some(re)) => re.is_match(v),
            (MatchOp::RegexNoMatch, Some(re)) => !re.is_match(v),
            // `new` always compiles a regex for the regex operators.
            (MatchOp::RegexMatch | MatchOp::RegexNoMatch, None) => false,
        }
    }

    /// Does the series `labels` satisfy this matcher (a label it lacks
    /// counts as empty)?
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(self.name()).unwrap_or(""))
    }

    /// True when the matcher accepts the empty string, i.e. also selects
    /// series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchOp::RegexMatch, "a", "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
        let n = Matcher::new(MatchOp::RegexNoMatch, "a", "").unwrap();
        assert!(!n.matches_empty());
    }

    #[test]
    fn a_missing_label_matches_as_the_empty_value() {
        let l = Labels::from_pairs([("job", "api")]);
        let eq = |n: &str, v: &str| Matcher::new(MatchOp::Equal, n, v).unwrap();
        assert!(eq("job", "api").matches_labels(&l));
        assert!(!eq("job", "db").matches_labels(&l));
        assert!(eq("zone", "").matches_labels(&l));
        assert!(!eq("zone", "eu").matches_labels(&l));
        let ne = Matcher::new(MatchOp::NotEqual, "zone", "eu").unwrap();
        assert!(ne.matches_labels(&l));
    }

    #[test]
    fn invalid_regex_is_an_error_naming_the_label() {
        let e = Matcher::new(MatchOp::RegexMatch, "job", "(").unwrap_err();
        assert_eq!(e.name, "job");
    }
}
