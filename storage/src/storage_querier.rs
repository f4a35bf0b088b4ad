//! The querier over the head and every open partition.

use crate::chunk_handle::ChunkMeta;
use crate::downsample::ReadAs;
use crate::downsample_read;
use crate::error::StorageError;
use crate::expiry::Expiry;
use crate::head::{Head, Snapshot, head_series};
use crate::histogram_iter::{HistPiece, HistogramIter};
use crate::model::labels::Labels;
use crate::model::matcher::Matcher;
use crate::model::sample::Sample;
use crate::partition::Partition;
use crate::querier::{Querier, Series, SeriesSet};
use crate::sample_iter::SampleIter;
use crate::start_times;
use hourglass_wal::lock::read as read_lock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// Selects retried when the partition list changed under them before
/// falling back to reading the head first (see [`StorageQuerier::select_as`]).
const SELECT_ATTEMPTS: usize = 4;

/// A [`Querier`] over head + partitions for `[mint, maxt]`. The partition
/// list is read at each call, so a querier held across a persist sees the
/// hour it moved out of the head.
#[derive(Debug)]
pub struct StorageQuerier<'a> {
    pub(crate) head: &'a Head,
    pub(crate) parts: &'a RwLock<Vec<Arc<Partition>>>,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    /// Deleted and expired samples, hidden from every result.
    pub(crate) gone: Expiry,
}

/// Drops the deleted and expired samples (and series left empty) from
/// `set`.
fn hide(set: SeriesSet, gone: &Expiry, mint: i64, maxt: i64) -> Result<SeriesSet, StorageError> {
    let res = set.downsampled_resolution();
    let mut out = Vec::with_capacity(set.len());
    for s in set {
        if !gone.touches(&s.labels, mint) {
            out.push(s);
            continue;
        }
        let mut it = s.samples;
        let mut v: Vec<Sample> = it.by_ref().collect();
        if let Some(e) = it.error() {
            return Err(StorageError::Chunk {
                series: s.labels.to_string(),
                source: e.clone(),
            });
        }
        let mut h = s
            .histograms
            .into_vec()
            .map_err(|source| StorageError::Chunk {
                series: s.labels.to_string(),
                source,
            })?;
        gone.apply(&s.labels, &mut v, &mut h);
        if !v.is_empty() || !h.is_empty() {
            out.push(Series {
                labels: s.labels,
                samples: SampleIter::new(Vec::new(), v, mint, maxt),
                histograms: HistogramIter::from_sorted(h),
                start_times: s.start_times,
            });
        }
    }
    Ok(SeriesSet::new(out).with_resolution(res))
}

/// Whether two partition lists are the same partitions in the same order.
fn same_parts(a: &[Arc<Partition>], b: &[Arc<Partition>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

impl StorageQuerier<'_> {
    fn parts_now(&self) -> Vec<Arc<Partition>> {
        read_lock(self.parts).clone()
    }

    /// Every stored sample in `parts` and the head (read now, unless
    /// `head` was read before `parts`), deletions not yet hidden.
    fn select_all(
        &self,
        parts: &[Arc<Partition>],
        head: Option<Vec<(Labels, Snapshot)>>,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        read: ReadAs,
    ) -> Result<SeriesSet, StorageError> {
        let (mint, maxt) = (mint.max(self.mint), maxt.min(self.maxt));
        if mint > maxt {
            return Ok(SeriesSet::default());
        }
        let from_parts: Vec<_> = parts
            .iter()
            .map(|p| p.select(matchers, mint, maxt))
            .collect();
        let (mut ds, res) = downsample_read::select(parts, matchers, mint, maxt, read)?;
        let mut hist_parts = Vec::new();
        for p in parts {
            let h = p
                .select_histograms(matchers, mint, maxt)
                .map_err(|(labels, source)| StorageError::Chunk {
                    series: labels.to_string(),
                    source,
                })?;
            hist_parts.push(h);
        }
        if from_parts.iter().all(Vec::is_empty)
            && hist_parts.iter().all(Vec::is_empty)
            && ds.is_empty()
        {
            // Head only: its series are distinct, nothing to merge.
            let Some(head) = head else {
                return self
                    .head
                    .querier(mint, maxt)
                    .select_as(matchers, mint, maxt, read);
            };
            let set = head_series(head, mint, maxt);
            if read == ReadAs::Count {
                return crate::querier::counted(set, mint, maxt);
            }
            return Ok(set);
        }
        type Runs = (Vec<Vec<ChunkMeta>>, Vec<Sample>, Vec<Vec<HistPiece>>);
        let mut by: BTreeMap<Labels, Runs> = BTreeMap::new();
        // Partitions first: on a timestamp present in several sources the
        // first wins, and persisted data is final.
        for part in from_parts {
            for (labels, chunks) in part {
                by.entry(labels).or_default().0.push(chunks);
            }
        }
        for (labels, v) in std::mem::take(&mut ds) {
            by.entry(labels).or_default().1 = v;
        }
        for part in hist_parts {
            for (labels, h) in part {
                by.entry(labels).or_default().2.push(h);
            }
        }
        let head = head.unwrap_or_else(|| self.head.select_raw(matchers, mint, maxt));
        for (labels, snap) in head {
            let mut ooo = snap.ooo;
            if read == ReadAs::Count {
                ooo.retain(|s| !crate::model::sample::is_stale_nan(s.v));
                ooo.iter_mut().for_each(|s| s.v = 1.0);
            }
            let e = by.entry(labels).or_default();
            e.0.push(snap.chunks);
            if e.1.is_empty() {
                e.1 = ooo;
            } else {
                // Downsampled samples first: they win a shared time.
                e.1.extend(ooo);
                e.1.sort_by_key(|s| s.t);
                e.1.dedup_by_key(|s| s.t);
            }
            if !snap.histograms.is_empty() {
                e.2.extend(snap.histograms.into_sources());
            }
        }
        let mut out = Vec::with_capacity(by.len());
        for (labels, (runs, mut ooo, hists)) in by {
            let samples = if read == ReadAs::Count && !runs.is_empty() {
                // Raw chunks as ones, beside the intervals' counts.
                let mut v =
                    crate::querier::ones(SampleIter::new(runs, Vec::new(), mint, maxt), &labels)?;
                v.append(&mut ooo);
                v.sort_by_key(|s| s.t);
                v.dedup_by_key(|s| s.t);
                SampleIter::new(Vec::new(), v, mint, maxt)
            } else {
                SampleIter::new(runs, ooo, mint, maxt)
            };
            let histograms = HistogramIter::merge_lazy(hists);
            out.extend(Series::non_empty(labels, samples, histograms));
        }
        Ok(SeriesSet::new(out).with_resolution(res))
    }
}

impl Querier for StorageQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<SeriesSet, StorageError> {
        self.select_as(matchers, mint, maxt, ReadAs::Last)
    }

    /// Every stored sample, deletions hidden. A persist pushes an hour's
    /// partition before dropping the hour from the head, so a read that
    /// read the head after the drop sees the list changed since `parts`
    /// was read and is asked again; one that reads the head first and the
    /// list after it cannot miss the hour (a sample in both is merged
    /// once).
    fn select_as(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        read: ReadAs,
    ) -> Result<SeriesSet, StorageError> {
        let set = 'consistent: {
            for _ in 1..SELECT_ATTEMPTS {
                let parts = self.parts_now();
                let set = self.select_all(&parts, None, matchers, mint, maxt, read)?;
                if same_parts(&parts, &read_lock(self.parts)) {
                    break 'consistent set;
                }
            }
            let head = self.head.select_raw(matchers, mint, maxt);
            let parts = self.parts_now();
            self.select_all(&parts, Some(head), matchers, mint, maxt, read)?
        };
        let set = if self.gone.is_empty() {
            set
        } else {
            hide(set, &self.gone, mint, maxt)?
        };
        if !self.may_hold_companions() {
            return Ok(set);
        }
        // Read as counts, a companion's samples are no start timestamps.
        start_times::attach(set, read != ReadAs::Count)
    }
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut all: BTreeSet<String> = self
            .head
            .querier(self.mint, self.maxt)
            .label_names(matchers)?
            .into_iter()
            .collect();
        for p in self.overlapping() {
            let pp = p.postings();
            let names = if matchers.is_empty() {
                pp.label_names(None)
            } else {
                pp.label_names(Some(&pp.select(matchers)))
            };
            all.extend(names);
        }
        Ok(start_times::hide_name(all.into_iter().collect()))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        if name == start_times::START_TIME_LABEL {
            return Ok(Vec::new());
        }
        let mut all: BTreeSet<String> = self
            .head
            .querier(self.mint, self.maxt)
            .label_values(name, matchers)?
            .into_iter()
            .collect();
        for p in self.overlapping() {
            let pp = p.postings();
            let values = if matchers.is_empty() {
                pp.label_values(name, None)
            } else {
                pp.label_values(name, Some(&pp.select(matchers)))
            };
            all.extend(values);
        }
        Ok(all.into_iter().collect())
    }
}

impl StorageQuerier<'_> {
    /// Whether the head or a partition of the range holds a start-timestamp
    /// companion (an index lookup each): most stores hold none, and their
    /// selections skip looking for them series by series.
    fn may_hold_companions(&self) -> bool {
        self.head.has_label_name(start_times::START_TIME_LABEL)
            || self
                .overlapping()
                .iter()
                .any(|p| p.postings().has_name(start_times::START_TIME_LABEL))
    }

    /// The partitions overlapping the querier's range, read after the
    /// head's labels (so an hour persisted meanwhile is seen in one of them).
    fn overlapping(&self) -> Vec<Arc<Partition>> {
        let (mint, maxt) = (self.mint, self.maxt);
        let mut parts = self.parts_now();
        parts.retain(|p| p.meta().max_t >= mint && p.meta().min_t <= maxt);
        parts
    }
}
