//! The Prometheus protobuf exposition format: length-delimited
//! `io.prometheus.client.MetricFamily` messages back to back
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`), the only format that carries native histograms
//! from client libraries.
//!
//! [`Families`] reads one family at a time, strings borrowed from the body;
//! each family's vectors are charged to an allowance of
//! [`MAX_FAMILY_BYTES`], so a body decodes in memory proportional to its
//! largest family, never to its whole size. [`series`] turns a family into
//! series as Prometheus's scraper does; [`encode`] writes families
//! (targets of the tests, the fuzz target's round trip).

pub mod encode;
pub mod series;

use crate::ingest::protobuf::{Reader, WireError, WireType};
use crate::ingest::remote_write::histogram::{doubles, sints, span};
use crate::ingest::remote_write::{Bounds, DecodeError};
use hourglass_storage::Span;

/// Memory one decoded family may hold (its labels, buckets, spans).
pub const MAX_FAMILY_BYTES: usize = 256 << 20;

/// `MetricFamily.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FamilyType {
    /// `COUNTER` (0, also when unset).
    #[default]
    Counter,
    /// `GAUGE` (1).
    Gauge,
    /// `SUMMARY` (2).
    Summary,
    /// `UNTYPED` (3).
    Untyped,
    /// `HISTOGRAM` (4).
    Histogram,
    /// `GAUGE_HISTOGRAM` (5).
    GaugeHistogram,
}

impl FamilyType {
    /// The type for its wire number.
    pub fn from_wire(v: u64) -> Option<FamilyType> {
        Some(match v {
            0 => FamilyType::Counter,
            1 => FamilyType::Gauge,
            2 => FamilyType::Summary,
            3 => FamilyType::Untyped,
            4 => FamilyType::Histogram,
            5 => FamilyType::GaugeHistogram,
            _ => return None,
        })
    }

    /// Its wire number.
    pub fn to_wire(self) -> u64 {
        self as u64
    }

    /// The metadata type name (`unknown` for untyped, as Prometheus).
    pub fn metadata_name(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Summary => "summary",
            FamilyType::Untyped => "unknown",
            FamilyType::Histogram => "histogram",
            FamilyType::GaugeHistogram => "gaugehistogram",
        }
    }
}

/// One `MetricFamily`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Family<'a> {
    /// `name` (1).
    pub name: &'a str,
    /// `help` (2).
    pub help: &'a str,
    /// `type` (3).
    pub kind: FamilyType,
    /// `metric` (4).
    pub metrics: Vec<Metric<'a>>,
    /// `unit` (5).
    pub unit: &'a str,
}

/// One `Metric`: the values of every kind it carries (the family's type
/// says which one counts).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric<'a> {
    /// `label` (1): name and value pairs.
    pub labels: Vec<(&'a str, &'a str)>,
    /// `gauge.value` (2).
    pub gauge: Option<f64>,
    /// `counter` (3).
    pub counter: Option<Counter>,
    /// `summary` (4).
    pub summary: Option<Summary>,
    /// `untyped.value` (5).
    pub untyped: Option<f64>,
    /// `histogram` (7).
    pub histogram: Option<HistogramMsg>,
    /// `timestamp_ms` (6); 0 counts as none, as in Prometheus.
    pub timestamp_ms: i64,
}

/// `Counter`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counter {
    /// `value` (1).
    pub value: f64,
    /// `created_timestamp` (3), ms.
    pub created_ms: Option<i64>,
}

/// `Summary`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// `sample_count` (1).
    pub count: u64,
    /// `sample_sum` (2).
    pub sum: f64,
    /// `quantile` (3): (quantile, value).
    pub quantiles: Vec<(f64, f64)>,
    /// `created_timestamp` (4), ms.
    pub created_ms: Option<i64>,
}

/// A classic bucket.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bucket {
    /// `cumulative_count` (1).
    pub cumulative: u64,
    /// `cumulative_count_float` (4); wins when above 0.
    pub cumulative_float: f64,
    /// `upper_bound` (2).
    pub upper: f64,
}

/// `Histogram`: classic buckets and the native histogram, either or both.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramMsg {
    /// `sample_count` (1).
    pub count: u64,
    /// `sample_count_float` (4); above 0 makes a float histogram.
    pub count_float: f64,
    /// `sample_sum` (2).
    pub sum: f64,
    /// `bucket` (3): classic buckets.
    pub buckets: Vec<Bucket>,
    /// `created_timestamp` (15), ms.
    pub created_ms: Option<i64>,
    /// `schema` (5).
    pub schema: i32,
    /// `zero_threshold` (6).
    pub zero_threshold: f64,
    /// `zero_count` (7).
    pub zero_count: u64,
    /// `zero_count_float` (8); above 0 makes a float histogram.
    pub zero_count_float: f64,
    /// `negative_span` (9).
    pub negative_spans: Vec<Span>,
    /// `negative_delta` (10).
    pub negative_deltas: Vec<i64>,
    /// `negative_count` (11).
    pub negative_counts: Vec<f64>,
    /// `positive_span` (12).
    pub positive_spans: Vec<Span>,
    /// `positive_delta` (13).
    pub positive_deltas: Vec<i64>,
    /// `positive_count` (14).
    pub positive_counts: Vec<f64>,
}

impl HistogramMsg {
    /// Prometheus's test for a native histogram: some span, a zero
    /// threshold or a zero count (an empty native histogram carries a
    /// no-op span).
    pub fn is_native(&self) -> bool {
        !self.positive_spans.is_empty()
            || !self.negative_spans.is_empty()
            || self.zero_threshold > 0.0
            || self.zero_count > 0
            || self.zero_count_float > 0.0
    }

    /// Float counts are sent (`sample_count_float` or `zero_count_float`).
    pub fn is_float(&self) -> bool {
        self.count_float > 0.0 || self.zero_count_float > 0.0
    }
}

fn err(what: &'static str) -> WireError {
    WireError { offset: 0, what }
}

/// Reads the families of a body one at a time.
pub struct Families<'a> {
    r: Reader<'a>,
}

impl<'a> Families<'a> {
    /// A reader over a whole body.
    pub fn new(body: &'a [u8]) -> Families<'a> {
        Families {
            r: Reader::new(body),
        }
    }

    /// The next family; `None` at the end of the body.
    pub fn next_family(&mut self) -> Option<Result<Family<'a>, DecodeError>> {
        if self.r.is_empty() {
            return None;
        }
        let mut held = 0usize;
        let mut allow = |n: usize| {
            held = held.saturating_add(n);
            held <= MAX_FAMILY_BYTES
        };
        let mut b = Bounds::new(usize::MAX, &mut allow);
        let out = self
            .r
            .message()
            .map_err(DecodeError::from)
            .and_then(|m| family(m, &mut b));
        if out.is_err() {
            // Nothing after a damaged message can be framed.
            self.r = Reader::new(&[]);
        }
        Some(out)
    }
}

/// The number of `Metric`s of a whole body, read without decoding them,
/// so a caller can refuse a body over its series limit before holding it.
pub fn count_metrics(body: &[u8]) -> Result<usize, DecodeError> {
    let mut frames = Reader::new(body);
    let mut n = 0usize;
    while !frames.is_empty() {
        let mut f = frames.message()?;
        while let Some((field, w)) = f.key()? {
            if (field, w) == (4, WireType::Len) {
                n += 1;
            }
            f.skip(w)?;
        }
    }
    Ok(n)
}

/// Decodes a whole body (tests, the fuzz target).
pub fn decode(body: &[u8]) -> Result<Vec<Family<'_>>, DecodeError> {
    let mut f = Families::new(body);
    let mut out = Vec::new();
    while let Some(family) = f.next_family() {
        out.push(family?);
    }
    Ok(out)
}

fn family<'a>(mut r: Reader<'a>, b: &mut Bounds<'_>) -> Result<Family<'a>, DecodeError> {
    let mut f = Family::default();
    while let Some((field, w)) = r.key()? {
        match (field, w) {
            (1, WireType::Len) => f.name = r.str()?,
            (2, WireType::Len) => f.help = r.str()?,
            (3, WireType::Varint) => {
                f.kind =
                    FamilyType::from_wire(r.varint()?).ok_or_else(|| err("unknown metric type"))?;
            }
            (4, WireType::Len) => {
                let m = metric(r.message()?, b)?;
                b.push(&mut f.metrics, m)?;
            }
            (5, WireType::Len) => f.unit = r.str()?,
            (1..=5, _) => return Err(err("metric family field has the wrong wire type").into()),
            _ => r.skip(w)?,
        }
    }
    Ok(f)
}

fn double_value(mut m: Reader<'_>) -> Result<f64, WireError> {
    let mut v = 0.0;
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Fixed64) => v = f64::from_bits(m.fixed64()?),
            (1, _) => return Err(err("value has the wrong wire type")),
            _ => m.skip(w)?,
        }
    }
    Ok(v)
}

/// A `google.protobuf.Timestamp` in ms.
fn timestamp(mut m: Reader<'_>) -> Result<i64, WireError> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => secs = m.varint()? as i64,
            (2, WireType::Varint) => nanos = i64::from(m.varint()? as i32),
            (1 | 2, _) => return Err(err("timestamp field has the wrong wire type")),
            _ => m.skip(w)?,
        }
    }
    Ok(secs.saturating_mul(1000).saturating_add(nanos / 1_000_000))
}

fn metric<'a>(mut r: Reader<'a>, b: &mut Bounds<'_>) -> Result<Metric<'a>, DecodeError> {
    let mut m = Metric::default();
    while let Some((field, w)) = r.key()? {
        match (field, w) {
            (1, WireType::Len) => {
                let mut l = r.message()?;
                let (mut name, mut value) = ("", "");
                while let Some((f, w)) = l.key()? {
                    match (f, w) {
                        (1, WireType::Len) => name = l.str()?,
                        (2, WireType::Len) => value = l.str()?,
                        (1 | 2, _) => return Err(err("label field has the wrong wire type").into()),
                        _ => l.skip(w)?,
                    }
                }
                b.push(&mut m.labels, (name, value))?;
            }
            (2, WireType::Len) => m.gauge = Some(double_value(r.message()?)?),
            (3, WireType::Len) => m.counter = Some(counter(r.message()?)?),
            (4, WireType::Len) => m.summary = Some(summary(r.message()?, b)?),
            (5, WireType::Len) => m.untyped = Some(double_value(r.message()?)?),
            (6, WireType::Varint) => m.timestamp_ms = r.varint()? as i64,
            (7, WireType::Len) => m.histogram = Some(histogram(r.message()?, b)?),
            (1..=7, _) => return Err(err("metric field has the wrong wire type").into()),
            _ => r.skip(w)?,
        }
    }
    Ok(m)
}

fn counter(mut m: Reader<'_>) -> Result<Counter, WireError> {
    let mut c = Counter::default();
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Fixed64) => c.value = f64::from_bits(m.fixed64()?),
            (3, WireType::Len) => c.created_ms = Some(timestamp(m.message()?)?),
            (1 | 3, _) => return Err(err("counter field has the wrong wire type")),
            _ => m.skip(w)?,
        }
    }
    Ok(c)
}

fn summary(mut m: Reader<'_>, b: &mut Bounds<'_>) -> Result<Summary, DecodeError> {
    let mut s = Summary::default();
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => s.count = m.varint()?,
            (2, WireType::Fixed64) => s.sum = f64::from_bits(m.fixed64()?),
            (3, WireType::Len) => {
                let mut q = m.message()?;
                let (mut quantile, mut value) = (0.0, 0.0);
                while let Some((f, w)) = q.key()? {
                    match (f, w) {
                        (1, WireType::Fixed64) => quantile = f64::from_bits(q.fixed64()?),
                        (2, WireType::Fixed64) => value = f64::from_bits(q.fixed64()?),
                        (1 | 2, _) => {
                            return Err(err("quantile field has the wrong wire type").into());
                        }
                        _ => q.skip(w)?,
                    }
                }
                b.push(&mut s.quantiles, (quantile, value))?;
            }
            (4, WireType::Len) => s.created_ms = Some(timestamp(m.message()?)?),
            (1..=4, _) => return Err(err("summary field has the wrong wire type").into()),
            _ => m.skip(w)?,
        }
    }
    Ok(s)
}

fn bucket(mut m: Reader<'_>) -> Result<Bucket, WireError> {
    let mut bk = Bucket::default();
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => bk.cumulative = m.varint()?,
            (2, WireType::Fixed64) => bk.upper = f64::from_bits(m.fixed64()?),
            (4, WireType::Fixed64) => bk.cumulative_float = f64::from_bits(m.fixed64()?),
            (1 | 2 | 4, _) => return Err(err("bucket field has the wrong wire type")),
            _ => m.skip(w)?,
        }
    }
    Ok(bk)
}

fn histogram(mut m: Reader<'_>, b: &mut Bounds<'_>) -> Result<HistogramMsg, DecodeError> {
    let mut h = HistogramMsg::default();
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => h.count = m.varint()?,
            (2, WireType::Fixed64) => h.sum = f64::from_bits(m.fixed64()?),
            (3, WireType::Len) => {
                let bk = bucket(m.message()?)?;
                b.push(&mut h.buckets, bk)?;
            }
            (4, WireType::Fixed64) => h.count_float = f64::from_bits(m.fixed64()?),
            (5, WireType::Varint) => {
                h.schema = hourglass_storage::encoding::unzigzag(m.varint()?) as i32;
            }
            (6, WireType::Fixed64) => h.zero_threshold = f64::from_bits(m.fixed64()?),
            (7, WireType::Varint) => h.zero_count = m.varint()?,
            (8, WireType::Fixed64) => h.zero_count_float = f64::from_bits(m.fixed64()?),
            (9, WireType::Len) => {
                let s = span(m.message()?)?;
                b.push(&mut h.negative_spans, s)?;
            }
            (10, _) => sints(&mut m, w, &mut h.negative_deltas, b)?,
            (11, _) => doubles(&mut m, w, &mut h.negative_counts, b)?,
            (12, WireType::Len) => {
                let s = span(m.message()?)?;
                b.push(&mut h.positive_spans, s)?;
            }
            (13, _) => sints(&mut m, w, &mut h.positive_deltas, b)?,
            (14, _) => doubles(&mut m, w, &mut h.positive_counts, b)?,
            (15, WireType::Len) => h.created_ms = Some(timestamp(m.message()?)?),
            (1..=9 | 12 | 15, _) => {
                return Err(err("histogram field has the wrong wire type").into());
            }
            _ => m.skip(w)?,
        }
    }
    Ok(h)
}

/// The families the integration tests use, shared with these unit tests
/// (which use some of them).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/common/families.rs"]
mod families;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn decodes_a_hand_written_body_of_two_families() {
        // family { name "up" type GAUGE metric { label {job=a} gauge {1.0} } }
        let mut m = vec![0x0a, 0x08, 0x0a, 0x03, b'j', b'o', b'b', 0x12, 0x01, b'a'];
        m.extend([0x12, 0x09, 0x09]);
        m.extend(1.0f64.to_le_bytes());
        let mut f = vec![0x0a, 0x02, b'u', b'p', 0x18, 0x01, 0x22, m.len() as u8];
        f.extend(m);
        let mut body = vec![f.len() as u8];
        body.extend(&f);
        // An empty second family: name only.
        body.extend([0x03, 0x0a, 0x01, b'z']);
        let got = decode(&body).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "up");
        assert_eq!(got[0].kind, FamilyType::Gauge);
        assert_eq!(got[0].metrics[0].labels, [("job", "a")]);
        assert_eq!(got[0].metrics[0].gauge, Some(1.0));
        assert_eq!(got[1].name, "z");
        assert!(got[1].metrics.is_empty());
    }

    #[test]
    fn damaged_bodies_are_errors_that_stop_the_reading() {
        // A length past the end.
        let mut f = Families::new(&[0x05, 0x0a, 0x01]);
        assert!(f.next_family().unwrap().is_err());
        assert!(f.next_family().is_none());
        // An unknown metric type.
        assert!(decode(&[0x02, 0x18, 0x09]).is_err());
        // A label that is not a message.
        assert!(decode(&[0x04, 0x22, 0x02, 0x08, 0x01]).is_err());
    }

    #[test]
    fn a_family_over_its_memory_allowance_is_refused() {
        // One family of many empty metrics: each costs a Metric in memory.
        let n = MAX_FAMILY_BYTES / size_of::<Metric<'_>>() + 1;
        let mut f = crate::ingest::protobuf::Writer::default();
        for _ in 0..n {
            f.bytes(4, &[]);
        }
        let mut body = Vec::new();
        hourglass_storage::encoding::put_uvarint(&mut body, f.buf.len() as u64);
        body.extend(&f.buf);
        let err = decode(&body).unwrap_err();
        assert!(matches!(err, DecodeError::OverBudget { .. }), "{err}");
    }
}
