//! Series identity: a sorted set of label pairs.

use std::fmt;
use std::sync::Arc;

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Label name.
    pub name: Arc<str>,
    /// Label value; never empty inside a [`Labels`] (empty means absent).
    pub value: Arc<str>,
}

/// A series' labels: sorted by name, names unique, no empty values.
///
/// `__name__` is an ordinary label. Ordering of two `Labels` is
/// lexicographic over their pairs, which is the order series are returned in.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Builds labels from pairs: sorts them and drops empty values. Duplicate
    /// names are kept in order and left for validation to refuse.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .filter(|(_, value)| !value.as_ref().is_empty())
            .map(|(n, value)| Label {
                name: Arc::from(n.as_ref()),
                value: Arc::from(value.as_ref()),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(v.into())
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.0[i].value)
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Prints `name{a="b", c="d"}` as Prometheus does.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, &*l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_empty_values_dropped() {
        let l = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("zone", "")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(l.get("zone"), None);
        assert_eq!(l.to_string(), r#"up{job="api"}"#);
    }
}
