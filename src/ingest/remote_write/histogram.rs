//! Native histograms on the remote-write wire: `prometheus.Histogram`
//! (1.0, `TimeSeries.histograms` = 4) and `io.prometheus.write.v2.Histogram`
//! (2.0, `TimeSeries.histograms` = 3) share field numbers 1–16; 2.0 adds
//! `start_timestamp` = 17.
//!
//! The `count` oneof decides the kind: `count_int` (1) makes an integer
//! histogram with delta-coded buckets (`*_deltas`, sint64), `count_float`
//! (2) a float one with absolute counts (`*_counts`, double). Both are
//! validated as Prometheus validates them and stored as float histograms;
//! schemas 9..=52 are reduced to 8, as Prometheus does on ingest.

use super::bounds::{Bounds, DecodeError};
use crate::ingest::protobuf::{Reader, WireError, WireType, Writer};
use hourglass_storage::encoding::{unzigzag, zigzag};
use hourglass_storage::{
    CounterResetHint, FloatHistogram, Histogram, HistogramError, MAX_EXPONENTIAL_SCHEMA, Span,
};

/// Highest schema accepted on the wire (reduced to 8 on ingest).
const MAX_RESERVED_SCHEMA: i32 = 52;

/// One decoded histogram sample.
#[derive(Debug, Clone, PartialEq)]
pub struct WireHistogram {
    /// Sample time, ms.
    pub t: i64,
    /// 2.0 start timestamp (0: none).
    pub start: i64,
    /// The histogram, or why it is invalid.
    pub h: Result<FloatHistogram, HistogramError>,
}

fn wrong() -> WireError {
    WireError {
        offset: 0,
        what: "histogram field has the wrong wire type",
    }
}

pub(crate) fn span(mut m: Reader<'_>) -> Result<Span, WireError> {
    let mut s = Span::default();
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => s.offset = unzigzag(m.varint()?) as i32,
            (2, WireType::Varint) => s.length = m.varint()? as u32,
            (1 | 2, _) => return Err(wrong()),
            _ => m.skip(w)?,
        }
    }
    Ok(s)
}

/// Appends a repeated sint64 field (packed or not).
pub(crate) fn sints(
    m: &mut Reader<'_>,
    w: WireType,
    out: &mut Vec<i64>,
    b: &mut Bounds<'_>,
) -> Result<(), DecodeError> {
    let read = m.repeated(w, WireType::Varint, |r| b.push(out, unzigzag(r.varint()?)))?;
    if read { Ok(()) } else { Err(wrong().into()) }
}

/// Appends a repeated double field (packed or not).
pub(crate) fn doubles(
    m: &mut Reader<'_>,
    w: WireType,
    out: &mut Vec<f64>,
    b: &mut Bounds<'_>,
) -> Result<(), DecodeError> {
    let read = m.repeated(w, WireType::Fixed64, |r| {
        b.push(out, f64::from_bits(r.fixed64()?))
    })?;
    if read { Ok(()) } else { Err(wrong().into()) }
}

/// Decodes one `Histogram` message; its vectors are charged to `b`.
pub fn decode(mut m: Reader<'_>, b: &mut Bounds<'_>) -> Result<WireHistogram, DecodeError> {
    let mut ih = Histogram::default();
    let mut fh = FloatHistogram::default();
    let (mut is_float, mut t, mut start) = (false, 0i64, 0i64);
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => {
                ih.count = m.varint()?;
                is_float = false;
            }
            (2, WireType::Fixed64) => {
                fh.count = f64::from_bits(m.fixed64()?);
                is_float = true;
            }
            (3, WireType::Fixed64) => ih.sum = f64::from_bits(m.fixed64()?),
            (4, WireType::Varint) => ih.schema = unzigzag(m.varint()?) as i32,
            (5, WireType::Fixed64) => ih.zero_threshold = f64::from_bits(m.fixed64()?),
            (6, WireType::Varint) => ih.zero_count = m.varint()?,
            (7, WireType::Fixed64) => fh.zero_count = f64::from_bits(m.fixed64()?),
            (8 | 11, WireType::Len) => {
                let s = span(m.message()?)?;
                let spans = if f == 8 {
                    &mut ih.negative_spans
                } else {
                    &mut ih.positive_spans
                };
                b.push(spans, s)?;
            }
            (9, _) => sints(&mut m, w, &mut ih.negative_deltas, b)?,
            (12, _) => sints(&mut m, w, &mut ih.positive_deltas, b)?,
            (10, _) => doubles(&mut m, w, &mut fh.negative_buckets, b)?,
            (13, _) => doubles(&mut m, w, &mut fh.positive_buckets, b)?,
            (16, _) => doubles(&mut m, w, &mut ih.custom_values, b)?,
            (14, WireType::Varint) => {
                ih.counter_reset_hint = CounterResetHint::from_u8(m.varint()?.min(255) as u8);
            }
            (15, WireType::Varint) => t = m.varint()? as i64,
            (17, WireType::Varint) => start = m.varint()? as i64,
            (1..=8 | 11 | 14 | 15 | 17, _) => return Err(wrong().into()),
            _ => m.skip(w)?,
        }
    }
    let h = validated(ih, fh, is_float);
    Ok(WireHistogram { t, start, h })
}

/// The histogram Prometheus would store: the integer one, or with
/// `is_float` the float one (its counts and buckets from `fh`, the rest
/// from `ih`), validated as Prometheus validates them; schemas 9..=52 are
/// checked as 8, then their buckets merged to 8.
pub(crate) fn validated(
    mut ih: Histogram,
    mut fh: FloatHistogram,
    is_float: bool,
) -> Result<FloatHistogram, HistogramError> {
    let wire_schema = ih.schema;
    let high = wire_schema > MAX_EXPONENTIAL_SCHEMA && wire_schema <= MAX_RESERVED_SCHEMA;
    if high {
        ih.schema = MAX_EXPONENTIAL_SCHEMA;
    }
    let h = if is_float {
        fh.counter_reset_hint = ih.counter_reset_hint;
        fh.schema = ih.schema;
        fh.zero_threshold = ih.zero_threshold;
        fh.sum = ih.sum;
        fh.positive_spans = ih.positive_spans;
        fh.negative_spans = ih.negative_spans;
        fh.custom_values = ih.custom_values;
        fh.validate().map(|()| fh)
    } else {
        ih.validate().map(|()| ih.to_float())
    };
    h.map(|mut h| {
        if high {
            h.schema = wire_schema;
            h.reduce_resolution(MAX_EXPONENTIAL_SCHEMA);
        }
        h
    })
}

pub(crate) fn put_spans(w: &mut Writer, field: u32, spans: &[Span]) {
    for s in spans {
        w.message(field, |m| {
            m.uint(1, zigzag(i64::from(s.offset)));
            m.uint(2, u64::from(s.length));
        });
    }
}

pub(crate) fn packed_doubles(w: &mut Writer, field: u32, v: &[f64]) {
    if !v.is_empty() {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect();
        w.bytes(field, &b);
    }
}

pub(crate) fn packed_sints(w: &mut Writer, field: u32, v: &[i64]) {
    if !v.is_empty() {
        let mut p = Writer::default();
        for x in v {
            p.varint(zigzag(*x));
        }
        w.bytes(field, &p.buf);
    }
}

/// Writes what the two kinds share (fields 3–16) around each kind's own
/// bucket fields, `$negative` and `$positive`, keeping the wire order.
macro_rules! put_shared {
    ($m:ident, $t:expr, $h:ident, $negative:expr, $positive:expr) => {{
        $m.double(3, $h.sum);
        $m.uint(4, zigzag(i64::from($h.schema)));
        $m.double(5, $h.zero_threshold);
        $m.uint(14, $h.counter_reset_hint as u64);
        $m.uint(15, $t as u64);
        put_spans($m, 8, &$h.negative_spans);
        $negative;
        put_spans($m, 11, &$h.positive_spans);
        $positive;
        packed_doubles($m, 16, &$h.custom_values);
    }};
}

/// Encodes an integer histogram as message `field` (senders, tests).
pub fn encode_int(w: &mut Writer, field: u32, t: i64, h: &Histogram) {
    encode_int_started(w, field, t, 0, h);
}

/// [`encode_int`] with a 2.0 start timestamp (`0`: none).
pub fn encode_int_started(w: &mut Writer, field: u32, t: i64, start: i64, h: &Histogram) {
    w.message(field, |m| {
        if start != 0 {
            m.uint(17, start as u64);
        }
        m.uint(1, h.count);
        m.uint(6, h.zero_count);
        put_shared!(
            m,
            t,
            h,
            packed_sints(m, 9, &h.negative_deltas),
            packed_sints(m, 12, &h.positive_deltas)
        );
    });
}

/// Encodes a float histogram as message `field` (senders, tests).
pub fn encode_float(w: &mut Writer, field: u32, t: i64, h: &FloatHistogram) {
    w.message(field, |m| {
        m.double(2, h.count);
        m.double(7, h.zero_count);
        put_shared!(
            m,
            t,
            h,
            packed_doubles(m, 10, &h.negative_buckets),
            packed_doubles(m, 13, &h.positive_buckets)
        );
    });
}
