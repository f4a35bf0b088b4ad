//! What each Pushgateway group last pushed, so a later push or a delete
//! can end the series it no longer has with stale markers.
//!
//! Saved to the data directory (see `group_file`) every persist interval
//! and at shutdown, as Pushgateway's `--persistence.file` does; after a
//! crash, changes since the last save are forgotten and the series they
//! would have ended fade after the 5-minute lookback instead.

use super::group::{Families, Group};
use super::group_file;
use super::grouping::GroupKey;
use hourglass_storage::Labels;
use hourglass_wal::lock::lock;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a push replaces what the group had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// PUT: the whole group.
    Group,
    /// POST: only the families present in the push.
    Families,
}

/// All groups.
#[derive(Default)]
pub struct Groups {
    by_key: Mutex<HashMap<GroupKey, Group>>,
    /// Held from planning a change to committing it.
    writer: Mutex<()>,
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
            writer: Mutex::new(()),
            dirty: AtomicBool::new(false),
        }
    }

    /// Writes the groups to `path` if they changed since the last save.
    pub fn save(&self, path: &Path) -> Result<bool, group_file::GroupFileError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        let bytes = {
            let map = lock(&self.by_key);
            group_file::encode(&map)
        };
        group_file::write(path, &bytes).inspect_err(|_| {
            // Try again next time.
            self.dirty.store(true, Ordering::Release);
        })?;
        Ok(true)
    }

    /// Plans `change` to `key` at about `now`, lets `store` write the
    /// plan, and only when it succeeds commits the group's new series, so a
    /// refused push or delete leaves the group as it was. Changes run one
    /// at a time, as the Pushgateway queues its writes, so a plan never
    /// goes stale before it is committed. The timestamp moves on either
    /// way: a later push never reuses one that may hold stored samples.
    pub fn apply<R, E>(
        &self,
        key: &GroupKey,
        now: i64,
        change: Change,
        store: impl FnOnce(&Plan) -> Result<R, E>,
    ) -> Result<R, E> {
        let _one_at_a_time = lock(&self.writer);
        let (plan, next) = {
            let map = lock(&self.by_key);
            let group = map.get(key);
            let last_t = group.map_or(i64::MIN, |g| g.last_t);
            let t = now.max(last_t.saturating_add(1));
            let old = group.map(|g| &g.families);
            let (stale, next) = plan_change(old, change);
            (Plan { t, stale }, next)
        };
        let outcome = store(&plan);
        let mut map = lock(&self.by_key);
        self.dirty.store(true, Ordering::Release);
        let group = map.entry(key.clone()).or_default();
        group.last_t = plan.t;
        if outcome.is_ok() {
            group.families = next;
        }
        outcome
    }
}

/// A push or a delete.
#[derive(Debug)]
pub enum Change {
    /// A push's series, replacing the group (PUT) or its families (POST).
    Push(Replace, Families),
    /// DELETE: the group ends.
    Delete,
}

/// The series `change` ends, and the group's families after it.
fn plan_change(old: Option<&Families>, change: Change) -> (Vec<Labels>, Families) {
    let empty = Families::new();
    let old = old.unwrap_or(&empty);
    let mut stale = Vec::new();
    let next = match change {
        Change::Delete => {
            stale.extend(old.values().flatten().cloned());
            Families::new()
        }
        Change::Push(Replace::Group, new) => {
            for (family, series) in old {
                let kept = new.get(family);
                stale.extend(
                    series
                        .iter()
                        .filter(|l| !kept.is_some_and(|k| k.contains(*l)))
                        .cloned(),
                );
            }
            new
        }
        Change::Push(Replace::Families, new) => {
            let mut next = old.clone();
            for (family, series) in new {
                if let Some(was) = old.get(&family) {
                    stale.extend(was.difference(&series).cloned());
                }
                next.insert(family, series);
            }
            next
        }
    };
    (stale, next)
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

    /// Applies `change`, stored or refused as `ok` says; the plan's
    /// timestamp and ended series.
    fn apply(g: &Groups, now: i64, change: Change, ok: bool) -> (i64, Vec<String>) {
        let outcome = g.apply(&key(), now, change, |plan| {
            let seen = (plan.t, names(plan));
            if ok { Ok(seen) } else { Err(seen) }
        });
        outcome.unwrap_or_else(|seen| seen)
    }

    fn push(mode: Replace, items: &[(&str, &[&str])]) -> Change {
        Change::Push(mode, fams(items))
    }

    #[test]
    fn put_post_delete() {
        let g = Groups::default();
        let p = apply(
            &g,
            100,
            push(Replace::Group, &[("a", &["a"]), ("b", &["b1", "b2"])]),
            true,
        );
        assert_eq!(p, (100, vec![]));
        // Same millisecond: the timestamp still moves on.
        let p = apply(&g, 100, push(Replace::Families, &[("b", &["b1"])]), true);
        assert_eq!(p, (101, vec!["b2".to_string()]));
        let p = apply(&g, 200, push(Replace::Group, &[("c", &["c"])]), true);
        assert_eq!(p, (200, vec!["a".to_string(), "b1".to_string()]));
        let p = apply(&g, 150, Change::Delete, true);
        assert_eq!(p, (201, vec!["c".to_string()]));
        let p = apply(&g, 150, Change::Delete, true);
        assert_eq!(p, (202, vec![]));
    }

    #[test]
    fn refused_changes_leave_the_group() {
        let g = Groups::default();
        apply(&g, 100, push(Replace::Group, &[("a", &["a"])]), true);
        let p = apply(&g, 100, push(Replace::Group, &[("x", &["x"])]), false);
        assert_eq!(p, (101, vec!["a".to_string()]));
        let p = apply(&g, 100, Change::Delete, false);
        assert_eq!(p, (102, vec!["a".to_string()]));
        // The group still has `a`, not `x`.
        let p = apply(&g, 100, push(Replace::Group, &[]), true);
        assert_eq!(p, (103, vec!["a".to_string()]));
    }
}
