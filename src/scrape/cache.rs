//! A target's series cache: turns a scraped body into samples with their
//! final labels (target labels merged, `metric_relabel_configs`, limits),
//! remembers each series' labels by its exposed text so known series skip
//! relabelling, keeps the exposition metadata, and finds the series that
//! went stale.

use super::config::Limits;
use super::negotiate::Format;
use super::relabel::{self, LabelSet, Rule};
use crate::ingest::text::{self, Entry as TextEntry};
use hourglass_storage::{Labels, STALE_NAN_BITS, Sample, WriteBatch};
use std::collections::{BTreeMap, HashMap};

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
    /// Scrape in which it was last seen.
    seen: u64,
    /// Scrape in which it was last appended without its own timestamp.
    tracked: u64,
}

/// What processing a body gave.
#[derive(Debug, Default)]
pub struct Processed {
    /// Samples to append (empty when the scrape failed).
    pub batch: WriteBatch,
    /// Entries parsed (`scrape_samples_scraped`).
    pub scraped: u64,
    /// Entries kept by metric relabelling.
    pub post_relabel: u64,
    /// Entries new to this cache and appended (`scrape_series_added`).
    pub series_added: u64,
    /// Why the scrape failed, if it did.
    pub error: Option<String>,
}

/// The per-target cache; see the module docs.
#[derive(Debug, Default)]
pub struct SeriesCache {
    entries: HashMap<String, Entry>,
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

    /// The metadata seen in the last scrapes, by family.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &Metadata)> {
        self.metadata.iter().map(|(k, (m, _))| (k.as_str(), m))
    }

    /// Starts a scrape; call once per scrape, successful or not.
    pub fn begin(&mut self) {
        self.iter += 1;
    }

    /// Parses `body` and builds its samples at `ts` (ms). On failure the
    /// batch is empty and the counts are those reached.
    pub fn process(
        &mut self,
        ctx: &Context<'_>,
        body: &[u8],
        format: Format,
        ts: i64,
    ) -> Processed {
        let mut out = Processed::default();
        let parser = match text::parse_bytes(body) {
            Ok(p) => p,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        };
        let text = std::str::from_utf8(body).unwrap_or("");
        let parser = match format {
            Format::Text => parser,
            Format::OpenMetrics => {
                self.read_units(text);
                text::parse_openmetrics(text)
            }
        };
        let mut failed = false;
        for entry in parser {
            let line = match entry {
                Ok(TextEntry::Sample(s)) => s,
                Ok(TextEntry::Help { family, text }) => {
                    self.meta(&family).help = text.into_owned();
                    continue;
                }
                Ok(TextEntry::Type { family, kind }) => {
                    self.meta(&family).kind = kind_name(kind, format).to_string();
                    continue;
                }
                Err(e) => {
                    out.error = Some(e.to_string());
                    failed = true;
                    break;
                }
            };
            out.scraped += 1;
            self.key.clear();
            self.key.push_str(&line.name);
            for (k, v) in &line.labels {
                self.key.push('\u{0}');
                self.key.push_str(k);
                self.key.push('\u{0}');
                self.key.push_str(v);
            }
            let iter = self.iter;
            let added = if let Some(e) = self.entries.get_mut(self.key.as_str()) {
                e.seen = iter;
                false
            } else {
                let labels = match final_labels(ctx, &line) {
                    Ok(l) => l,
                    Err(e) => {
                        out.error.get_or_insert(e);
                        failed = true;
                        break;
                    }
                };
                self.entries.insert(
                    self.key.clone(),
                    Entry {
                        labels,
                        seen: iter,
                        tracked: 0,
                    },
                );
                true
            };
            let Some(entry) = self.entries.get_mut(self.key.as_str()) else {
                continue;
            };
            let Some(labels) = &entry.labels else {
                continue;
            };
            out.post_relabel += 1;
            if ctx.limits.sample_limit > 0 && out.post_relabel > ctx.limits.sample_limit {
                out.error
                    .get_or_insert_with(|| "sample limit exceeded".to_string());
                failed = true;
                continue;
            }
            if failed {
                continue;
            }
            let own_ts = line.timestamp_ms.filter(|_| ctx.honor_timestamps);
            let v = if line.value.is_nan() {
                f64::from_bits(NORMAL_NAN_BITS)
            } else {
                line.value
            };
            out.batch
                .push(labels.clone(), vec![Sample::new(own_ts.unwrap_or(ts), v)]);
            if own_ts.is_none() || ctx.track_timestamps_staleness {
                entry.tracked = iter;
            }
            if added {
                out.series_added += 1;
            }
        }
        if failed {
            out.batch = WriteBatch::new();
        } else {
            let iter = self.iter;
            self.entries
                .retain(|_, e| e.seen == iter || e.tracked + 1 == iter);
            self.metadata
                .retain(|_, (_, seen)| *seen + METADATA_SCRAPES >= iter);
        }
        out
    }

    /// Stale markers at `ts` for the series appended in the previous scrape
    /// and not in this one (all of them when this one failed to fetch).
    pub fn stale_markers(&mut self, ts: i64) -> WriteBatch {
        let mut batch = WriteBatch::new();
        let prev = self.iter.saturating_sub(1);
        for e in self.entries.values() {
            if e.tracked == prev
                && prev > 0
                && let Some(l) = &e.labels
            {
                batch.push(
                    l.clone(),
                    vec![Sample::new(ts, f64::from_bits(STALE_NAN_BITS))],
                );
            }
        }
        batch
    }

    /// Stale markers at `ts` for every series appended in the last scrape:
    /// the target went away.
    pub fn end_markers(&self, ts: i64) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for e in self.entries.values() {
            if e.tracked == self.iter
                && self.iter > 0
                && let Some(l) = &e.labels
            {
                batch.push(
                    l.clone(),
                    vec![Sample::new(ts, f64::from_bits(STALE_NAN_BITS))],
                );
            }
        }
        batch
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

fn kind_name(kind: text::MetricKind, format: Format) -> &'static str {
    match (kind, format) {
        (text::MetricKind::Untyped, Format::OpenMetrics) => "unknown",
        (k, _) => k.as_str(),
    }
}

/// Exposed labels, merged with the target's, then metric relabelling and
/// the label limits. `Ok(None)`: dropped.
fn final_labels(ctx: &Context<'_>, line: &text::SampleLine<'_>) -> Result<Option<Labels>, String> {
    let mut set = LabelSet::new();
    set.insert("__name__".into(), line.name.to_string());
    for (k, v) in &line.labels {
        if !v.is_empty() {
            set.insert(k.to_string(), v.to_string());
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
