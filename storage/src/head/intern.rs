//! String interning for label names and values, so a million series share
//! one copy of `"__name__"`, `"job"` and their common values.

use crate::model::labels::{Label, Labels};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

/// A sharded set of shared strings. Strings are never evicted while the
/// head lives; series removal leaves them (bounded by label cardinality).
#[derive(Debug)]
pub(crate) struct Interner {
    shards: Box<[Mutex<HashSet<Arc<str>>>]>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            shards: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect(),
        }
    }
}

impl Interner {
    fn shard(&self, s: &str) -> std::sync::MutexGuard<'_, HashSet<Arc<str>>> {
        // Cheap shard choice: length and first/last bytes.
        let b = s.as_bytes();
        let first = usize::from(b.first().copied().unwrap_or(0));
        let last = usize::from(b.last().copied().unwrap_or(0));
        let k = b.len() ^ (first * 7) ^ (last * 13);
        match self.shards[k % SHARDS].lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn intern(&self, s: &Arc<str>) -> Arc<str> {
        let mut set = self.shard(s);
        if let Some(x) = set.get(&**s) {
            return Arc::clone(x);
        }
        set.insert(Arc::clone(s));
        Arc::clone(s)
    }

    /// The shared copy of `s`, made if it is new.
    pub(crate) fn intern_str(&self, s: &str) -> Arc<str> {
        let mut set = self.shard(s);
        if let Some(x) = set.get(s) {
            return Arc::clone(x);
        }
        let x: Arc<str> = Arc::from(s);
        set.insert(Arc::clone(&x));
        x
    }

    /// The same labels, their strings replaced by the shared copies.
    pub(crate) fn labels(&self, l: &Labels) -> Labels {
        Labels::from_sorted(
            l.iter()
                .map(|x| Label {
                    name: self.intern(&x.name),
                    value: self.intern(&x.value),
                })
                .collect(),
        )
    }
}
