//! Moving finished hours out of the head into partitions, and the WAL
//! checkpoint of what stays.
//!
//! An hour is ready once it ended more than the out-of-order window before
//! the newest sample: no acceptable sample can land in it any more, except
//! in-order samples of lagging series, which later go to a further
//! partition for that hour. Steps: `collect_ready` copies the hours'
//! chunks (merging out-of-order samples in, leaving out what `Leave`
//! removes: deleted and expired samples never reach a partition), the
//! caller writes and opens the partitions, then `drop_persisted` removes
//! exactly what was collected from the head.

use super::checkpoint_records::{SeriesEntry, SeriesRecordWriter, TARGET_RECORD_BYTES};
use super::linked_records::RecordWriter;
use super::series::{HeadChunk, MemSeries};
use super::{Head, lock, read, write};
use crate::chunk::{self, Chunk};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::Labels;
use crate::model::refs::PostingId;
use crate::model::sample::Sample;
use crate::partition::{HOUR_MS, PartSeries};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one series contributed to one hour's partition.
#[derive(Debug)]
pub(crate) struct Taken {
    series: Arc<MemSeries>,
    chunks: Vec<Chunk>,
    ooo: Vec<i64>,
    histograms: Vec<i64>,
}

/// Hours ready to persist: hour start → series data to write, and what to
/// drop from the head once written (an hour whose samples `Leave` removed
/// entirely has nothing to write, and still its samples to drop).
pub(crate) type Ready = BTreeMap<i64, (Vec<PartSeries>, Vec<Taken>)>;

/// Removes from one series-hour's samples and histograms what must not
/// reach a partition (deletions, retention); they leave the head anyway.
pub(crate) type Leave<'a> = &'a dyn Fn(&Labels, &mut Vec<Sample>, &mut Vec<(i64, FloatHistogram)>);

fn hour_of(t: i64) -> i64 {
    // Saturating: the hour of the first ms of i64 would be below i64::MIN.
    t.saturating_sub(t.rem_euclid(HOUR_MS))
}

impl Head {
    /// End (exclusive) of the time before which hours are ready.
    /// Read once a second by `serve`'s persister: the newest time only, not
    /// [`Head::stats`] (which counts the postings under their lock).
    pub(crate) fn ready_end(&self) -> Option<i64> {
        let max_t = self.max_t.load(std::sync::atomic::Ordering::Relaxed);
        if max_t == i64::MIN {
            return None;
        }
        let max = self.anchor(max_t);
        Some(hour_of(max.saturating_sub(self.opts.ooo_window_ms)))
    }

    /// Finished hours the head holds that `persist` has not collected.
    pub(crate) fn hours_ready(&self) -> i64 {
        let Some(end) = self.ready_end() else {
            return 0;
        };
        use std::sync::atomic::Ordering::Relaxed;
        let oldest = hour_of(self.min_t.load(Relaxed));
        let from = oldest.max(self.collected_end.load(Relaxed));
        end.saturating_sub(from).max(0) / HOUR_MS
    }

    /// How many samples were appended for hours already collected since
    /// the last call, starting the count afresh.
    pub(crate) fn take_late(&self) -> u64 {
        self.late.swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes that hours ending at or before `end` were collected.
    pub(crate) fn collected(&self, end: i64) {
        self.collected_end
            .store(end, std::sync::atomic::Ordering::Relaxed);
    }

    /// End of the hours the last persist collected: every earlier hour
    /// left the head (late samples aside); `None` before the first.
    pub(crate) fn collected_end(&self) -> Option<i64> {
        let end = self
            .collected_end
            .load(std::sync::atomic::Ordering::Relaxed);
        (end != i64::MIN).then_some(end)
    }

    /// Copies the data of every hour that ends at or before `ready_end`,
    /// less what `leave` removes.
    pub(crate) fn collect_ready(&self, ready_end: i64, leave: Leave<'_>) -> Ready {
        let series: Vec<Arc<MemSeries>> = read(&self.by_id).iter().flatten().cloned().collect();
        let mut out = Ready::new();
        for s in series {
            let mut d = lock(&s.data);
            if let Some(first) = d.open.first_t()
                && hour_of(first).saturating_add(HOUR_MS) <= ready_end
            {
                d.seal_open();
            }
            type Hour = (Vec<HeadChunk>, Vec<Sample>, Vec<(i64, FloatHistogram)>);
            let mut hours: BTreeMap<i64, Hour> = BTreeMap::new();
            for c in d
                .sealed
                .iter()
                .filter(|c| hour_of(c.min_t).saturating_add(HOUR_MS) <= ready_end)
            {
                hours.entry(hour_of(c.min_t)).or_default().0.push(c.clone());
            }
            for (&t, &b) in d.ooo.range(..ready_end) {
                hours
                    .entry(hour_of(t))
                    .or_default()
                    .1
                    .push(Sample::new(t, f64::from_bits(b)));
            }
            for (t, h) in d.histograms_in(i64::MIN, ready_end.saturating_sub(1)) {
                hours.entry(hour_of(t)).or_default().2.push((t, h));
            }
            drop(d);
            let labels = (!hours.is_empty()).then(|| self.labels_of(&s));
            for (hour, (chunks, ooo, mut histograms)) in hours {
                let labels = labels.clone().unwrap_or_default();
                let taken = Taken {
                    series: Arc::clone(&s),
                    chunks: chunks.iter().map(|c| c.chunk.clone()).collect(),
                    ooo: ooo.iter().map(|x| x.t).collect(),
                    histograms: histograms.iter().map(|x| x.0).collect(),
                };
                let mut samples = merge(&chunks, ooo);
                leave(&labels, &mut samples, &mut histograms);
                let e = out.entry(hour).or_default();
                if !samples.is_empty() || !histograms.is_empty() {
                    // One chunk per series-hour on disk, in the cold
                    // encodings: as compaction would write it, so a
                    // stop leaves no hot chunk in a partition.
                    e.0.push(PartSeries {
                        labels,
                        chunks: chunk::encode_cold_runs(&samples),
                        histograms,
                    });
                }
                e.1.push(taken);
            }
        }
        out
    }

    /// Removes what `collect_ready` took, once it is durable elsewhere.
    pub(crate) fn drop_persisted(&self, taken: Vec<Taken>) {
        for t in taken {
            let mut d = lock(&t.series.data);
            d.sealed
                .retain(|c| !t.chunks.iter().any(|x| x.same(&c.chunk)));
            for k in t.ooo {
                d.ooo.remove(&k);
            }
            d.drop_histograms(&t.histograms);
        }
    }

    /// Removes series that hold no samples and whose newest sample is
    /// before `before` (they stopped reporting). Returns how many.
    pub(crate) fn gc(&self, before: i64) -> usize {
        let series: Vec<Arc<MemSeries>> = read(&self.by_id).iter().flatten().cloned().collect();
        let mut removed = 0;
        for s in series {
            {
                let mut d = lock(&s.data);
                if d.deleted || !d.idle_before(before) {
                    continue;
                }
                d.deleted = true;
            }
            self.unlink(&s);
            removed += 1;
        }
        if removed > 0 {
            self.sent.forget();
        }
        removed
    }

    /// Takes a series marked `deleted` out of the maps and postings.
    pub(super) fn unlink(&self, s: &Arc<MemSeries>) {
        let labels = self.labels_of(s);
        let hash = labels.stable_hash();
        if let Ok(e) = write(self.shard(hash))
            .find_entry(super::table_hash(s.table_hash), |x| Arc::ptr_eq(x, s))
        {
            e.remove();
        }
        if let Some(slot) = write(&self.by_id).get_mut(s.id.index()) {
            *slot = None;
        }
        write(&self.postings).remove(s.id, &labels);
        self.release_series(s.owner);
    }

    /// WAL checkpoint records standing for everything still in the head,
    /// handed to `sink`: every live series (even one whose samples all
    /// moved to partitions, as later records name it by ref only) with its
    /// chunks as they are (the open one sealed as a copy), its
    /// out-of-order samples and its newest sample, 256 series (at most a
    /// few MiB) per record; then the histogram samples as batch records
    /// naming the series by ref. With `cold` (the checkpoint of a graceful
    /// stop) each series-hour is re-encoded as one chunk in the cold
    /// encodings, as a persisted hour would be, and replay adopts those.
    ///
    /// The series records are built by `workers` threads at once, in no
    /// particular order (the re-encoding is most of a stop's time); at most
    /// two records a worker wait for `sink`, and a `sink` that stops early
    /// stops the workers.
    pub(crate) fn with_checkpoint_records<R>(
        &self,
        cold: bool,
        workers: usize,
        sink: impl FnOnce(&mut dyn Iterator<Item = Vec<u8>>) -> R,
    ) -> R {
        let series: Vec<Arc<MemSeries>> = read(&self.by_id).iter().flatten().cloned().collect();
        let workers = workers.clamp(1, 16);
        std::thread::scope(|sc| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2 * workers);
            for part in series.chunks(series.len().div_ceil(workers).max(1)) {
                let tx = tx.clone();
                sc.spawn(move || {
                    let mut w = SeriesRecordWriter::default();
                    for s in part {
                        w.add(&series_entry(s, self.labels_of(s), cold));
                        if w.full() && tx.send(w.take()).is_err() {
                            return;
                        }
                    }
                    if !w.is_empty() {
                        let _ = tx.send(w.take());
                    }
                });
            }
            drop(tx);
            let mut records = rx.into_iter().chain(self.histogram_records(&series));
            sink(&mut records)
        })
    }

    /// The histogram samples of `series` as batch records (after every
    /// series record, which define the refs they name).
    fn histogram_records<'a>(
        &'a self,
        series: &'a [Arc<MemSeries>],
    ) -> impl Iterator<Item = Vec<u8>> + 'a {
        let mut hs = series.iter().filter(|s| lock(&s.data).ooo.hist().is_some());
        std::iter::from_fn(move || {
            let mut rec = RecordWriter::default();
            let mut bytes = 0usize;
            for s in hs.by_ref() {
                let h = lock(&s.data).histograms_in(i64::MIN, i64::MAX);
                bytes += h
                    .iter()
                    .map(|(_, h)| 64 + 8 * h.num_buckets())
                    .sum::<usize>();
                rec.histogram_group(s.id, &h);
                if bytes >= TARGET_RECORD_BYTES {
                    break;
                }
            }
            (!rec.is_empty()).then(|| rec.finish())
        })
    }
}

/// A series' checkpoint entry, copied under its lock; with `cold`, its
/// chunks re-encoded hour by hour after the lock is released.
fn series_entry(s: &MemSeries, labels: Labels, cold: bool) -> SeriesEntry {
    let d = lock(&s.data);
    let mut chunks: Vec<HeadChunk> = d.sealed.iter().cloned().collect();
    if let (Some(min_t), Some(max_t)) = (d.open.first_t(), d.open.last_t()) {
        chunks.push(HeadChunk {
            min_t,
            max_t,
            chunk: chunk::seal(&d.open),
        });
    }
    let ooo = d.ooo.iter().map(|(&t, &b)| (t, b)).collect();
    let newest = d.newest();
    drop(d);
    if cold {
        chunks = cold_hours(chunks);
    }
    SeriesEntry {
        id: s.id,
        labels,
        newest,
        chunks,
        ooo,
    }
}

/// The same samples as `chunks` (sorted, disjoint), those of chunks
/// starting in one hour as one run in the cold encodings; `chunks` as they
/// are if one does not decode.
fn cold_hours(chunks: Vec<HeadChunk>) -> Vec<HeadChunk> {
    let mut out = Vec::with_capacity(chunks.len().div_ceil(30));
    let mut samples = Vec::new();
    // One encoder for the series: a grid that won its first hour clearly
    // spares the later hours the XOR trial.
    let mut cold = chunk::ColdEncoder::default();
    let mut i = 0;
    while let Some(first) = chunks.get(i) {
        let hour = hour_of(first.min_t);
        samples.clear();
        while let Some(c) = chunks.get(i).filter(|c| hour_of(c.min_t) == hour) {
            if c.chunk.view().decode_into(&mut samples).is_err() {
                return chunks;
            }
            i += 1;
        }
        out.extend(
            chunk::encode_cold_runs_with(&mut cold, &samples)
                .into_iter()
                .map(|(min_t, max_t, c)| HeadChunk {
                    min_t,
                    max_t,
                    chunk: Arc::unwrap_or_clone(c),
                }),
        );
    }
    out
}

/// Merges an hour's in-order chunks with its out-of-order samples, sorted
/// and de-duplicated.
fn merge(chunks: &[HeadChunk], ooo: Vec<Sample>) -> Vec<Sample> {
    let mut all: Vec<Sample> = chunks.iter().flat_map(|c| c.chunk.iter()).collect();
    all.extend(ooo);
    all.sort_by_key(|s| s.t);
    all.dedup_by_key(|s| s.t);
    all
}
