//! A target's series cache: turns a scraped body into samples with their
//! final labels (target labels merged, `metric_relabel_configs`, limits),
//! remembers each series' labels and storage handle by its exposed text
//! so known series skip label parsing, relabelling and the storage lookup,
//! keeps the exposition metadata, and finds the series that went stale.

use super::config::{HistogramOptions, Limits};
use super::negotiate::Format;
use super::relabel::{self, LabelSet, Rule};
use super::text_index::TextIndex;
use crate::ingest::metric_family::series::Value;
use crate::ingest::text::{self, Entry as TextEntry, RawEntry, SampleLine};
use crate::ingest::type_unit;
use hourglass_storage::{
    FloatHistogram, HandleBatch, Labels, STALE_NAN_BITS, Sample, SeriesHandle, SeriesTarget,
};
use std::borrow::Cow;
use std::collections::BTreeMap;

mod nhcb;
mod proto;

/// One exposed sample on its way into a batch.
struct Item<'s> {
    /// The series as exposed (the cache key).
    series: &'s str,
    value: Value,
    /// Its own timestamp, if it has one.
    own_ts: Option<i64>,
    /// Its created timestamp, if it has one.
    created_ms: Option<i64>,
    /// The scrape's time (ms).
    scrape_ts: i64,
}

/// The NaN every parsed NaN becomes, so a target cannot forge a stale marker.
const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// How long metadata outlives its last sighting, in scrapes.
const METADATA_SCRAPES: u64 = 10;

/// What the scrape knows about the target and its job.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The target's public labels (`job`, `instance`, …).
    pub target_labels: &'a [(String, String)],
    /// Exposed labels win.
    pub honor_labels: bool,
    /// Keep exposed timestamps.
    pub honor_timestamps: bool,
    /// Series with explicit timestamps go stale too.
    pub track_timestamps_staleness: bool,
    /// `metric_relabel_configs`.
    pub metric_relabel: &'a [Rule],
    /// Limits.
    pub limits: Limits,
    /// Native and classic histograms.
    pub histograms: HistogramOptions,
    /// Series get `__type__` and `__unit__` labels.
    pub type_and_unit_labels: bool,
    /// A zero sample at a fresh created timestamp.
    pub created_timestamp_zero: bool,
}

/// One exposition family's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `counter`, `gauge`, … (`unknown` when only HELP was seen).
    pub kind: String,
    /// HELP text.
    pub help: String,
    /// UNIT (OpenMetrics).
    pub unit: String,
}

#[derive(Debug)]
struct Entry {
    /// Final labels; `None` when metric relabelling drops the series.
    labels: Option<Labels>,
    /// The stored series, from the last append.
    handle: Option<SeriesHandle>,
    /// Scrape in which it was last seen.
    seen: u64,
    /// Scrape in which it was last appended without its own timestamp.
    tracked: u64,
}

/// What processing a body gave.
#[derive(Debug, Default)]
pub struct Processed {
    /// Samples to append (empty when the scrape failed).
    pub batch: HandleBatch,
    /// The cache slot of each sample of `batch`, for
    /// [`SeriesCache::keep_handles`].
    pub slots: Vec<usize>,
    /// Entries parsed (`scrape_samples_scraped`).
    pub scraped: u64,
    /// Entries kept by metric relabelling.
    pub post_relabel: u64,
    /// Entries new to this cache and appended (`scrape_series_added`).
    pub series_added: u64,
    /// Why the scrape failed, if it did.
    pub error: Option<String>,
    /// Native histogram samples to append: labels, time, start
    /// timestamp (`0`: none), histogram.
    pub histograms: Vec<(Labels, i64, i64, FloatHistogram)>,
}

/// The per-target cache; see the module docs.
#[derive(Debug, Default)]
pub struct SeriesCache {
    /// By series text as exposed.
    entries: TextIndex<Entry>,
    metadata: BTreeMap<String, (Metadata, u64)>,
    iter: u64,
    key: String,
}

impl SeriesCache {
    /// Forgets every series (after a change of the job's labelling rules).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of known series.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no series is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remembers the series handles an append gave back for the samples
    /// of the last [`SeriesCache::process`] (`slots` from its result).
    pub fn keep_handles(&mut self, batch: HandleBatch, slots: &[usize]) {
        for (e, &slot) in batch.series.into_iter().zip(slots) {
            if let Some(entry) = self.entries.get_mut(slot)
                && let SeriesTarget::Known(h) = e.series
            {
                entry.handle = Some(h);
            }
        }
    }

    /// The metadata seen in the last scrapes, by family.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &Metadata)> {
        self.metadata.iter().map(|(k, (m, _))| (k.as_str(), m))
    }

    /// Starts a scrape; call once per scrape, successful or not.
    pub fn begin(&mut self) {
        self.iter += 1;
    }

    /// Parses `body` and builds its samples at `ts` (ms). On failure the
    /// batch is empty and the counts are those reached. Known series are
    /// found by their text as exposed, without reading their labels.
    pub fn process(
        &mut self,
        ctx: &Context<'_>,
        body: &[u8],
        format: Format,
        ts: i64,
    ) -> Processed {
        let mut out = Processed::default();
        if format == Format::Protobuf {
            self.process_proto(ctx, body, ts, &mut out);
            return out;
        }
        let mut parser = match text::parse_bytes(body) {
            Ok(p) => p,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        if format == Format::OpenMetrics {
            let text = std::str::from_utf8(body).unwrap_or("");
            self.read_units(text);
            parser = text::parse_openmetrics(text);
            if ctx.created_timestamp_zero {
                parser = parser.with_created_timestamps();
            }
        }
        let mut key = std::mem::take(&mut self.key);
        let mut failed = false;
        let convert = ctx.histograms.convert_nhcb;
        let mut classic = nhcb::Collector::default();
        while let Some(entry) = parser.next_raw() {
            let (raw, full) = match entry {
                Ok(RawEntry::Sample(s)) => (Some(s), None),
                Ok(RawEntry::Full(TextEntry::Sample(s))) => (None, Some(s)),
                Ok(RawEntry::Full(TextEntry::Help { family, text })) => {
                    self.meta(&family).help = text.into_owned();
                    if !self.admit_nhcb(ctx, &mut out, &mut failed, classic.finish(), ts) {
                        break;
                    }
                    continue;
                }
                Ok(RawEntry::Full(TextEntry::Type { family, kind })) => {
                    self.meta(&family).kind = kind_name(kind, format).to_string();
                    if !self.admit_nhcb(ctx, &mut out, &mut failed, classic.finish(), ts) {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    failed = true;
                    break;
                }
            };
            let created_ms = match (&raw, &full) {
                (Some(r), _) => parser.created_ms_raw(r),
                (None, Some(line)) => parser.created_ms(line),
                (None, None) => None,
            };
            if convert {
                let own_ts = raw.map_or_else(
                    || full.as_ref().and_then(|l| l.timestamp_ms),
                    |r| r.timestamp_ms,
                );
                let (finished, collected) = match parser.histogram_family() {
                    None => (classic.finish(), false),
                    Some(family) => {
                        let parsed = match (&raw, &full) {
                            (_, Some(line)) => Ok(Cow::Borrowed(line)),
                            (Some(r), None) => parser.parse_sample(r.line).map(Cow::Owned),
                            (None, None) => continue,
                        };
                        match parsed {
                            Ok(line) => classic.offer(family, &line, own_ts, created_ms),
                            Err(e) => {
                                out.error = Some(e.to_string());
                                failed = true;
                                break;
                            }
                        }
                    }
                };
                if !self.admit_nhcb(ctx, &mut out, &mut failed, finished, ts) {
                    break;
                }
                if collected && !ctx.histograms.always_classic {
                    continue;
                }
            }
            out.scraped += 1;
            let (series, value, own_ts) = match (&raw, &full) {
                (Some(r), _) => (r.series, r.value, r.timestamp_ms),
                (None, Some(line)) => {
                    series_key(&mut key, line);
                    (key.as_str(), line.value, line.timestamp_ms)
                }
                (None, None) => continue,
            };
            let line = || match (&raw, &full) {
                (_, Some(line)) => Ok(Cow::Borrowed(line)),
                (Some(r), None) => parser
                    .parse_sample(r.line)
                    .map(Cow::Owned)
                    .map_err(|e| e.to_string()),
                (None, None) => Err("no sample".to_string()),
            };
            let item = Item {
                series,
                value: Value::Float(value),
                own_ts,
                created_ms,
                scrape_ts: ts,
            };
            if !self.admit(ctx, &mut out, &mut failed, item, line) {
                break;
            }
        }
        if !failed {
            self.admit_nhcb(ctx, &mut out, &mut failed, classic.finish(), ts);
        }
        self.key = key;
        self.finish(&mut out, failed);
        out
    }

    /// Ends a scrape's processing: a failed one appends nothing; else the
    /// series and metadata not seen lately are forgotten.
    fn finish(&mut self, out: &mut Processed, failed: bool) {
        if failed {
            out.batch = HandleBatch::new();
            out.slots.clear();
            out.histograms.clear();
        } else {
            let iter = self.iter;
            self.entries
                .retain(|e| e.seen == iter || e.tracked + 1 == iter);
            self.metadata
                .retain(|_, (_, seen)| *seen + METADATA_SCRAPES >= iter);
        }
    }

    /// Finds or adds the cache entry of one exposed sample (its labels
    /// from `line` when new) and queues the sample, with its created
    /// timestamp as start when a zero there is wanted. False: stop
    /// reading (the scrape failed).
    fn admit<'b, 'c: 'b>(
        &mut self,
        ctx: &Context<'_>,
        out: &mut Processed,
        failed: &mut bool,
        e: Item<'_>,
        line: impl FnOnce() -> Result<Cow<'b, SampleLine<'c>>, String>,
    ) -> bool {
        let iter = self.iter;
        let known = self.entries.find(e.series);
        let (slot, added) = if let Some(slot) = known {
            if let Some(entry) = self.entries.get_mut(slot) {
                entry.seen = iter;
            }
            (slot, false)
        } else {
            let labels = match line().and_then(|l| final_labels(ctx, &l, &self.metadata)) {
                Ok(l) => l,
                Err(why) => {
                    out.error.get_or_insert(why);
                    *failed = true;
                    return false;
                }
            };
            let slot = self.entries.insert(
                e.series,
                Entry {
                    labels,
                    handle: None,
                    seen: iter,
                    tracked: 0,
                },
            );
            (slot, true)
        };
        let Some(entry) = self.entries.get_mut(slot) else {
            return true;
        };
        let Some(labels) = &entry.labels else {
            return true;
        };
        out.post_relabel += 1;
        if ctx.limits.sample_limit > 0 && out.post_relabel > ctx.limits.sample_limit {
            out.error
                .get_or_insert_with(|| "sample limit exceeded".to_string());
            *failed = true;
            return true;
        }
        if *failed {
            return true;
        }
        let own_ts = e.own_ts.filter(|_| ctx.honor_timestamps);
        let t = own_ts.unwrap_or(e.scrape_ts);
        // Storage puts the zero there only when it is newer than the
        // series' last sample.
        let start = e
            .created_ms
            .filter(|&ct| ctx.created_timestamp_zero && ct > 0 && ct < t)
            .unwrap_or(0);
        match e.value {
            Value::Float(v) => {
                let v = if v.is_nan() {
                    f64::from_bits(NORMAL_NAN_BITS)
                } else {
                    v
                };
                out.batch
                    .push_started(target(entry, labels), Sample::new(t, v), start);
                out.slots.push(slot);
            }
            Value::Histogram(h) => out.histograms.push((labels.clone(), t, start, h)),
        }
        if own_ts.is_none() || ctx.track_timestamps_staleness {
            entry.tracked = iter;
        }
        if added {
            out.series_added += 1;
        }
        true
    }

    /// Stale markers at `ts` for the series appended in the previous scrape
    /// and not in this one (all of them when this one failed to fetch).
    pub fn stale_markers(&mut self, ts: i64) -> HandleBatch {
        let mut batch = HandleBatch::new();
        let prev = self.iter.saturating_sub(1);
        for e in self.entries.values() {
            if e.tracked == prev
                && prev > 0
                && let Some(l) = &e.labels
            {
                batch.push(
                    target(e, l),
                    Sample::new(ts, f64::from_bits(STALE_NAN_BITS)),
                );
            }
        }
        batch
    }

    /// Stale markers at `ts` for every series appended in the last scrape:
    /// the target went away.
    pub fn end_markers(&self, ts: i64) -> HandleBatch {
        let mut batch = HandleBatch::new();
        for e in self.entries.values() {
            if e.tracked == self.iter
                && self.iter > 0
                && let Some(l) = &e.labels
            {
                batch.push(
                    target(e, l),
                    Sample::new(ts, f64::from_bits(STALE_NAN_BITS)),
                );
            }
        }
        batch
    }

    /// Families the current scrape declared, by type (for its event).
    pub fn summary(&self) -> crate::events::Summary {
        let mut s = crate::events::Summary::default();
        for (m, seen) in self.metadata.values() {
            if *seen == self.iter {
                s.count(&m.kind);
            }
        }
        s
    }

    fn meta(&mut self, family: &str) -> &mut Metadata {
        let iter = self.iter;
        let slot = self.metadata.entry(family.to_string()).or_insert_with(|| {
            (
                Metadata {
                    kind: "unknown".into(),
                    ..Metadata::default()
                },
                iter,
            )
        });
        slot.1 = iter;
        &mut slot.0
    }

    /// `# UNIT family unit` lines (the text parser reads them as comments).
    fn read_units(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# UNIT ") {
                let mut it = rest.splitn(2, ' ');
                if let (Some(family), Some(unit)) = (it.next(), it.next()) {
                    self.meta(family).unit = unit.trim().to_string();
                }
            }
        }
    }
}

/// The cache key of a series read whole: never equal to a series as
/// written, which starts with a name or `{`.
fn series_key(key: &mut String, line: &SampleLine<'_>) {
    key.clear();
    key.push('\u{0}');
    key.push_str(&line.name);
    for (k, v) in &line.labels {
        key.push('\u{0}');
        key.push_str(k);
        key.push('\u{0}');
        key.push_str(v);
    }
}

/// The series of a cached entry: by handle once an append gave one.
fn target(e: &Entry, labels: &Labels) -> SeriesTarget {
    match &e.handle {
        Some(h) => SeriesTarget::Known(h.clone()),
        None => SeriesTarget::Labels(labels.clone()),
    }
}

fn kind_name(kind: text::MetricKind, format: Format) -> &'static str {
    match (kind, format) {
        (text::MetricKind::Untyped, Format::OpenMetrics) => "unknown",
        (k, _) => k.as_str(),
    }
}

/// Exposed labels, merged with the target's, then metric relabelling and
/// the label limits. `Ok(None)`: dropped.
fn final_labels(
    ctx: &Context<'_>,
    line: &SampleLine<'_>,
    metadata: &BTreeMap<String, (Metadata, u64)>,
) -> Result<Option<Labels>, String> {
    let mut set = LabelSet::new();
    set.insert("__name__".into(), line.name.to_string());
    for (k, v) in &line.labels {
        if !v.is_empty() {
            set.insert(k.to_string(), v.to_string());
        }
    }
    if ctx.type_and_unit_labels {
        // The family's metadata speaks for its series, as in Prometheus.
        let meta = metadata.get(line.family.as_ref()).map(|(m, _)| m);
        let kind = match meta.map_or(line.kind.as_str(), |m| m.kind.as_str()) {
            "untyped" => "unknown",
            k => k,
        };
        let unit = meta.map_or("", |m| m.unit.as_str());
        set.remove(type_unit::TYPE);
        set.remove(type_unit::UNIT);
        for (n, v) in type_unit::labelled(&[], kind, unit) {
            set.insert(n.to_string(), v.to_string());
        }
    }
    for (k, v) in ctx.target_labels {
        if ctx.honor_labels {
            set.entry(k.clone()).or_insert_with(|| v.clone());
            continue;
        }
        if let Some(exposed) = set.remove(k) {
            let mut name = format!("exported_{k}");
            while set.contains_key(&name) {
                name = format!("exported_{name}");
            }
            set.insert(name, exposed);
        }
        set.insert(k.clone(), v.clone());
    }
    if !relabel::apply(ctx.metric_relabel, &mut set) {
        return Ok(None);
    }
    let Some(name) = set.get("__name__").cloned() else {
        return Err("missing metric name (__name__ label)".into());
    };
    let lim = &ctx.limits;
    if lim.label_limit > 0 && set.len() as u64 > lim.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {name:.50}, number of labels: {}, limit: {})",
            set.len(),
            lim.label_limit
        ));
    }
    for (k, v) in &set {
        if lim.label_name_length_limit > 0 && k.len() as u64 > lim.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {name:.50}, label name: {k:.50}, length: {}, limit: {})",
                k.len(),
                lim.label_name_length_limit
            ));
        }
        if lim.label_value_length_limit > 0 && v.len() as u64 > lim.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {name:.50}, label name: {k:.50}, value: {v:.50?}, length: {}, limit: {})",
                v.len(),
                lim.label_value_length_limit
            ));
        }
    }
    Ok(Some(Labels::from_pairs(set)))
}
