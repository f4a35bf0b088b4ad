//! Classic histograms of text and OpenMetrics bodies collected into native
//! histograms with custom buckets (`convert_classic_histograms_to_nhcb`),
//! as Prometheus's `NHCBParser` collects them: under a `# TYPE … histogram`
//! (not a gauge histogram), consecutive `<family>_bucket` (with a float
//! `le`), `_count` and `_sum` series with the same other labels are one
//! histogram, finished by any other series, another label set, a metadata
//! line or the end of the body. It is named after the family, with the
//! first series' labels but `le`, timestamp and created timestamp; the
//! conversion is [`crate::ingest::nhcb`]'s.

use super::{Context, Item, Processed, SeriesCache, series_key};
use crate::ingest::metric_family::series::Value;
use crate::ingest::nhcb::ClassicHistogram;
use crate::ingest::text::{MetricKind, SampleLine};
use hourglass_storage::FloatHistogram;
use std::borrow::Cow;

/// A finished histogram: its series and value.
pub(super) struct Finished {
    pub(super) line: SampleLine<'static>,
    pub(super) own_ts: Option<i64>,
    pub(super) created_ms: Option<i64>,
    pub(super) histogram: FloatHistogram,
}

/// The histogram being collected.
struct Group {
    name: String,
    /// Labels but `le`, in the order written.
    labels: Vec<(String, String)>,
    own_ts: Option<i64>,
    created_ms: Option<i64>,
    h: ClassicHistogram,
}

impl Group {
    fn same(&self, name: &str, line: &SampleLine<'_>) -> bool {
        if self.name != name {
            return false;
        }
        let mut a: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut b: Vec<(&str, &str)> = others(line).collect();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

/// A line's labels but `le`.
fn others<'l>(line: &'l SampleLine<'_>) -> impl Iterator<Item = (&'l str, &'l str)> {
    line.labels
        .iter()
        .filter(|(n, _)| n != "le")
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
}

/// Which series of a classic histogram a line is.
enum Part {
    Bucket(f64),
    Count,
    Sum,
}

/// The part a line is of the histogram `family`, if any.
fn part(family: &str, line: &SampleLine<'_>) -> Option<Part> {
    let suffix = line.name.strip_prefix(family)?;
    match suffix {
        "_bucket" => {
            let (_, le) = line.labels.iter().find(|(n, _)| n == "le")?;
            let le: f64 = le.parse().ok().filter(|v: &f64| !v.is_nan())?;
            Some(Part::Bucket(le))
        }
        "_count" => Some(Part::Count),
        "_sum" => Some(Part::Sum),
        _ => None,
    }
}

/// Collects one histogram at a time; see the module docs.
#[derive(Default)]
pub(super) struct Collector {
    group: Option<Group>,
}

impl Collector {
    /// Offers a sample read under the classic histogram family `family`.
    /// Returns the histogram it finished, if any, and whether the sample
    /// was collected (a classic series, stored only when classic
    /// histograms are kept too).
    pub(super) fn offer(
        &mut self,
        family: &str,
        line: &SampleLine<'_>,
        own_ts: Option<i64>,
        created_ms: Option<i64>,
    ) -> (Option<Finished>, bool) {
        let Some(part) = part(family, line) else {
            return (self.finish(), false);
        };
        let finished = match &self.group {
            Some(g) if !g.same(family, line) => self.finish(),
            _ => None,
        };
        let g = self.group.get_or_insert_with(|| Group {
            name: family.to_string(),
            labels: others(line)
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            own_ts,
            created_ms,
            h: ClassicHistogram::default(),
        });
        match part {
            Part::Bucket(le) => g.h.set_bucket(le, line.value),
            Part::Count => g.h.set_count(line.value),
            Part::Sum => g.h.set_sum(line.value),
        }
        (finished, true)
    }

    /// Ends the histogram being collected: converted, or `None` when there
    /// is none or it does not convert (nothing is stored for it then, as
    /// in Prometheus).
    pub(super) fn finish(&mut self) -> Option<Finished> {
        let g = self.group.take()?;
        let histogram = match g.h.convert() {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!(histogram = %g.name, error = %e, "classic histogram not converted");
                return None;
            }
        };
        Some(Finished {
            line: SampleLine {
                name: Cow::Owned(g.name.clone()),
                labels: g
                    .labels
                    .into_iter()
                    .map(|(n, v)| (Cow::Owned(n), Cow::Owned(v)))
                    .collect(),
                value: 0.0,
                timestamp_ms: g.own_ts,
                family: Cow::Owned(g.name),
                kind: MetricKind::Histogram,
            },
            own_ts: g.own_ts,
            created_ms: g.created_ms,
            histogram,
        })
    }
}

impl SeriesCache {
    /// Admits a finished histogram as one scraped sample (see
    /// [`SeriesCache::process`]); false: stop reading.
    pub(super) fn admit_nhcb(
        &mut self,
        ctx: &Context<'_>,
        out: &mut Processed,
        failed: &mut bool,
        finished: Option<Finished>,
        ts: i64,
    ) -> bool {
        let Some(f) = finished else {
            return true;
        };
        out.scraped += 1;
        let mut key = String::new();
        series_key(&mut key, &f.line);
        let item = Item {
            series: &key,
            value: Value::Histogram(f.histogram),
            own_ts: f.own_ts,
            created_ms: f.created_ms,
            scrape_ts: ts,
        };
        let line = &f.line;
        self.admit(ctx, out, failed, item, || {
            Ok(std::borrow::Cow::Borrowed(line))
        })
    }
}
