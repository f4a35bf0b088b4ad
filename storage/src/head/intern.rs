//! String interning for label names and values: each distinct string is
//! kept once and numbered, and a series keeps its labels as those numbers
//! ([`SeriesLabels`]: 8 bytes a pair, where a [`Labels`] pair costs two
//! shared-string pointers of 16 bytes each). At a million series that is
//! most of a series' label bytes (measured: 179 → 37 bytes a series on
//! node-exporter-like labels). Reads turn the numbers back into strings
//! without a lock: the table only grows, and a string's slot is written
//! once, before its number is handed out.

use crate::model::labels::{Label, Labels, StrHasher};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const SHARDS: usize = 16;
/// Segment `k` of the table holds `FIRST << k` strings.
const FIRST_BITS: u32 = 6;
/// Enough segments for every `u32` number.
const SEGMENTS: usize = 27;

type Segment = Box<[OnceLock<Arc<str>>]>;
type Numbers = HashMap<Arc<str>, u32, BuildHasherDefault<StrHasher>>;

/// A sharded map from string to number, and the table back. Strings are
/// never evicted while the head lives; series removal leaves them
/// (bounded by label cardinality).
#[derive(Debug)]
pub(crate) struct Interner {
    shards: Box<[Mutex<Numbers>]>,
    table: Box<[OnceLock<Segment>]>,
    next: AtomicU32,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Numbers::default()))
                .collect(),
            table: (0..SEGMENTS).map(|_| OnceLock::new()).collect(),
            next: AtomicU32::new(0),
        }
    }
}

/// The segment and offset of string number `id`.
fn slot_of(id: u32) -> (usize, usize) {
    let x = u64::from(id) + (1 << FIRST_BITS);
    let k = x.ilog2() - FIRST_BITS;
    (k as usize, (x - (1u64 << (k + FIRST_BITS))) as usize)
}

impl Interner {
    fn shard(&self, s: &str) -> std::sync::MutexGuard<'_, Numbers> {
        // Cheap shard choice: length and first/last bytes.
        let b = s.as_bytes();
        let first = usize::from(b.first().copied().unwrap_or(0));
        let last = usize::from(b.last().copied().unwrap_or(0));
        let k = b.len() ^ (first * 7) ^ (last * 13);
        hourglass_wal::lock::lock(&self.shards[k % SHARDS])
    }

    /// The number of `s`, with its shared copy; `make` builds the copy
    /// when `s` is new.
    fn intern_with(&self, s: &str, make: impl FnOnce() -> Arc<str>) -> (u32, Arc<str>) {
        let mut set = self.shard(s);
        if let Some((x, &id)) = set.get_key_value(s) {
            return (id, Arc::clone(x));
        }
        // Saturates: every number holds a string of its own (≥ 40 bytes
        // with its map entry), so 4 billion of them cannot be reached.
        let id = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
            .unwrap_or(u32::MAX);
        let x = make();
        let (k, off) = slot_of(id);
        let segment = self.table[k].get_or_init(|| {
            (0..(1usize << (k as u32 + FIRST_BITS)))
                .map(|_| OnceLock::new())
                .collect()
        });
        // Written before the number leaves this lock.
        let _ = segment[off].set(Arc::clone(&x));
        set.insert(Arc::clone(&x), id);
        (id, x)
    }

    /// The number of `s` and its shared copy, made if it is new.
    pub(crate) fn intern_str(&self, s: &str) -> (u32, Arc<str>) {
        self.intern_with(s, || Arc::from(s))
    }

    /// The string numbered `id` (numbers come from this interner only).
    fn get(&self, id: u32) -> Option<&Arc<str>> {
        let (k, off) = slot_of(id);
        self.table.get(k)?.get()?.get(off)?.get()
    }

    /// A shared copy of string `id` (an empty one for a number this
    /// interner did not give, which cannot happen).
    fn shared(&self, id: u32) -> Arc<str> {
        self.get(id).map_or_else(|| Arc::from(""), Arc::clone)
    }

    fn number(&self, s: &Arc<str>) -> u32 {
        self.intern_with(s, || Arc::clone(s)).0
    }

    /// `l` as numbers, interning its strings.
    pub(crate) fn series_labels(&self, l: &Labels) -> SeriesLabels {
        self.series_labels_with(l, |_| None)
    }

    /// [`Interner::series_labels`], asking `known` first (numbers a caller
    /// noted as it interned the strings, keyed by the shared copy).
    pub(crate) fn series_labels_with(
        &self,
        l: &Labels,
        known: impl Fn(&Arc<str>) -> Option<u32>,
    ) -> SeriesLabels {
        let n = |s: &Arc<str>| known(s).unwrap_or_else(|| self.number(s));
        SeriesLabels(l.iter().flat_map(|x| [n(&x.name), n(&x.value)]).collect())
    }

    /// The labels `s` stands for, holding the shared strings.
    pub(crate) fn labels(&self, s: &SeriesLabels) -> Labels {
        Labels::from_sorted_iter(s.0.chunks_exact(2).map(|p| Label {
            name: self.shared(p[0]),
            value: self.shared(p[1]),
        }))
    }
}

/// A series' labels as interned numbers: name, value, name, value, … in
/// the order of its [`Labels`]. Read through the [`Interner`] that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeriesLabels(Box<[u32]>);

impl SeriesLabels {
    /// The pairs as strings.
    pub(crate) fn pairs<'a>(
        &'a self,
        interner: &'a Interner,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.chunks_exact(2).map(|p| {
            let s = |id| interner.get(id).map_or("", |x| &**x);
            (s(p[0]), s(p[1]))
        })
    }

    fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// Whether these are exactly `l`'s labels.
    pub(crate) fn eq_labels(&self, interner: &Interner, l: &Labels) -> bool {
        self.len() == l.len()
            && self
                .pairs(interner)
                .zip(l.iter())
                .all(|((n, v), x)| *x.value == *v && *x.name == *n)
    }

    /// Whether these are exactly `pairs` (sorted by name, no empty values).
    pub(crate) fn eq_pairs(&self, interner: &Interner, pairs: &[(&str, &str)]) -> bool {
        self.len() == pairs.len()
            && self
                .pairs(interner)
                .zip(pairs)
                .all(|((n, v), (pn, pv))| v == *pv && n == *pn)
    }

    /// The value of label `name`, if present.
    pub(crate) fn get<'a>(&'a self, interner: &'a Interner, name: &str) -> Option<&'a str> {
        self.pairs(interner)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Hints the CPU to fetch the numbers, for a walk that will read them.
    pub(crate) fn prefetch(&self) {
        crate::prefetch::line(self.0.as_ptr());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fill_each_segment_then_the_next() {
        assert_eq!(slot_of(0), (0, 0));
        assert_eq!(slot_of(63), (0, 63));
        assert_eq!(slot_of(64), (1, 0));
        assert_eq!(slot_of(191), (1, 127));
        assert_eq!(slot_of(192), (2, 0));
        assert_eq!(slot_of(u32::MAX).0, SEGMENTS - 1);
    }

    #[test]
    fn labels_round_trip_through_numbers_and_share_strings() {
        let i = Interner::default();
        let mut all = Vec::new();
        for host in 0..300 {
            let l = Labels::from_pairs([
                ("__name__", "node_load1".to_string()),
                ("instance", format!("10.0.{host}.1:9100")),
                ("job", "node".to_string()),
            ]);
            let s = i.series_labels(&l);
            assert!(s.eq_labels(&i, &l));
            let pairs: Vec<(&str, &str)> = l.iter().map(|x| (&*x.name, &*x.value)).collect();
            assert!(s.eq_pairs(&i, &pairs));
            assert_eq!(s.get(&i, "instance"), l.get("instance"));
            assert_eq!(i.labels(&s), l);
            all.push((l, s));
        }
        // 3 names, 2 shared values, 300 instances.
        assert_eq!(i.next.load(Ordering::Relaxed), 305);
        let (a, b) = (i.labels(&all[0].1), i.labels(&all[1].1));
        assert!(Arc::ptr_eq(
            &a.iter().next().unwrap().name,
            &b.iter().next().unwrap().name
        ));
        assert!(!all[0].1.eq_labels(&i, &all[1].0));
        let fewer = Labels::from_pairs([("__name__", "node_load1")]);
        assert!(!all[0].1.eq_labels(&i, &fewer));
    }

    #[test]
    fn racing_threads_agree_on_numbers() {
        let i = Interner::default();
        let got: Vec<Vec<u32>> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    sc.spawn(|| {
                        (0..2000)
                            .map(|k| i.number(&Arc::from(format!("v{k}"))))
                            .collect::<Vec<u32>>()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.iter().all(|g| *g == got[0]));
        for (k, &id) in got[0].iter().enumerate() {
            assert_eq!(&**i.get(id).unwrap(), format!("v{k}"));
        }
    }
}
