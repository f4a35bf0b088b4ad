//! The head: every series' recent samples in memory, behind the WAL.
//!
//! Series live in `SHARDS` hash-sharded tables (by labels hash, a 64-bit
//! collision kept side by side), so writers of different series never
//! share a lock; each series has its own mutex. Series get dense [`HeadRef`]s
//! (their postings ids and WAL refs), stable across restarts because
//! the WAL records them.
//!
//! Split by verb: `append.rs` (acceptance and WAL records), `read.rs`
//! (the querier), `replay.rs` (recovery, with `replay_decode.rs` decoding
//! the log on a thread of its own), `series.rs` (one series).

mod age_limit;
mod append;
mod append_stats;
mod batches;
mod checkpoint_records;
mod handle;
mod hist_series;
mod intern;
pub(crate) mod linked_records;
mod persist;
mod read;
mod replay;
mod replay_decode;
mod rollback;
mod sent_keys;
mod series;
mod series_key;
mod series_limits;
mod stats;
mod thin;
pub(crate) mod wal_records;

pub use append::{AppendStats, MAX_REPORTED_ERRORS, Rejected};
pub(crate) use batches::KnownBatch;
#[doc(hidden)]
pub use checkpoint_records::fuzz_decode as fuzz_wal_records;
pub use handle::{HandleBatch, HandleSample, SeriesHandle, SeriesTarget};
pub use read::HeadQuerier;
pub(crate) use read::head_series;
pub use replay::ReplayStats;
pub use sent_keys::KnownSeries;
pub(crate) use series::Snapshot;
pub use series_limits::{SeriesLimits, SeriesQuota, SeriesRefusal};
pub use stats::Cardinality;

use crate::chunk::CutPolicy;
use crate::clock::Clock;
use crate::index::MemPostings;
use crate::model::labels::{LabelLimits, Labels};
use crate::model::refs::{HeadRef, PostingId};
use hashbrown::HashTable;
use hourglass_wal::lock::{lock, read, write};
use intern::{Interner, SeriesLabels};
use series::MemSeries;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

const SHARDS: usize = 64;

/// Head behaviour.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// When open chunks are cut.
    pub cut: CutPolicy,
    /// How far behind its newest sample a series still accepts samples.
    pub ooo_window_ms: i64,
    /// Samples older than the store's "now" minus this are refused, and
    /// partitions wholly older are dropped. "Now" is the newest sample
    /// stored, capped at the wall clock plus `future_grace_ms`
    /// ([`Head::store_now`]); an empty store refuses nothing for age.
    pub retention_ms: Option<i64>,
    /// Drop the oldest partitions while they take more than this many bytes.
    pub retention_bytes: Option<u64>,
    /// Label validation limits.
    pub limits: LabelLimits,
    /// Samples newer than the wall clock plus this are refused
    /// (`too_far_in_future`), so no sample moves the store's "now" past it.
    pub future_grace_ms: i64,
    /// The wall clock (tests inject their own).
    pub clock: Clock,
    /// Server-wide cardinality limits.
    pub series_limits: SeriesLimits,
}

/// Default [`HeadOptions::future_grace_ms`]: ten minutes, as Mimir's
/// creation grace period.
pub const DEFAULT_FUTURE_GRACE_MS: i64 = 600_000;

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            cut: CutPolicy::default(),
            ooo_window_ms: 3_600_000,
            retention_ms: None,
            retention_bytes: None,
            limits: LabelLimits::default(),
            future_grace_ms: DEFAULT_FUTURE_GRACE_MS,
            clock: Clock::system(),
            series_limits: SeriesLimits::default(),
        }
    }
}

/// A shard's series by labels hash: one pointer and one control byte a
/// slot (a map from hash to series took 25; at a million series that was
/// 52 bytes a series). Filed by [`table_hash`] of the labels hash, which
/// each series keeps the half of that it needs.
type ShardMap = HashTable<Arc<MemSeries>>;

/// A shard table's hash from a labels hash: its low half (the shard is
/// chosen by the high half), spread over 64 bits again.
fn table_hash(low: u32) -> u64 {
    u64::from(low).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Cumulative counters since open.
#[derive(Debug, Default)]
struct Counters {
    appended: AtomicU64,
    duplicates: AtomicU64,
    out_of_window: AtomicU64,
    past_retention: AtomicU64,
    duplicate_conflict: AtomicU64,
    invalid_series: AtomicU64,
    too_far_in_future: AtomicU64,
    active_series_limit: AtomicU64,
    new_series_rate_limit: AtomicU64,
}

/// Who a new series is created for: WAL replay (no limits apply; the
/// series existed already) or a writer, checked against the server's
/// limits and its own quota, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admit<'a> {
    Replay,
    Writer(Option<&'a Arc<SeriesQuota>>),
}

/// Head statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Live series.
    pub series: usize,
    /// Samples accepted by appends since open (WAL replay is counted in
    /// `ReplayStats::samples` instead).
    pub appended: u64,
    /// Exact duplicates accepted silently.
    pub duplicates: u64,
    /// Refusals by reason since open.
    pub rejected: Rejected,
    /// Newest sample time stored, if any.
    pub max_t: Option<i64>,
}

/// The in-memory series registry with its postings.
#[derive(Debug)]
pub struct Head {
    opts: HeadOptions,
    shards: Box<[RwLock<ShardMap>]>,
    /// Series by id; `None` for ids not (or no longer) in use.
    by_id: RwLock<Vec<Option<Arc<MemSeries>>>>,
    postings: RwLock<MemPostings<HeadRef>>,
    interner: Interner,
    /// Newest sample time over all series; `i64::MIN` when empty.
    max_t: AtomicI64,
    /// Newest sample time in the partitions at open (`i64::MIN`: none);
    /// later partitions come from the head, whose `max_t` covers them.
    stored_max_t: AtomicI64,
    /// Oldest sample time ever appended; `i64::MAX` when empty. It is not
    /// raised when data moves to partitions, so it may be older than what
    /// the head holds: good enough to skip the head for ranges before it.
    min_t: AtomicI64,
    /// End of the hours `persist` last collected (`i64::MIN`: none yet).
    collected_end: AtomicI64,
    /// Samples appended before `collected_end` since `persist` last
    /// looked (`take_late`).
    late: AtomicU64,
    counters: Counters,
    /// Server-wide series budget; counts every live series.
    quota: SeriesQuota,
    /// Writers' quotas that series are charged to (`MemSeries::owner`).
    owners: RwLock<Vec<Arc<SeriesQuota>>>,
    /// Retention per selector, enforced at ingest too.
    age_rules: age_limit::AgeRules,
    /// Series by the key of their labels as sent.
    sent: sent_keys::SentKeys,
}

impl Head {
    /// An empty head.
    pub fn new(opts: HeadOptions) -> Self {
        Head {
            quota: SeriesQuota::new(opts.series_limits),
            owners: RwLock::new(Vec::new()),
            opts,
            shards: (0..SHARDS).map(|_| RwLock::new(ShardMap::new())).collect(),
            by_id: RwLock::new(Vec::new()),
            postings: RwLock::new(MemPostings::new()),
            interner: Interner::default(),
            max_t: AtomicI64::new(i64::MIN),
            stored_max_t: AtomicI64::new(i64::MIN),
            min_t: AtomicI64::new(i64::MAX),
            collected_end: AtomicI64::new(i64::MIN),
            late: AtomicU64::new(0),
            counters: Counters::default(),
            age_rules: age_limit::AgeRules::default(),
            sent: sent_keys::SentKeys::default(),
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<ShardMap> {
        // Middle bits: the map itself uses the low and top bits.
        &self.shards[((hash >> 32) as usize) % SHARDS]
    }

    /// The series with these labels, if present.
    fn get(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        self.get_by(hash, |l| l.eq_labels(&self.interner, labels))
    }

    /// The series under `hash` whose labels satisfy `matches`.
    fn get_by(&self, hash: u64, matches: impl Fn(&SeriesLabels) -> bool) -> Option<Arc<MemSeries>> {
        read(self.shard(hash))
            .find(table_hash(hash as u32), |s| matches(&s.labels))
            .cloned()
    }

    /// The series with these labels, created (with a fresh id, or `id`
    /// during replay) if missing. Validation is the caller's.
    fn get_or_create(
        &self,
        labels: &Labels,
        id: Option<HeadRef>,
        admit: Admit<'_>,
    ) -> Result<Arc<MemSeries>, SeriesRefusal> {
        let hash = labels.stable_hash();
        match self.get(hash, labels) {
            Some(s) => Ok(s),
            None => self.create(hash, labels, id, admit),
        }
    }

    /// Creates the series unless a racing writer just did; a writer's new
    /// series is charged to the server's and the writer's quotas first.
    fn create(
        &self,
        hash: u64,
        labels: &Labels,
        id: Option<HeadRef>,
        admit: Admit<'_>,
    ) -> Result<Arc<MemSeries>, SeriesRefusal> {
        self.create_numbered(hash, labels, None, id, admit)
    }

    /// [`Head::create`] given `labels` as the interner's numbers already,
    /// if `numbers` is there.
    fn create_numbered(
        &self,
        hash: u64,
        labels: &Labels,
        numbers: Option<SeriesLabels>,
        id: Option<HeadRef>,
        admit: Admit<'_>,
    ) -> Result<Arc<MemSeries>, SeriesRefusal> {
        let mut shard = write(self.shard(hash));
        if let Some(s) = shard.find(table_hash(hash as u32), |s| {
            s.labels.eq_labels(&self.interner, labels)
        }) {
            return Ok(Arc::clone(s));
        }
        let owner = match admit {
            Admit::Replay => {
                self.quota.count_existing();
                0
            }
            Admit::Writer(writer) => {
                let now = self.opts.clock.now_ms();
                self.quota.take(now)?;
                if let Some(w) = writer
                    && let Err(e) = w.take(now)
                {
                    self.quota.give_back(now);
                    return Err(e);
                }
                writer.map_or(0, |w| self.owner_index(w))
            }
        };
        let mut by_id = write(&self.by_id);
        let id = match id {
            Some(id) => id,
            None => HeadRef::from_raw(u32::try_from(by_id.len()).unwrap_or(u32::MAX)),
        };
        let compact = numbers.unwrap_or_else(|| self.interner.series_labels(labels));
        let s = Arc::new(MemSeries::new(id, hash, compact, owner));
        let slot = id.index();
        if by_id.len() <= slot {
            by_id.resize(slot + 1, None);
        }
        by_id[slot] = Some(Arc::clone(&s));
        drop(by_id);
        // The postings copy a string only for a pair they have not seen.
        write(&self.postings).add(id, labels);
        shard.insert_unique(table_hash(s.table_hash), Arc::clone(&s), |x| {
            table_hash(x.table_hash)
        });
        Ok(s)
    }

    /// `quota`'s index in `owners` plus one, registering it if new; `0`
    /// (not tracked) once `u16` indices run out.
    fn owner_index(&self, quota: &Arc<SeriesQuota>) -> u16 {
        let find = |v: &[Arc<SeriesQuota>]| v.iter().position(|q| Arc::ptr_eq(q, quota));
        if let Some(i) = find(&read(&self.owners)) {
            return u16::try_from(i + 1).unwrap_or(0);
        }
        let mut owners = write(&self.owners);
        let i = find(&owners).unwrap_or_else(|| {
            owners.push(Arc::clone(quota));
            owners.len() - 1
        });
        u16::try_from(i + 1).unwrap_or(0)
    }

    /// Releases a removed series from the quotas it was charged to.
    fn release_series(&self, owner: u16) {
        self.quota.release();
        if let Some(q) = usize::from(owner)
            .checked_sub(1)
            .and_then(|i| read(&self.owners).get(i).cloned())
        {
            q.release();
        }
    }

    /// A series' labels, holding the shared strings.
    fn labels_of(&self, s: &MemSeries) -> Labels {
        self.interner.labels(&s.labels)
    }

    /// The series with id `id`.
    fn by_id(&self, id: HeadRef) -> Option<Arc<MemSeries>> {
        read(&self.by_id).get(id.index()).cloned().flatten()
    }

    /// Whether the head may hold samples in `[mint, maxt]`.
    pub(crate) fn may_overlap(&self, mint: i64, maxt: i64) -> bool {
        let lo = self.min_t.load(Ordering::Relaxed);
        let hi = self.max_t.load(Ordering::Relaxed);
        lo <= hi && lo <= maxt && hi >= mint
    }

    /// Statistics since open.
    pub fn stats(&self) -> HeadStats {
        let c = &self.counters;
        let max_t = self.max_t.load(Ordering::Relaxed);
        HeadStats {
            series: read(&self.postings).all().len() as usize,
            appended: c.appended.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            rejected: Rejected {
                out_of_window: c.out_of_window.load(Ordering::Relaxed),
                past_retention: c.past_retention.load(Ordering::Relaxed),
                duplicate_conflict: c.duplicate_conflict.load(Ordering::Relaxed),
                invalid_series: c.invalid_series.load(Ordering::Relaxed),
                too_far_in_future: c.too_far_in_future.load(Ordering::Relaxed),
                active_series_limit: c.active_series_limit.load(Ordering::Relaxed),
                new_series_rate_limit: c.new_series_rate_limit.load(Ordering::Relaxed),
            },
            max_t: (max_t != i64::MIN).then_some(max_t),
        }
    }

    /// Live series, as counted for the active-series limit.
    pub fn active_series(&self) -> u64 {
        self.quota.active()
    }

    /// Samples after this time are refused: the wall clock plus the
    /// future grace.
    pub fn max_valid_t(&self) -> i64 {
        self.opts
            .clock
            .now_ms()
            .saturating_add(self.opts.future_grace_ms.max(0))
    }

    /// The store's "now" given the newest sample stored: that sample's
    /// time, but never past [`Head::max_valid_t`], so a future sample
    /// written before the bound existed cannot move retention, the
    /// out-of-order cutoff or the hours persisted.
    pub fn anchor(&self, newest: i64) -> i64 {
        newest.min(self.max_valid_t())
    }

    /// Records the newest sample time of partitions opened beside the
    /// head, so that retention counts from it before the head holds data.
    pub(crate) fn note_stored(&self, t: i64) {
        self.stored_max_t.fetch_max(t, Ordering::Relaxed);
    }

    /// The store's "now" for retention, downsampling and day merges: the
    /// newest sample stored (head and partitions), capped by
    /// [`Head::anchor`]; `None` while nothing is stored. Data only moves
    /// it, and never past the wall clock: a far-future sample cannot make
    /// current data look old, a clock that jumps ahead expires nothing
    /// until data arrives, and backfilled history is kept as Prometheus
    /// keeps it.
    pub fn store_now(&self) -> Option<i64> {
        let newest = self
            .max_t
            .load(Ordering::Relaxed)
            .max(self.stored_max_t.load(Ordering::Relaxed));
        (newest != i64::MIN).then(|| self.anchor(newest))
    }

    /// The age limits of a batch whose newest sample is at `newest`:
    /// retention (per selector, the global one as fallback) measured back
    /// from [`Head::store_now`] moved by that sample, so what retention
    /// would drop at the next persist is never stored (Prometheus's
    /// out-of-bounds), whatever the order of the batch.
    fn age_limit(&self, newest: i64) -> age_limit::AgeLimit {
        let batch = (newest != i64::MIN && newest <= self.max_valid_t()).then_some(newest);
        let now = self.store_now().max(batch);
        self.age_rules.limit(now, self.opts.retention_ms)
    }

    /// The retention rules in force (first match wins; the global
    /// retention is the fallback).
    pub fn retention_rules(&self) -> Arc<Vec<crate::retention_rules::RetentionRule>> {
        self.age_rules.get()
    }

    /// Replaces the retention rules: compaction applies them to what is
    /// stored, appends from now on refuse what they would remove.
    pub fn set_retention_rules(&self, rules: Vec<crate::retention_rules::RetentionRule>) {
        self.age_rules.set(rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_collisions_keep_series_apart() {
        let h = Head::new(HeadOptions::default());
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let c = Labels::from_pairs([("__name__", "c")]);
        // Pretend all three share one hash.
        let sa = h.create(42, &a, None, Admit::Replay).unwrap();
        let sb = h.create(42, &b, None, Admit::Replay).unwrap();
        let sc = h.create(42, &c, None, Admit::Replay).unwrap();
        assert_eq!(h.create(42, &b, None, Admit::Replay).unwrap().id, sb.id);
        let ids = [sa.id, sb.id, sc.id];
        assert_eq!(ids.map(HeadRef::raw), [0, 1, 2]);
        for (l, id) in [(&a, 0), (&b, 1), (&c, 2)] {
            assert_eq!(h.get(42, l).map(|s| s.id.raw()), Some(id));
        }
        assert!(
            h.get(42, &Labels::from_pairs([("__name__", "d")]))
                .is_none()
        );
        assert_eq!(read(&h.postings).select(&[]).len(), 3);
    }
}
