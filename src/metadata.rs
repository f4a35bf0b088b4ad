//! Metric metadata (type, help, unit) as senders report it, merged with
//! the scraped targets' for `/api/v1/metadata` (handler in `api/metadata.rs`).
//!
//! Bounded: senders choose family names and help texts, so both the number
//! of families and the bytes of one entry have a limit. What is over a
//! limit is dropped (and counted as a refusal), never the write that
//! carried it: metadata is advisory.

use hourglass_wal::lock::lock;
use std::collections::HashMap;
use std::sync::Mutex;

/// What a sender said about one metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    /// `counter`, `gauge`, …
    pub kind: &'static str,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// Latest metadata per metric family. Senders resend it periodically, so
/// keeping it in memory only loses it until the next send after a restart.
#[derive(Debug, Default)]
pub struct MetadataStore {
    by_family: Mutex<HashMap<String, MetricMetadata>>,
    limits: MetadataLimits,
}

/// How much metadata the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataLimits {
    /// Most metric families with metadata.
    pub max_families: usize,
    /// Most bytes of one entry: family name, help and unit together.
    pub max_entry_bytes: usize,
}

impl Default for MetadataLimits {
    fn default() -> MetadataLimits {
        MetadataLimits {
            max_families: 100_000,
            max_entry_bytes: 16 * 1024,
        }
    }
}

/// Why an entry was not kept (the `reason` of its refusal count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataRefusal {
    /// Name, help and unit together are longer than the limit.
    EntryTooLong,
    /// A new family while the store holds the most it may.
    TooManyFamilies,
}

impl MetadataRefusal {
    /// The reason as `/metrics` labels it.
    pub fn reason(self) -> &'static str {
        match self {
            MetadataRefusal::EntryTooLong => "metadata_entry_too_long",
            MetadataRefusal::TooManyFamilies => "metadata_families_limit",
        }
    }
}

impl MetadataStore {
    /// An empty store keeping at most what `limits` allow.
    pub fn new(limits: MetadataLimits) -> MetadataStore {
        MetadataStore {
            by_family: Mutex::default(),
            limits,
        }
    }

    /// Records metadata for `family`, replacing what was there, unless it is
    /// over a limit.
    pub fn set(&self, family: &str, md: MetricMetadata) -> Result<(), MetadataRefusal> {
        let bytes = family.len() + md.help.len() + md.unit.len();
        if bytes > self.limits.max_entry_bytes {
            return Err(MetadataRefusal::EntryTooLong);
        }
        let mut m = lock(&self.by_family);
        let full = m.len() >= self.limits.max_families;
        match m.get_mut(family) {
            Some(old) if *old == md => {}
            Some(old) => *old = md,
            None if full => {
                return Err(MetadataRefusal::TooManyFamilies);
            }
            None => {
                m.insert(family.to_string(), md);
            }
        }
        Ok(())
    }

    /// Families and their metadata, sorted by family name.
    pub fn snapshot(&self) -> Vec<(String, MetricMetadata)> {
        let mut v: Vec<(String, MetricMetadata)> = lock(&self.by_family)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Number of families known.
    pub fn len(&self) -> usize {
        lock(&self.by_family).len()
    }
}

/// Distinct (type, help, unit) entries per family, sorted by family.
pub(crate) type Merged = std::collections::BTreeMap<String, Vec<(String, String, String)>>;

/// The senders' metadata and the scraped targets', merged: each family
/// lists its distinct entries, senders' first. Held to the store's limits:
/// at most `max_families` families, no entry over `max_entry_bytes`.
pub(crate) fn merged(
    store: Vec<(String, MetricMetadata)>,
    scraped: Vec<crate::scrape::TargetMetadata>,
    limits: MetadataLimits,
) -> Merged {
    let mut out = Merged::new();
    let sent = store
        .into_iter()
        .map(|(f, m)| (f, m.kind.to_string(), m.help, m.unit));
    let from_targets = scraped
        .into_iter()
        .map(|t| (t.metric, t.metadata.kind, t.metadata.help, t.metadata.unit));
    for (family, kind, help, unit) in sent.chain(from_targets) {
        if family.len() + help.len() + unit.len() > limits.max_entry_bytes {
            continue;
        }
        if !out.contains_key(&family) && out.len() >= limits.max_families {
            continue;
        }
        let entries = out.entry(family).or_default();
        let entry = (kind, help, unit);
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max_families: usize, max_entry_bytes: usize) -> MetadataStore {
        MetadataStore::new(MetadataLimits {
            max_families,
            max_entry_bytes,
        })
    }

    fn md(help: &str) -> MetricMetadata {
        MetricMetadata {
            kind: "gauge",
            help: help.to_string(),
            unit: String::new(),
        }
    }

    #[test]
    fn families_past_the_limit_are_refused_and_known_ones_still_update() {
        let store = store(2, 64);
        assert_eq!(store.set("a", md("one")), Ok(()));
        assert_eq!(store.set("b", md("two")), Ok(()));
        assert_eq!(
            store.set("c", md("three")),
            Err(MetadataRefusal::TooManyFamilies)
        );
        assert_eq!(store.set("a", md("changed")), Ok(()));
        assert_eq!(store.len(), 2);
        assert_eq!(store.snapshot()[0].1.help, "changed");
    }

    #[test]
    fn an_entry_longer_than_the_limit_is_refused_whole() {
        let store = store(10, 8);
        assert_eq!(store.set("abc", md("12345")), Ok(()));
        assert_eq!(
            store.set("abc", md("123456")),
            Err(MetadataRefusal::EntryTooLong)
        );
        assert_eq!(store.snapshot()[0].1.help, "12345");
    }

    fn scraped(metric: &str, kind: &str, help: &str) -> crate::scrape::TargetMetadata {
        crate::scrape::TargetMetadata {
            target: Default::default(),
            metric: metric.to_string(),
            metadata: crate::scrape::cache::Metadata {
                kind: kind.to_string(),
                help: help.to_string(),
                unit: String::new(),
            },
        }
    }

    #[test]
    fn scraped_families_join_the_senders_with_distinct_entries_within_the_limits() {
        let limits = MetadataLimits {
            max_families: 3,
            max_entry_bytes: 32,
        };
        let store = vec![("a".to_string(), md("sent"))];
        let m = merged(
            store,
            vec![
                scraped("a", "gauge", "sent"),
                scraped("a", "counter", "other"),
                scraped("b", "gauge", "x"),
                scraped("b", "gauge", "x"),
                scraped("long", "gauge", &"h".repeat(40)),
                scraped("c", "gauge", ""),
                scraped("d", "gauge", ""),
            ],
            limits,
        );
        let families: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(families, ["a", "b", "c"]);
        assert_eq!(m["a"].len(), 2);
        assert_eq!(m["a"][0].1, "sent");
        assert_eq!(m["b"].len(), 1);
    }
}
