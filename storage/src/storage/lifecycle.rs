//! What leaves the store: retention by age, size and selector, deletions
//! (tombstones) and the compaction that applies them to partitions.

use super::Storage;
use crate::compact::{self, CompactOptions, CompactStats, Progress, RewriteStep};
use crate::downsample::{DownsampleRule, Downsampling};
use crate::error::StorageError;
use crate::expiry::Expiry;
use crate::model::matcher::Matcher;
use crate::partition::Partition;
use crate::querier::Querier;
use crate::retention::{self, RetentionStats};
use crate::retention_rules::{RetentionRule, RuleRetention, partition_age_limit};
use crate::tombstones::{self, Deletions, MAX_TOMBSTONES, Tombstone};
use hourglass_wal::lock::{read, write};
use std::collections::BTreeSet;
use std::sync::Arc;

impl Storage {
    /// Applies retention by age (measured back from the newest sample
    /// stored, capped at the wall clock: [`Storage::store_now`]) and by
    /// size to the partitions. `persist` calls it after each run.
    pub fn retain(&self) -> Result<RetentionStats, StorageError> {
        let _one = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        self.retain_locked()
    }

    /// What has left the store now: hidden from queries (retention rules
    /// and deletions; `with_fallback` adds the global retention, which
    /// queries leave to whole-partition drops), left out of partitions by
    /// a persist (all of it).
    pub(crate) fn expiry(&self, with_fallback: bool) -> Expiry {
        Expiry {
            tombstones: self.tombstones(),
            rules: self.retention_rules(),
            fallback_ms: self.retention_ms.filter(|_| with_fallback),
            now: self.store_now().unwrap_or(i64::MIN),
        }
    }

    /// The store's "now" for retention, downsampling and day merges: the
    /// newest sample stored, capped at the wall clock plus the future
    /// grace; `None` while nothing is stored (nothing expires)
    /// ([`crate::head::Head::store_now`]).
    pub fn store_now(&self) -> Option<i64> {
        self.head.store_now()
    }

    /// Compacts the partitions (see [`crate::compact`]): merges each
    /// hour's partitions, the hours of each four-hour block and old days
    /// (once every hour of them left the head) into block and day
    /// partitions, and applies the rewrite steps; calls
    /// `progress` after each group. Runs between persist rounds, never
    /// beside one; [`Storage::interrupt_compaction`] ends it early.
    pub fn compact(
        &self,
        opts: &CompactOptions,
        progress: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<CompactStats, StorageError> {
        let _one = self.persisting.lock().unwrap_or_else(|p| p.into_inner());
        let parts_dir = self.dir.join("parts");
        compact::recover(&*self.fs, &parts_dir)?;
        let parts = self.partitions();
        let now = self.store_now();
        let tombstones = self.tombstones();
        let deletions = Deletions(&tombstones);
        let rule_list = self.retention_rules();
        let rules = RuleRetention {
            rules: &rule_list,
            fallback_ms: self.retention_ms,
            now: now.unwrap_or(i64::MIN),
        };
        let ds_list = self.downsample_rules();
        let downsampling = Downsampling {
            rules: &ds_list,
            newest: now.unwrap_or(i64::MIN),
        };
        let mut steps: Vec<&dyn RewriteStep> = Vec::new();
        if !tombstones.is_empty() {
            steps.push(&deletions);
        }
        if !rule_list.is_empty() && now.is_some() {
            steps.push(&rules);
        }
        if !ds_list.is_empty() && now.is_some() {
            steps.push(&downsampling);
        }
        let touched = |p: &Partition| steps.iter().any(|s| s.touches(p));
        let cutoffs = compact::cutoffs(now, opts.day_after_ms, self.head.collected_end());
        let groups = compact::plan(&parts, cutoffs, &touched);
        let mut total = CompactStats::default();
        for (i, g) in groups.iter().enumerate() {
            let stop = &self.stopping;
            let (out, stats) = match compact::compact_group(
                &*self.fs,
                &parts_dir,
                g,
                &steps,
                &self.source_label,
                stop,
            ) {
                Err(StorageError::Interrupted) => {
                    total.interrupted = true;
                    return Ok(total);
                }
                r => r?,
            };
            {
                let mut w = self.parts.write().unwrap_or_else(|p| p.into_inner());
                w.retain(|p| !g.inputs.iter().any(|x| Arc::ptr_eq(x, p)));
                w.extend(out);
                w.sort_by(|a, b| {
                    (a.meta().hour_start_ms, a.dir()).cmp(&(b.meta().hour_start_ms, b.dir()))
                });
            }
            total.add(&stats);
            progress(&Progress {
                done: i + 1,
                total: groups.len(),
                so_far: &total,
            });
        }
        self.retire_tombstones()?;
        Ok(total)
    }

    /// The retention rules in force.
    pub fn retention_rules(&self) -> Arc<Vec<RetentionRule>> {
        self.head.retention_rules()
    }

    /// Replaces the retention rules: the next compaction applies them,
    /// appends refuse at once what they would remove.
    pub fn set_retention_rules(&self, rules: Vec<RetentionRule>) {
        self.head.set_retention_rules(rules);
    }

    /// The downsampling tiers in force.
    pub fn downsample_rules(&self) -> Arc<Vec<DownsampleRule>> {
        Arc::clone(&read(&self.downsample_rules))
    }

    /// Replaces the downsampling tiers (checked with
    /// [`crate::downsample::check_rules`]; the next compaction applies
    /// them).
    pub fn set_downsample_rules(&self, rules: Vec<DownsampleRule>) {
        *write(&self.downsample_rules) = Arc::new(rules);
    }

    /// The deletions in force.
    pub fn tombstones(&self) -> Arc<Vec<Tombstone>> {
        Arc::clone(&read(&self.tombstones))
    }

    /// Deletes the samples in `[start, end]` of the series each selector
    /// picks: hidden from queries when this returns (the tombstones file
    /// is durable), removed from disk by the next compaction. Returns how
    /// many series hold samples in that range now.
    pub fn delete_series(
        &self,
        selectors: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<usize, StorageError> {
        let mut series = BTreeSet::new();
        {
            let q = self.querier(start, end);
            for m in selectors {
                for s in q.select(m, start, end)? {
                    series.insert(s.labels);
                }
            }
        }
        let mut guard = self.tombstones.write().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<Tombstone> = guard.as_ref().clone();
        if list.len() + selectors.len() > MAX_TOMBSTONES {
            return Err(StorageError::TooManyTombstones {
                max: MAX_TOMBSTONES,
            });
        }
        list.extend(selectors.iter().map(|m| Tombstone {
            matchers: m.clone(),
            start,
            end,
        }));
        tombstones::save(&*self.fs, &self.dir, &list)?;
        tracing::info!(
            selectors = selectors.len(),
            start,
            end,
            series = series.len(),
            "series deleted"
        );
        *guard = Arc::new(list);
        Ok(series.len())
    }

    /// Drops tombstones that cover nothing stored any more.
    fn retire_tombstones(&self) -> Result<(), StorageError> {
        let mut guard = self.tombstones.write().unwrap_or_else(|p| p.into_inner());
        if guard.is_empty() {
            return Ok(());
        }
        let parts = self.partitions();
        let head = self.head.querier(i64::MIN, i64::MAX);
        let mut keep = Vec::with_capacity(guard.len());
        for t in guard.iter() {
            let in_parts = parts
                .iter()
                .any(|p| !p.select(&t.matchers, t.start, t.end).is_empty());
            let in_head = head.select(&t.matchers, t.start, t.end)?.next().is_some();
            if in_parts || in_head {
                keep.push(t.clone());
            }
        }
        if keep.len() != guard.len() {
            tombstones::save(&*self.fs, &self.dir, &keep)?;
            tracing::info!(
                retired = guard.len() - keep.len(),
                left = keep.len(),
                "tombstones applied"
            );
            *guard = Arc::new(keep);
        }
        Ok(())
    }

    fn retain_locked(&self) -> Result<RetentionStats, StorageError> {
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        let (keep, dropped, stats) = retention::plan(
            std::mem::take(&mut *parts),
            self.store_now(),
            partition_age_limit(&self.retention_rules(), self.retention_ms),
            self.retention_bytes,
        );
        *parts = keep;
        drop(parts);
        for p in dropped {
            tracing::info!(partition = %p.dir().display(), "partition dropped by retention");
            retention::delete(&*self.fs, &p).map_err(|source| StorageError::Io {
                path: p.dir().to_path_buf(),
                source,
            })?;
        }
        Ok(stats)
    }
}
