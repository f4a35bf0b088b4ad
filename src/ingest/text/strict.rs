//! The family rules of Prometheus's expfmt parser (what the Pushgateway and
//! promtool use), checked across the whole exposition: one `# HELP` and
//! one `# TYPE` per family, no `# TYPE` after the family's samples, and
//! `le`/`quantile` values that are floats. Samples are assigned to families
//! as expfmt does: by exact name, else `_sum`/`_count` of a summary, else
//! `_sum`/`_count`/`_bucket` of a histogram.

use super::{Entry, ErrorKind, MetricKind, SampleLine, line};
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    help: bool,
    /// Set by `# TYPE`, or to untyped by the family's first sample.
    kind: Option<MetricKind>,
}

/// What the exposition declared so far, by family name.
#[derive(Debug, Clone, Default)]
pub(super) struct Families {
    by_name: HashMap<String, Seen>,
}

impl Families {
    /// Checks `entry` against what came before and records it; a sample
    /// gets its expfmt family, and its `le`/`quantile` checked and
    /// normalised.
    pub(super) fn check(&mut self, entry: &mut Entry<'_>) -> Result<(), ErrorKind> {
        match entry {
            Entry::Help { family, .. } => {
                let seen = self.by_name.entry(family.to_string()).or_default();
                if seen.help {
                    return Err(ErrorKind::SecondHelp(family.to_string()));
                }
                seen.help = true;
            }
            Entry::Type { family, kind } => {
                let seen = self.by_name.entry(family.to_string()).or_default();
                if seen.kind.is_some() {
                    return Err(ErrorKind::SecondType(family.to_string()));
                }
                seen.kind = Some(*kind);
            }
            Entry::Sample(s) => self.sample(s)?,
        }
        Ok(())
    }

    fn sample(&mut self, s: &mut SampleLine<'_>) -> Result<(), ErrorKind> {
        let (family, kind) = self.family_of(&s.name);
        let seen = self.by_name.entry(family.clone()).or_default();
        seen.kind.get_or_insert(MetricKind::Untyped);
        let bound = match kind {
            MetricKind::Histogram if s.name.len() == family.len() + "_bucket".len() => "le",
            MetricKind::Summary if s.name.len() == family.len() => "quantile",
            _ => "",
        };
        for (n, v) in &mut s.labels {
            if !bound.is_empty() && n == bound {
                if v.parse::<f64>().is_err() {
                    return Err(ErrorKind::BadBound {
                        label: bound,
                        value: v.to_string(),
                    });
                }
                if let Some(norm) = line::normalise_float(v) {
                    *v = Cow::Owned(norm);
                }
            }
        }
        if family != s.name {
            s.family = Cow::Owned(family);
        }
        s.kind = kind;
        Ok(())
    }

    /// The family a sample called `name` belongs to, as expfmt decides.
    fn family_of(&self, name: &str) -> (String, MetricKind) {
        if let Some(seen) = self.by_name.get(name) {
            return (name.to_string(), seen.kind.unwrap_or(MetricKind::Untyped));
        }
        let typed = |suffixes: &[&str], want: MetricKind| {
            suffixes.iter().find_map(|suffix| {
                let base = name.strip_suffix(suffix)?;
                let seen = self.by_name.get(base)?;
                (seen.kind == Some(want)).then(|| base.to_string())
            })
        };
        if let Some(base) = typed(&["_sum", "_count"], MetricKind::Summary) {
            return (base, MetricKind::Summary);
        }
        if let Some(base) = typed(&["_sum", "_count", "_bucket"], MetricKind::Histogram) {
            return (base, MetricKind::Histogram);
        }
        (name.to_string(), MetricKind::Untyped)
    }
}
