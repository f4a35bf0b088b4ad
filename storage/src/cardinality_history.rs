//! Cardinality over history: which metrics, labels and sources hold the
//! series of any time range, counted from the partitions' indexes and the
//! head, and how many series each hour brought that were not seen before
//! in the range (churn).
//!
//! Memory stays bounded by what is distinct, never by samples: a series is
//! counted once, by a 64-bit hash of its labels in one set; counts are kept
//! per metric, label name and label pair; the lists returned are the top
//! `top` of each, chosen with a heap.

use crate::head::Head;
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::partition::HOUR_MS;
use crate::storage::Storage;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What to count.
#[derive(Debug, Clone, Default)]
pub struct CardinalityQuery {
    /// Series matching any one of these sets; every series when empty.
    pub match_sets: Vec<Vec<Matcher>>,
    /// Start of the range (inclusive, ms).
    pub mint: i64,
    /// End of the range (inclusive, ms).
    pub maxt: i64,
    /// Series counts per value of this label, when set.
    pub focus_label: Option<String>,
    /// Length of every list.
    pub top: usize,
}

/// Series counts over a time range; every list sorted largest first (ties
/// by name) and cut to the query's `top`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryCardinality {
    /// Distinct series with a sample in the range.
    pub total_series: u64,
    /// Label pairs summed over those series.
    pub total_label_value_pairs: u64,
    /// Distinct `name=value` pairs among them.
    pub distinct_label_value_pairs: u64,
    /// Series per metric name.
    pub by_metric: Vec<(String, u64)>,
    /// Series carrying each label name.
    pub by_label_name: Vec<(String, u64)>,
    /// Series per value of the focus label.
    pub by_focus_label_value: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub by_label_value_pair: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of the distinct values per label name.
    pub value_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per value of the source label (`job` unless configured).
    pub by_source: Vec<(String, u64)>,
    /// `(hour start ms, series first seen in that hour)`, by hour, for
    /// hours that brought any.
    pub new_series_by_hour: Vec<(i64, u64)>,
    /// Partitions whose index was read.
    pub partitions_read: u64,
}

/// Counts as series arrive; each series once.
#[derive(Default)]
struct Counter {
    seen: HashSet<u64>,
    pairs_total: u64,
    by_metric: HashMap<String, u64>,
    by_name: HashMap<String, u64>,
    by_pair: HashMap<(String, String), u64>,
    by_focus: HashMap<String, u64>,
    by_source: HashMap<String, u64>,
    new_by_hour: BTreeMap<i64, u64>,
}

fn label_hash(labels: &Labels) -> u64 {
    // A fixed-key hasher: the same series hashes alike in every partition.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for l in labels.iter() {
        l.name.hash(&mut h);
        l.value.hash(&mut h);
    }
    h.finish()
}

fn bump<K: Eq + Hash>(map: &mut HashMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

impl Counter {
    fn add(&mut self, labels: &Labels, hour: i64, focus: Option<&str>, source: &str) {
        // Start-timestamp companions are part of their owner, not series.
        if crate::start_times::is_companion(labels) || !self.seen.insert(label_hash(labels)) {
            return;
        }
        bump(
            &mut self.by_metric,
            labels.metric_name().unwrap_or("").to_string(),
        );
        for l in labels.iter() {
            self.pairs_total += 1;
            match self.by_name.get_mut(&*l.name) {
                Some(n) => *n += 1,
                None => {
                    self.by_name.insert(l.name.to_string(), 1);
                }
            }
            bump(&mut self.by_pair, (l.name.to_string(), l.value.to_string()));
            if focus == Some(&*l.name) {
                bump(&mut self.by_focus, l.value.to_string());
            }
            if *l.name == *source {
                bump(&mut self.by_source, l.value.to_string());
            }
        }
        *self.new_by_hour.entry(hour).or_default() += 1;
    }
}

/// The `n` largest counts, largest first, ties by key; a heap of `n`.
pub(crate) fn top_n<K: Ord>(counts: impl IntoIterator<Item = (K, u64)>, n: usize) -> Vec<(K, u64)> {
    let mut heap: BinaryHeap<Reverse<(u64, Reverse<K>)>> = BinaryHeap::with_capacity(n + 1);
    for (k, c) in counts {
        heap.push(Reverse((c, Reverse(k))));
        if heap.len() > n {
            heap.pop();
        }
    }
    let mut out: Vec<(K, u64)> = heap
        .into_iter()
        .map(|Reverse((c, Reverse(k)))| (k, c))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn hour_of(t: i64) -> i64 {
    t.saturating_sub(t.rem_euclid(HOUR_MS))
}

fn head_series(head: &Head, sets: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<(Labels, i64)> {
    let mut out = Vec::new();
    for set in sets {
        for (labels, snap) in head.select_raw(set, mint, maxt) {
            let first = snap
                .chunks
                .iter()
                .map(|c| c.min_t.max(mint))
                .chain(snap.ooo.iter().map(|s| s.t))
                .chain(snap.histograms.first_t())
                .min();
            if let Some(first) = first {
                out.push((labels, first));
            }
        }
    }
    // First seen earliest first, so churn counts each at its first hour.
    out.sort_by_key(|(_, t)| *t);
    out
}

impl Storage {
    /// Counts the series of `[q.mint, q.maxt]` in partitions and head.
    /// `progress` is called after each partition with (done, total).
    pub fn cardinality_over(
        &self,
        q: &CardinalityQuery,
        progress: &mut dyn FnMut(u64, u64),
    ) -> HistoryCardinality {
        let sets: Vec<Vec<Matcher>> = if q.match_sets.is_empty() {
            vec![Vec::new()]
        } else {
            q.match_sets.clone()
        };
        let mut parts: Vec<Arc<crate::partition::Partition>> = self
            .partitions()
            .into_iter()
            .filter(|p| p.meta().max_t >= q.mint && p.meta().min_t <= q.maxt)
            .collect();
        parts.sort_by_key(|p| p.meta().hour_start_ms);
        let total = parts.len() as u64 + 1;
        let focus = q.focus_label.as_deref();
        let source = self.source_label().to_string();
        let mut c = Counter::default();
        for (i, p) in parts.iter().enumerate() {
            let hour = p.meta().hour_start_ms.max(hour_of(q.mint));
            for set in &sets {
                for labels in p.labels_in(set, q.mint, q.maxt) {
                    c.add(labels, hour, focus, &source);
                }
            }
            progress(i as u64 + 1, total);
        }
        for (labels, first) in head_series(self.head(), &sets, q.mint, q.maxt) {
            c.add(&labels, hour_of(first), focus, &source);
        }
        progress(total, total);

        let mut values_by_name: HashMap<String, (u64, u64)> = HashMap::new();
        for (name, value) in c.by_pair.keys() {
            let len = value.len() as u64;
            match values_by_name.get_mut(name) {
                Some((n, bytes)) => {
                    *n += 1;
                    *bytes += len;
                }
                None => {
                    values_by_name.insert(name.clone(), (1, len));
                }
            }
        }
        let value_bytes = values_by_name.iter().map(|(k, v)| (k.clone(), v.1));
        let top = q.top;
        HistoryCardinality {
            total_series: c.seen.len() as u64,
            total_label_value_pairs: c.pairs_total,
            distinct_label_value_pairs: c.by_pair.len() as u64,
            value_bytes_by_label_name: top_n(value_bytes, top),
            by_metric: top_n(c.by_metric, top),
            by_label_name: top_n(c.by_name, top),
            by_focus_label_value: top_n(c.by_focus, top),
            by_label_value_pair: top_n(c.by_pair, top)
                .into_iter()
                .map(|((n, v), k)| (format!("{n}={v}"), k))
                .collect(),
            value_count_by_label_name: top_n(
                values_by_name.into_iter().map(|(k, v)| (k, v.0)),
                top,
            ),
            by_source: top_n(c.by_source, top),
            new_series_by_hour: c.new_by_hour.into_iter().collect(),
            partitions_read: parts.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_keeps_the_largest_with_ties_by_key() {
        let counts = vec![("b", 3), ("a", 3), ("c", 1), ("d", 7), ("e", 2)];
        assert_eq!(top_n(counts.clone(), 3), vec![("d", 7), ("a", 3), ("b", 3)]);
        assert_eq!(top_n(counts.clone(), 0), vec![]);
        assert_eq!(top_n(counts, 10).len(), 5);
    }
}
