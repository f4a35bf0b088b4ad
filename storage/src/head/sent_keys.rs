//! Series by the key of their labels as a writer sent them. A remote-write
//! sender names the same series with the same label bytes at every scrape;
//! one probe by a strong hash of those bytes ([`SentKey`]) then finds the
//! series, where sorting, hashing and comparing its labels against the
//! stored ones took a fifth of remote-write ingest.
//!
//! Bounded: at most [`MAX_KEYS`] keys (about 13 MiB of tables), emptied
//! and unused while the head holds more series than that (a cache that
//! cannot hold every series would only churn), and emptied whenever the
//! head removes series, so no removed series stays pinned by it.

use super::series::MemSeries;
use crate::model::batch::SentKey;
use crate::prehashed::BuildPreHashed;
use hourglass_wal::lock::lock;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 64;
/// Most keys held.
pub(crate) const MAX_KEYS: usize = 1 << 18;
const SHARD_KEYS: usize = MAX_KEYS / SHARDS;

/// Keyed by the first word only: it is already uniformly random, so it is
/// the map's hash as it is ([`PreHashed`](crate::prehashed::PreHashed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u64; 2]);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.0[0]);
    }
}

type Shard = HashMap<Key, Arc<MemSeries>, BuildPreHashed>;

/// The cache of the head's series by [`SentKey`].
#[derive(Debug)]
pub(crate) struct SentKeys {
    shards: Box<[Mutex<Shard>]>,
    /// Bumped when the head removes series: an insert decided before the
    /// bump is dropped, so a series removed meanwhile is not kept.
    generation: AtomicU64,
    /// Set by an insert, cleared by [`SentKeys::release`].
    holding: AtomicBool,
}

impl Default for SentKeys {
    fn default() -> Self {
        SentKeys {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            generation: AtomicU64::new(0),
            holding: AtomicBool::new(false),
        }
    }
}

impl SentKeys {
    fn shard(&self, key: SentKey) -> &Mutex<Shard> {
        &self.shards[(key.0[1] as usize) % SHARDS]
    }

    /// The current generation, read before looking a series up by labels
    /// and handed to [`SentKeys::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The series last filed under `key`; the caller checks it is not
    /// deleted (under its lock, as for any series found).
    pub(crate) fn get(&self, key: SentKey) -> Option<Arc<MemSeries>> {
        lock(self.shard(key)).get(&Key(key.0)).cloned()
    }

    /// Whether a head holding `live` series uses the keys; when it does
    /// not, they are let go.
    pub(crate) fn used_at(&self, live: u64) -> bool {
        if live <= MAX_KEYS as u64 {
            return true;
        }
        if self.holding.swap(false, Ordering::AcqRel) {
            self.forget();
        }
        false
    }

    /// Files `series` under `key`, unless the head removed series since
    /// `generation`. A full shard is emptied first.
    pub(crate) fn insert(&self, key: SentKey, series: &Arc<MemSeries>, generation: u64) {
        self.holding.store(true, Ordering::Release);
        let mut shard = lock(self.shard(key));
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if shard.len() >= SHARD_KEYS && !shard.contains_key(&Key(key.0)) {
            *shard = Shard::default();
        }
        shard.insert(Key(key.0), Arc::clone(series));
    }

    /// Forgets every key: the head removed series.
    pub(crate) fn forget(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for s in self.shards.iter() {
            *lock(s) = Shard::default();
        }
    }

    /// Keys held, for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::head::{Head, HeadOptions, lock};
    use crate::model::batch::BorrowedBatch;
    use crate::model::sample::Sample;

    /// One sample each for `labels`, keyed by `keys`.
    fn append(head: &Head, labels: &[Vec<(&str, &str)>], keys: &[SentKey], t: i64) -> u64 {
        let samples: Vec<[Sample; 1]> = (0..labels.len())
            .map(|i| [Sample::new(t, i as f64)])
            .collect();
        let mut batch = BorrowedBatch::default();
        for ((l, s), k) in labels.iter().zip(&samples).zip(keys) {
            batch.push(l, s);
            batch.series.last_mut().unwrap().sent_key = Some(*k);
        }
        head.append_borrowed(&batch, None).unwrap().appended
    }

    fn series() -> Vec<Vec<(&'static str, &'static str)>> {
        vec![
            vec![("job", "node"), ("__name__", "up")],
            vec![("__name__", "up"), ("job", "api"), ("zone", "")],
        ]
    }

    #[test]
    fn a_series_sent_again_is_found_by_its_key() {
        let head = Head::new(HeadOptions::default());
        let keys = [SentKey([1, 2]), SentKey([3, 4])];
        assert_eq!(append(&head, &series(), &keys, 1_000), 2);
        assert_eq!(head.sent.len(), 2);
        let first = head.sent.get(keys[1]).unwrap();
        assert_eq!(append(&head, &series(), &keys, 2_000), 2);
        assert!(Arc::ptr_eq(&first, &head.sent.get(keys[1]).unwrap()));
        assert_eq!(head.stats().series, 2);
        // The same labels unkeyed, sorted, land in the same series.
        let mut b = BorrowedBatch::default();
        let s = [Sample::new(3_000, 7.0)];
        b.push(&[("__name__", "up"), ("job", "api")], &s);
        assert_eq!(head.append_borrowed(&b, None).unwrap().appended, 1);
        assert_eq!(head.stats().series, 2);
        assert_eq!(lock(&first.data).max_t(), Some(3_000));
        // Another key for the same labels (sent in another order) is an
        // entry of its own for the same series.
        let other = SentKey([5, 6]);
        let same = vec![series()[0].clone()];
        assert_eq!(append(&head, &same, &[other], 4_000), 1);
        assert_eq!(head.stats().series, 2);
        assert_eq!(head.sent.len(), 3);
    }

    #[test]
    fn removed_series_are_forgotten_and_made_anew() {
        let head = Head::new(HeadOptions::default());
        let keys = [SentKey([1, 2]), SentKey([3, 4])];
        append(&head, &series(), &keys, 1_000);
        let old = head.sent.get(keys[0]).unwrap();
        // Removed behind the cache's back (as between a lookup and its
        // insert): the next append finds it deleted and makes it anew.
        {
            let mut d = lock(&old.data);
            *d = Default::default();
            d.deleted = true;
        }
        head.unlink(&old);
        assert_eq!(append(&head, &series(), &keys, 2_000), 2);
        let new = head.sent.get(keys[0]).unwrap();
        assert!(!Arc::ptr_eq(&old, &new));
        assert_eq!(lock(&new.data).max_t(), Some(2_000));
        assert_eq!(head.stats().series, 2);
        // Garbage collection empties the cache.
        *lock(&new.data) = Default::default();
        assert_eq!(head.gc(i64::MAX), 1);
        assert_eq!(head.sent.len(), 0);
    }

    #[test]
    fn held_keys_are_bounded() {
        let head = Head::new(HeadOptions::default());
        append(&head, &series()[..1], &[SentKey([1, 2])], 1_000);
        let s = head.sent.get(SentKey([1, 2])).unwrap();
        let keys = SentKeys::default();
        let g = keys.generation();
        // A full shard starts over.
        for i in 0..=SHARD_KEYS as u64 {
            keys.insert(SentKey([i, 7]), &s, g);
        }
        assert_eq!(keys.len(), 1);
        // An insert decided before a removal is dropped.
        keys.forget();
        keys.insert(SentKey([1, 1]), &s, g);
        assert_eq!(keys.len(), 0);
        keys.insert(SentKey([1, 1]), &s, keys.generation());
        assert_eq!(keys.len(), 1);
        // Let go while the head holds more series than it may keep.
        assert!(keys.used_at(MAX_KEYS as u64));
        assert_eq!(keys.len(), 1);
        assert!(!keys.used_at(MAX_KEYS as u64 + 1));
        assert_eq!(keys.len(), 0);
    }
}
