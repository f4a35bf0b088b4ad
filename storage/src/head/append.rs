//! Appending a batch: validation, acceptance per sample, one WAL record.
//!
//! Order of work: samples are applied to memory under each series' lock,
//! then the accepted ones are written as one WAL record, and the call
//! returns once that record is durable (per the WAL's sync policy). So an
//! acknowledged sample is always in the log; readers may briefly see
//! samples whose record is still being synced. If the WAL refuses the
//! record, its samples are taken back out (`rollback.rs`).
//!
//! Because records of concurrent batches may reach the log in another
//! order than their samples reached memory, replay re-applies samples
//! without the out-of-order window (they were accepted once already).

pub use super::append_stats::{AppendStats, MAX_REPORTED_ERRORS, Rejected};
use super::linked_records::RecordWriter;
use super::series::{MemSeries, Outcome, Rules, SeriesData};
use super::series_key::{SeriesKey, SortedPairs, Stored};
use super::series_limits::{SeriesQuota, SeriesRefusal};
use super::{Admit, Head, lock};
use crate::error::StorageError;
use crate::model::batch::{SentKey, SeriesRef};
use crate::model::histogram::FloatHistogram;
use crate::model::labels::{START_TIME_LABEL, sort_pairs};
use crate::model::sample::Sample;
use hourglass_wal::Wal;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One `append` call's running state.
pub(crate) struct Appending<'w> {
    rules: Rules,
    /// Retention's floor per series (`age_limit.rs`).
    age: super::age_limit::AgeLimit,
    writer: Option<&'w Arc<SeriesQuota>>,
    stats: AppendStats,
    rec: Option<RecordWriter>,
    new_defs: Vec<Arc<MemSeries>>,
    accepted: Vec<Sample>,
    /// The current series' newest in-order sample before `accepted`.
    base: Option<(i64, u64)>,
    /// Samples older than `collected_end` (hours persist collected).
    late: u64,
    collected_end: i64,
    accepted_h: Vec<(i64, FloatHistogram)>,
    batch_max: i64,
    batch_min: i64,
    /// What was stored, per series, while the tap wants it.
    tapped: Option<crate::tap::Stored>,
    /// The batch holds start-timestamp companions (`start_times.rs`),
    /// which carry the reserved label writers may not use.
    companions: bool,
}

impl Appending<'_> {
    /// Start-timestamp companions: they may carry the reserved label and
    /// are not tapped.
    pub(super) fn for_companions(&mut self) {
        (self.companions, self.tapped) = (true, None);
    }
}

impl Head {
    /// The state of one batch's append; `newest` is the batch's newest
    /// sample time the future bound allows (`i64::MIN`: none).
    pub(super) fn appending<'w>(
        &self,
        logged: bool,
        samples: usize,
        writer: Option<&'w Arc<SeriesQuota>>,
        newest: i64,
    ) -> Appending<'w> {
        Appending {
            writer,
            age: self.age_limit(newest),
            rules: Rules {
                cut: self.opts.cut,
                ooo_window_ms: self.opts.ooo_window_ms,
                // Per series, from `age`.
                min_valid_t: i64::MIN,
                max_valid_t: self.max_valid_t(),
                replay: false,
            },
            stats: AppendStats::default(),
            rec: logged.then(|| RecordWriter::with_capacity(samples)),
            new_defs: Vec::new(),
            accepted: Vec::new(),
            base: None,
            late: 0,
            collected_end: self.collected_end.load(Ordering::Relaxed),
            accepted_h: Vec::new(),
            batch_max: i64::MIN,
            batch_min: i64::MAX,
            tapped: crate::tap::wanted().then(|| crate::tap::Stored::with_capacity(samples)),
            companions: false,
        }
    }

    /// Appends one series' samples; `starts` (empty, or one per sample)
    /// are remote write 2.0 start timestamps. `known` is the series when
    /// the caller kept it from an earlier append (its labels are `key`'s);
    /// returns the series used when it is not `known`.
    pub(super) fn append_series(
        &self,
        a: &mut Appending<'_>,
        key: impl SeriesKey,
        samples: &[Sample],
        starts: &[i64],
        known: Option<&Arc<MemSeries>>,
    ) -> Option<Arc<MemSeries>> {
        self.append_payload(a, key, Payload::Floats(samples, starts), known)
    }

    /// Appends the float samples of a series its writer keyed: `known` if
    /// the key found it, else by its labels (`sorted`: scratch room), then
    /// filed under the key unless series were removed since `generation`.
    pub(super) fn append_sent<'s>(
        &self,
        a: &mut Appending<'_>,
        key: SentKey,
        ss: &SeriesRef<'s>,
        known: Option<&Arc<MemSeries>>,
        generation: u64,
        sorted: &mut Vec<(&'s str, &'s str)>,
    ) {
        let used = match known {
            Some(s) => {
                let stored = Stored(&self.interner, &s.labels);
                self.append_series(a, stored, ss.samples, ss.start_timestamps, Some(s))
            }
            None => {
                sort_pairs(ss.labels, sorted);
                let pairs = SortedPairs(sorted);
                self.append_series(a, pairs, ss.samples, ss.start_timestamps, None)
            }
        };
        if let Some(s) = used {
            self.sent.insert(key, &s, generation);
        }
    }

    /// Appends one series' native histogram samples; `starts` as for
    /// [`Head::append_series`].
    pub(super) fn append_histogram_series(
        &self,
        a: &mut Appending<'_>,
        key: impl SeriesKey,
        histograms: &[(i64, FloatHistogram)],
        starts: &[i64],
    ) {
        self.append_payload(a, key, Payload::Histograms(histograms, starts), None);
    }

    fn append_payload(
        &self,
        a: &mut Appending<'_>,
        key: impl SeriesKey,
        payload: Payload<'_>,
        known: Option<&Arc<MemSeries>>,
    ) -> Option<Arc<MemSeries>> {
        let n = payload.len();
        if n == 0 {
            return None;
        }
        // Labels equal to a stored series' were validated when it was
        // created; only new series need checking.
        // Borrowed: an append by handle or key costs no reference count.
        let found = match known {
            Some(s) => Some(Cow::Borrowed(s)),
            None => self
                .get_by(key.hash(), |l| key.matches(&self.interner, l))
                .map(Cow::Owned),
        };
        let mut series = match found {
            Some(s) => s,
            None => {
                // A series none of whose samples could be stored is not
                // created (nor charged to any quota).
                let labels = key.to_labels();
                let rules = Rules {
                    min_valid_t: a.age.floor_of(&labels),
                    ..a.rules
                };
                let refusals: Vec<Outcome> = (0..n)
                    .map_while(|i| rules.refuse_time(payload.time(i)))
                    .collect();
                if refusals.len() == n {
                    for o in refusals {
                        a.stats.rejected.add(o);
                    }
                    return None;
                }
                let own = a.companions.then(|| labels.without(START_TIME_LABEL));
                if let Err(e) = own.as_ref().unwrap_or(&labels).validate(&self.opts.limits) {
                    a.stats.rejected.invalid_series += n as u64;
                    if a.stats.invalid_series.len() < MAX_REPORTED_ERRORS {
                        a.stats.invalid_series.push(e);
                    }
                    return None;
                }
                match self.create(key.hash(), &labels, None, Admit::Writer(a.writer)) {
                    Ok(s) => Cow::Owned(s),
                    Err(e) => {
                        refuse_series(a, e, n);
                        return None;
                    }
                }
            }
        };
        a.accepted.clear();
        a.accepted_h.clear();
        let rules = Rules {
            min_valid_t: a.age.floor(|| self.labels_of(&series)),
            ..a.rules
        };
        {
            let mut data = lock(&series.data);
            // Collected between lookup and lock: start it afresh.
            while data.deleted {
                drop(data);
                std::thread::yield_now();
                series = match self.get_or_create(&key.to_labels(), None, Admit::Writer(a.writer)) {
                    Ok(s) => Cow::Owned(s),
                    Err(e) => {
                        refuse_series(a, e, n);
                        return None;
                    }
                };
                data = lock(&series.data);
            }
            let mut zeros = 0;
            let mut zero_histograms = 0;
            a.base = data.newest();
            match payload {
                Payload::Floats(samples, starts) => {
                    for (i, &s) in samples.iter().enumerate() {
                        if let Some(&st) = starts.get(i)
                            && let Some(zero) = zero_at_start(&mut data, st, s, &rules)
                        {
                            a.accepted.push(zero);
                            zeros += 1;
                        }
                        match data.append(s, &rules) {
                            Outcome::Appended => a.accepted.push(s),
                            Outcome::Duplicate => a.stats.duplicates += 1,
                            refused => a.stats.rejected.add(refused),
                        }
                    }
                }
                Payload::Histograms(hs, starts) => {
                    for (i, (t, h)) in hs.iter().enumerate() {
                        if let Some(&st) = starts.get(i)
                            && let Some(zero) =
                                zero_histogram_at_start(&mut data, st, *t, h, &rules)
                        {
                            a.accepted_h.push((st, zero));
                            zeros += 1;
                            zero_histograms += 1;
                        }
                        match data.append_histogram(*t, h, &rules) {
                            Outcome::Appended => a.accepted_h.push((*t, h.clone())),
                            Outcome::Duplicate => a.stats.duplicates += 1,
                            refused => a.stats.rejected.add(refused),
                        }
                    }
                }
            }
            for s in &a.accepted {
                a.batch_max = a.batch_max.max(s.t);
                a.batch_min = a.batch_min.min(s.t);
                a.late += u64::from(s.t < a.collected_end);
            }
            for (t, _) in &a.accepted_h {
                a.batch_max = a.batch_max.max(*t);
                a.batch_min = a.batch_min.min(*t);
            }
            a.stats.start_zeros += zeros;
            a.stats.histograms += a.accepted_h.len() as u64 - zero_histograms;
            a.stats.appended += (a.accepted.len() + a.accepted_h.len()) as u64 - zeros;
        }
        if let Some(tapped) = a.tapped.as_mut() {
            tapped.push(&self.labels_of(&series), &a.accepted);
        }
        if let Some(rec) = a.rec.as_mut()
            && (!a.accepted.is_empty() || !a.accepted_h.is_empty())
        {
            if !series.def_durable.load(Ordering::Acquire) {
                rec.def(series.id, &self.labels_of(&series));
                a.new_defs.push(Arc::clone(&series));
            }
            rec.group(series.id, &a.accepted, a.base);
            rec.histogram_group(series.id, &a.accepted_h);
        }
        match series {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        }
    }

    /// Logs what was accepted and publishes counters.
    pub(super) fn finish(
        &self,
        a: Appending,
        wal: Option<&Wal>,
    ) -> Result<AppendStats, StorageError> {
        let Appending {
            stats,
            rec,
            new_defs,
            batch_max,
            batch_min,
            late,
            tapped,
            ..
        } = a;
        if let (Some(wal), Some(rec)) = (wal, rec)
            && !rec.is_empty()
        {
            let record = rec.finish();
            if let Err(e) = wal.append(&record) {
                // Not acknowledged, so not readable either.
                self.roll_back(&record, rec.bases());
                return Err(e.into());
            }
            for s in new_defs {
                s.def_durable.store(true, Ordering::Release);
            }
        }
        if let Some(tapped) = tapped {
            crate::tap::deliver(tapped);
        }
        if late > 0 {
            self.late.fetch_add(late, Ordering::Relaxed);
        }
        if batch_max != i64::MIN {
            self.max_t.fetch_max(batch_max, Ordering::Relaxed);
            self.min_t.fetch_min(batch_min, Ordering::Relaxed);
        }
        let c = &self.counters;
        c.appended
            .fetch_add(stats.appended + stats.start_zeros, Ordering::Relaxed);
        c.duplicates.fetch_add(stats.duplicates, Ordering::Relaxed);
        let r = &stats.rejected;
        for (ctr, n) in [
            (&c.out_of_window, r.out_of_window),
            (&c.past_retention, r.past_retention),
            (&c.duplicate_conflict, r.duplicate_conflict),
            (&c.invalid_series, r.invalid_series),
            (&c.too_far_in_future, r.too_far_in_future),
            (&c.active_series_limit, r.active_series_limit),
            (&c.new_series_rate_limit, r.new_series_rate_limit),
        ] {
            if n > 0 {
                ctr.fetch_add(n, Ordering::Relaxed);
            }
        }
        Ok(stats)
    }
}

/// One series' samples of either kind.
#[derive(Clone, Copy)]
enum Payload<'p> {
    /// Floats with their start timestamps (one per sample, or none).
    Floats(&'p [Sample], &'p [i64]),
    /// Histograms with their start timestamps (one per sample, or none).
    Histograms(&'p [(i64, FloatHistogram)], &'p [i64]),
}

impl Payload<'_> {
    fn len(&self) -> usize {
        match self {
            Payload::Floats(s, _) => s.len(),
            Payload::Histograms(h, _) => h.len(),
        }
    }

    fn time(&self, i: usize) -> i64 {
        match self {
            Payload::Floats(s, _) => s.get(i).map_or(0, |s| s.t),
            Payload::Histograms(h, _) => h.get(i).map_or(0, |h| h.0),
        }
    }
}

/// Counts a new series' samples as refused by a cardinality limit.
fn refuse_series(a: &mut Appending<'_>, why: SeriesRefusal, samples: usize) {
    let r = &mut a.stats.rejected;
    let n = samples as u64;
    match why {
        SeriesRefusal::ActiveSeries => r.active_series_limit += n,
        SeriesRefusal::NewSeriesRate => r.new_series_rate_limit += n,
    }
}

/// [`zero_at_start`] for a histogram `h` at `t`: the zero is an empty
/// histogram of its schema, zero threshold and custom bounds.
fn zero_histogram_at_start(
    data: &mut SeriesData,
    st: i64,
    t: i64,
    h: &FloatHistogram,
    rules: &Rules,
) -> Option<FloatHistogram> {
    let fresh = st > 0 && st < t && t <= rules.max_valid_t;
    if !fresh || data.max_t_any().is_some_and(|last| st <= last) {
        return None;
    }
    let zero = FloatHistogram {
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        ..FloatHistogram::default()
    };
    (data.append_histogram(st, &zero, rules) == Outcome::Appended).then_some(zero)
}

/// Stores a zero at a sample's start timestamp `st` when, as Prometheus
/// does, it marks a (re)start newer than everything the series holds and
/// older than the sample; the zero it stored, if any. Done under the
/// series' lock so it is decided against the series' true last sample.
fn zero_at_start(data: &mut SeriesData, st: i64, s: Sample, rules: &Rules) -> Option<Sample> {
    let fresh = st > 0 && st < s.t && s.t <= rules.max_valid_t;
    if !fresh || data.max_t().is_some_and(|last| st <= last) {
        return None;
    }
    let zero = Sample::new(st, 0.0);
    (data.append(zero, rules) == Outcome::Appended).then_some(zero)
}
