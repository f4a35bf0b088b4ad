//! What each Pushgateway group last pushed, so a later push or a delete
//! can end the series it no longer has with stale markers.
//!
//! Saved to the data directory (see `group_file`) every persist interval
//! and at shutdown, as Pushgateway's `--persistence.file` does; after a
//! crash, changes since the last save are forgotten and the series they
//! would have ended fade after the 5-minute lookback instead.

use super::group_file;
use super::grouping::GroupKey;
use hourglass_storage::Labels;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// Series of one push, by metric family.
pub type Families = HashMap<String, HashSet<Labels>>;

/// How a push replaces what the group had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// PUT: the whole group.
    Group,
    /// POST: only the families present in the push.
    Families,
}

#[derive(Default)]
pub(super) struct Group {
    /// Timestamp of the last write, so pushes in the same millisecond
    /// still get increasing timestamps (the later push wins).
    pub(super) last_t: i64,
    pub(super) families: Families,
}

/// All groups.
#[derive(Default)]
pub struct Groups {
    by_key: Mutex<HashMap<GroupKey, Group>>,
    /// Changed since the last save.
    dirty: AtomicBool,
}

/// What to write for a push or delete: its timestamp and the series to
/// mark stale.
#[derive(Debug)]
pub struct Plan {
    /// Timestamp for every sample and stale marker of this request.
    pub t: i64,
    /// Series the group had and no longer has.
    pub stale: Vec<Labels>,
}

impl Groups {
    /// The groups saved in `path`; none when the file is missing. A damaged
    /// file is set aside (`.corrupt`) and reported, never half-read.
    pub fn load(path: &Path) -> Groups {
        let groups = match std::fs::read(path) {
            Ok(bytes) => match group_file::decode(&bytes) {
                Ok(map) => {
                    tracing::info!(groups = map.len(), file = %path.display(), "pushgateway groups loaded");
                    map
                }
                Err(e) => {
                    let aside = path.with_extension("corrupt");
                    tracing::error!(error = %e, file = %path.display(), kept_as = %aside.display(),
                        "pushgateway groups not loaded; starting without them");
                    if let Err(e) = std::fs::rename(path, &aside) {
                        tracing::error!(error = %e, "cannot set the groups file aside");
                    }
                    HashMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                tracing::error!(error = %e, file = %path.display(), "cannot read pushgateway groups");
                HashMap::new()
            }
        };
        Groups {
            by_key: Mutex::new(groups),
            dirty: AtomicBool::new(false),
        }
    }

    /// Writes the groups to `path` if they changed since the last save.
    pub fn save(&self, path: &Path) -> Result<bool, group_file::GroupFileError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let bytes = {
            let map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
            group_file::encode(&map)
        };
        group_file::write(path, &bytes).inspect_err(|_| {
            // Try again next time.
            self.dirty.store(true, Ordering::Release);
        })?;
        Ok(true)
    }

    /// Records a push to `key` at about `now`; returns the timestamp to use
    /// and the series to end.
    pub fn push(&self, key: &GroupKey, now: i64, mode: Replace, new: Families) -> Plan {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        self.dirty.store(true, Ordering::Release);
        let group = map.entry(key.clone()).or_default();
        let t = now.max(group.last_t.saturating_add(1));
        group.last_t = t;
        let mut stale = Vec::new();
        match mode {
            Replace::Group => {
                for (family, old) in &group.families {
                    let kept = new.get(family);
                    stale.extend(
                        old.iter()
                            .filter(|l| !kept.is_some_and(|k| k.contains(*l)))
                            .cloned(),
                    );
                }
                group.families = new;
            }
            Replace::Families => {
                for (family, series) in new {
                    if let Some(old) = group.families.get(&family) {
                        stale.extend(old.difference(&series).cloned());
                    }
                    group.families.insert(family, series);
                }
            }
        }
        Plan { t, stale }
    }

    /// Empties the group; every series it had is to be ended. Its last
    /// timestamp is kept so a push right after still comes later.
    pub fn delete(&self, key: &GroupKey, now: i64) -> Plan {
        let mut map = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        self.dirty.store(true, Ordering::Release);
        let group = map.entry(key.clone()).or_default();
        let t = now.max(group.last_t.saturating_add(1));
        group.last_t = t;
        let stale = std::mem::take(&mut group.families)
            .into_values()
            .flatten()
            .collect();
        Plan { t, stale }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> GroupKey {
        vec![("job".into(), "j".into())]
    }

    fn fams(items: &[(&str, &[&str])]) -> Families {
        items
            .iter()
            .map(|(f, names)| {
                let set = names
                    .iter()
                    .map(|n| Labels::from_pairs([("__name__", *n)]))
                    .collect();
                (f.to_string(), set)
            })
            .collect()
    }

    fn names(plan: &Plan) -> Vec<String> {
        let mut v: Vec<String> = plan
            .stale
            .iter()
            .filter_map(|l| l.metric_name().map(str::to_string))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn put_post_delete() {
        let g = Groups::default();
        let p = g.push(
            &key(),
            100,
            Replace::Group,
            fams(&[("a", &["a"]), ("b", &["b1", "b2"])]),
        );
        assert_eq!((p.t, names(&p)), (100, vec![]));
        // Same millisecond: the timestamp still moves on.
        let p = g.push(&key(), 100, Replace::Families, fams(&[("b", &["b1"])]));
        assert_eq!((p.t, names(&p)), (101, vec!["b2".to_string()]));
        let p = g.push(&key(), 200, Replace::Group, fams(&[("c", &["c"])]));
        assert_eq!(
            (p.t, names(&p)),
            (200, vec!["a".to_string(), "b1".to_string()])
        );
        let p = g.delete(&key(), 150);
        assert_eq!((p.t, names(&p)), (201, vec!["c".to_string()]));
        let p = g.delete(&key(), 150);
        assert_eq!((p.t, names(&p)), (202, vec![]));
    }
}
