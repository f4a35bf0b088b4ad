//! Label sets shared by every open partition. A server opens a partition
//! an hour; were each to copy its series' labels (≈ 200 bytes for a
//! node-exporter series), it would grow by that much a series an hour.
//! Partitions take their label sets from this process-wide table: a
//! series' labels exist once, and each further partition holding it pays
//! a pointer.
//!
//! The table holds one copy of each set itself; sets no partition holds
//! any more are dropped by a sweep whenever the table has doubled since
//! the last one, so its size stays within twice the live sets.

use crate::model::labels::{Label, Labels, stable_hash_labels};
use hashbrown::HashTable;
use std::sync::{LazyLock, Mutex};

/// Below this many sets the table is never swept.
const MIN_SWEEP: usize = 1024;

#[derive(Debug, Default)]
struct Table {
    sets: HashTable<(u64, Labels)>,
    /// Sets left by the last sweep.
    live: usize,
}

static SHARED: LazyLock<Mutex<Table>> = LazyLock::new(|| Mutex::new(Table::default()));

/// The shared copy of the labels `pairs` (sorted by name), made from them
/// when no open partition holds the same set.
pub(crate) fn share(pairs: &[Label]) -> Labels {
    let hash = stable_hash_labels(pairs);
    let mut t = hourglass_wal::lock::lock(&SHARED);
    let same = |e: &(u64, Labels)| e.0 == hash && e.1.iter().eq(pairs.iter());
    if let Some((_, l)) = t.sets.find(hash, same) {
        return l.clone();
    }
    if t.sets.len() >= (2 * t.live).max(MIN_SWEEP) {
        t.sets.retain(|(_, l)| !l.is_only_copy());
        t.live = t.sets.len();
    }
    let l = Labels::from_sorted_iter(pairs.iter().cloned());
    t.sets.insert_unique(hash, (hash, l.clone()), |e| e.0);
    l
}

/// Sets in the table, live or not yet swept (tests).
#[cfg(test)]
pub(crate) fn len() -> usize {
    hourglass_wal::lock::lock(&SHARED).sets.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pairs(i: usize) -> Vec<Label> {
        let s = |x: String| -> Arc<str> { Arc::from(x) };
        vec![
            Label {
                name: s("__name__".into()),
                value: s(format!("label_sets_test_{i}")),
            },
            Label {
                name: s("job".into()),
                value: s("node".into()),
            },
        ]
    }

    #[test]
    fn equal_sets_share_one_copy_and_unheld_ones_are_swept() {
        let a = share(&pairs(0));
        let b = share(&pairs(0));
        assert!(std::ptr::eq(
            a.iter().next().unwrap(),
            b.iter().next().unwrap()
        ));
        assert_eq!(
            a,
            Labels::from_pairs([("__name__", "label_sets_test_0"), ("job", "node")])
        );
        assert_ne!(share(&pairs(1)), a);
        // Enough sets dropped at once to force sweeps: the table stays
        // within twice what is held (other tests may hold some too).
        for i in 2..4 * MIN_SWEEP {
            drop(share(&pairs(i)));
        }
        assert!(len() <= 2 * MIN_SWEEP + 64, "{}", len());
        let c = share(&pairs(0));
        assert!(std::ptr::eq(
            a.iter().next().unwrap(),
            c.iter().next().unwrap()
        ));
    }
}
