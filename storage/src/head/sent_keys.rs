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
use crate::prefetch;
use hourglass_wal::lock::lock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 64;
/// Most keys held.
pub(crate) const MAX_KEYS: usize = 1 << 18;
const SHARD_KEYS: usize = MAX_KEYS / SHARDS;
/// Slots of a shard's first table.
const MIN_SLOTS: usize = 16;

/// One shard: open addressing with linear probing, at most half full, so
/// a probe ends at an empty slot. A key's home slot is its first word (a
/// strong hash already) masked, so a caller can hint the slot's cache line
/// before it looks. Keys are only added or all dropped at once: no
/// tombstones.
#[derive(Debug, Default)]
struct Shard {
    /// Empty, or a power of two long.
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Debug, Default, Clone)]
struct Slot {
    key: [u64; 2],
    /// `None`: an empty slot.
    series: Option<Arc<MemSeries>>,
}

impl Shard {
    fn home(&self, key: &[u64; 2]) -> usize {
        (key[0] as usize) & self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn probe(&self, key: &[u64; 2]) -> Option<usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = self.home(key);
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.series.is_none() || slot.key == *key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    fn get(&self, key: &[u64; 2]) -> Option<&Arc<MemSeries>> {
        let slot = self.slots.get(self.probe(key)?)?;
        slot.series.as_ref()
    }

    /// Hints the cache line of `key`'s home slot.
    fn prefetch(&self, key: &[u64; 2]) {
        if let Some(slot) = self.slots.get(self.home(key)) {
            prefetch::line(slot);
        }
    }

    fn insert(&mut self, key: [u64; 2], series: &Arc<MemSeries>) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let Some(slot) = self.probe(&key).and_then(|i| self.slots.get_mut(i)) else {
            return;
        };
        if slot.series.is_none() {
            self.len += 1;
        }
        slot.key = key;
        slot.series = Some(Arc::clone(series));
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        self.len = 0;
        for slot in old {
            if let Some(series) = slot.series {
                self.insert(slot.key, &series);
            }
        }
    }
}

/// A head series found by its writer's key ahead of an append
/// ([`crate::Storage::find_sent`]): the append then needs no labels for it.
#[derive(Clone)]
pub struct KnownSeries {
    pub(super) series: Arc<MemSeries>,
    /// The keys' generation when it was found (see [`SentKeys::insert`]).
    pub(super) generation: u64,
}

impl std::fmt::Debug for KnownSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownSeries")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl super::Head {
    /// The series each of `keys` names (`None`: not looked up), as
    /// [`SentKeys::get_many`] finds them; all `None` while the head holds
    /// too many series to keep keys.
    pub(crate) fn find_sent(&self, keys: &[Option<SentKey>]) -> Vec<Option<KnownSeries>> {
        if !self.sent.used_at(self.quota.active()) {
            return vec![None; keys.len()];
        }
        let generation = self.sent.generation();
        let mut found = Vec::new();
        self.sent.get_many(keys, &mut found);
        found
            .into_iter()
            .map(|s| s.map(|series| KnownSeries { series, generation }))
            .collect()
    }
}

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

fn shard_of(key: SentKey) -> usize {
    (key.0[1] as usize) % SHARDS
}

impl SentKeys {
    fn shard(&self, key: SentKey) -> &Mutex<Shard> {
        &self.shards[shard_of(key)]
    }

    /// The current generation, read before looking a series up by labels
    /// and handed to [`SentKeys::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The series last filed under `key`; the caller checks it is not
    /// deleted (under its lock, as for any series found).
    #[cfg(test)]
    pub(crate) fn get(&self, key: SentKey) -> Option<Arc<MemSeries>> {
        lock(self.shard(key)).get(&key.0).cloned()
    }

    /// [`SentKeys::get`] for each of `keys` (`None`: not looked up) into
    /// `found`, one lock per shard: the keys of a shard are looked up
    /// together, their slots and then their series hinted to the cache
    /// first, so their misses overlap instead of following one another.
    pub(crate) fn get_many(
        &self,
        keys: &[Option<SentKey>],
        found: &mut Vec<Option<Arc<MemSeries>>>,
    ) {
        found.clear();
        found.resize(keys.len(), None);
        // The positions of `keys` grouped by shard (a counting sort).
        let mut starts = [0u32; SHARDS + 1];
        for key in keys.iter().flatten() {
            starts[shard_of(*key) + 1] += 1;
        }
        for i in 1..=SHARDS {
            starts[i] += starts[i - 1];
        }
        let mut next = starts;
        let mut order = vec![0u32; starts[SHARDS] as usize];
        for (pos, key) in keys.iter().enumerate() {
            if let Some(key) = key {
                let at = &mut next[shard_of(*key)];
                order[*at as usize] = pos as u32;
                *at += 1;
            }
        }
        let key_at = |pos: u32| keys.get(pos as usize).copied().flatten().map(|k| k.0);
        for (i, shard) in self.shards.iter().enumerate() {
            let group = &order[starts[i] as usize..starts[i + 1] as usize];
            if group.is_empty() {
                continue;
            }
            let shard = lock(shard);
            for key in group.iter().filter_map(|&p| key_at(p)) {
                shard.prefetch(&key);
            }
            for key in group.iter().filter_map(|&p| key_at(p)) {
                if let Some(s) = shard.get(&key) {
                    prefetch::line(Arc::as_ptr(s));
                }
            }
            for &pos in group {
                if let (Some(key), Some(out)) = (key_at(pos), found.get_mut(pos as usize)) {
                    *out = shard.get(&key).cloned();
                }
            }
        }
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
        if shard.len >= SHARD_KEYS && shard.get(&key.0).is_none() {
            *shard = Shard::default();
        }
        shard.insert(key.0, series);
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
        self.shards.iter().map(|s| lock(s).len).sum()
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
    fn a_request_looks_its_keys_up_together() {
        let head = Head::new(HeadOptions::default());
        append(&head, &series()[..1], &[SentKey([1, 2])], 1_000);
        let s = head.sent.get(SentKey([1, 2])).unwrap();
        let keys = SentKeys::default();
        let g = keys.generation();
        // Enough keys to grow the tables several times, some sharing a
        // home slot (same first word) so probes run past it.
        let filed: Vec<SentKey> = (0..3_000u64)
            .map(|i| SentKey([(i % 700) << 7, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)]))
            .collect();
        for k in &filed {
            keys.insert(*k, &s, g);
        }
        assert_eq!(keys.len(), filed.len());
        let mut asked: Vec<Option<SentKey>> = filed.iter().map(|k| Some(*k)).collect();
        asked.push(None);
        asked.push(Some(SentKey([5, 5])));
        asked.push(Some(filed[7]));
        let mut found = Vec::new();
        keys.get_many(&asked, &mut found);
        assert_eq!(found.len(), asked.len());
        for (k, f) in asked.iter().zip(&found) {
            let expected = k.and_then(|k| keys.get(k));
            assert_eq!(f.is_some(), expected.is_some(), "{k:?}");
            assert_eq!(
                f.is_some(),
                k.is_some() && *k != Some(SentKey([5, 5])),
                "{k:?}"
            );
        }
        // Filing a key again replaces its series, not adds a key.
        keys.insert(filed[0], &s, g);
        assert_eq!(keys.len(), filed.len());
    }

    #[test]
    fn series_found_ahead_are_appended_without_their_labels() {
        let head = Head::new(HeadOptions::default());
        let keys = [SentKey([1, 2]), SentKey([3, 4])];
        append(&head, &series(), &keys, 1_000);
        let asked = [Some(keys[0]), None, Some(SentKey([9, 9])), Some(keys[1])];
        let known = head.find_sent(&asked);
        let found: Vec<bool> = known.iter().map(Option::is_some).collect();
        assert_eq!(found, [true, false, false, true]);
        // Found series need no labels: the batch carries none for them.
        let samples = [[Sample::new(2_000, 5.0)], [Sample::new(2_000, 6.0)]];
        let mut batch = BorrowedBatch::default();
        for (s, k) in samples.iter().zip(keys) {
            batch.push(&[], s);
            batch.series.last_mut().unwrap().sent_key = Some(k);
        }
        let known = [known[0].clone(), known[3].clone()];
        let stats = head
            .append_any(&crate::head::KnownBatch(&batch, &known), None, None)
            .unwrap();
        assert_eq!(stats.appended, 2);
        assert_eq!(head.stats().series, 2);
        for k in keys {
            assert_eq!(lock(&head.sent.get(k).unwrap().data).max_t(), Some(2_000));
        }
        // Removed between the lookup and the append: made anew from its
        // stored labels, and not filed under the key (its generation is
        // past).
        let old = head.sent.get(keys[0]).unwrap();
        let known = head.find_sent(&[Some(keys[0])]);
        {
            let mut d = lock(&old.data);
            *d = Default::default();
            d.deleted = true;
        }
        head.unlink(&old);
        head.sent.forget();
        let one = BorrowedBatch {
            series: batch.series[..1].to_vec(),
        };
        let stats = head
            .append_any(&crate::head::KnownBatch(&one, &known), None, None)
            .unwrap();
        assert_eq!(stats.appended, 1);
        assert!(head.sent.get(keys[0]).is_none());
        assert_eq!(append(&head, &series()[..1], &keys[..1], 3_000), 1);
        assert_eq!(head.stats().series, 2);
        assert_eq!(
            lock(&head.sent.get(keys[0]).unwrap().data).max_t(),
            Some(3_000)
        );
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
