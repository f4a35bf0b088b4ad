//! How an append names the series it looks up in the head.

use super::intern::{Interner, SeriesLabels};
use crate::model::labels::{Labels, stable_hash_pairs};

/// How a batch names a series: owned labels, or borrowed pairs sorted by
/// [`sort_pairs`](crate::model::labels::sort_pairs). Lookups use it as is;
/// labels are built only for new series.
pub(super) trait SeriesKey {
    fn hash(&self) -> u64;
    fn matches(&self, interner: &Interner, labels: &SeriesLabels) -> bool;
    fn to_labels(&self) -> Labels;
}

impl SeriesKey for &Labels {
    fn hash(&self) -> u64 {
        self.stable_hash()
    }
    fn matches(&self, interner: &Interner, labels: &SeriesLabels) -> bool {
        labels.eq_labels(interner, self)
    }
    fn to_labels(&self) -> Labels {
        (*self).clone()
    }
}

/// Pairs sorted by name with empty values dropped.
pub(super) struct SortedPairs<'p, 'a>(pub(super) &'p [(&'a str, &'a str)]);

impl SeriesKey for SortedPairs<'_, '_> {
    fn hash(&self) -> u64 {
        stable_hash_pairs(self.0)
    }
    fn matches(&self, interner: &Interner, labels: &SeriesLabels) -> bool {
        labels.eq_pairs(interner, self.0)
    }
    fn to_labels(&self) -> Labels {
        Labels::from_pairs(self.0.iter().copied())
    }
}

/// A stored series' own labels (a handle kept from an earlier append).
pub(super) struct Stored<'a>(pub(super) &'a Interner, pub(super) &'a SeriesLabels);

impl SeriesKey for Stored<'_> {
    fn hash(&self) -> u64 {
        self.to_labels().stable_hash()
    }
    fn matches(&self, _: &Interner, labels: &SeriesLabels) -> bool {
        labels == self.1
    }
    fn to_labels(&self) -> Labels {
        self.0.labels(self.1)
    }
}
