//! OTLP protobuf (`opentelemetry.proto.collector.metrics.v1`) decoded with
//! our bounded reader: unknown fields are skipped, every length checked.
//!
//! ```text
//! ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
//! ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
//! Resource        { repeated KeyValue attributes = 1; }
//! ScopeMetrics    { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
//! KeyValue        { string key = 1; AnyValue value = 2; }
//! AnyValue        { string_value = 1 | bool_value = 2 | int64 int_value = 3 | double_value = 4
//!                   | array_value = 5 | kvlist_value = 6 | bytes_value = 7 }
//! Metric          { string name = 1; string description = 2; string unit = 3;
//!                   gauge = 5 | sum = 7 | histogram = 9 | exponential_histogram = 10 | summary = 11 }
//! Gauge           { repeated NumberDataPoint data_points = 1; }
//! Sum             { repeated NumberDataPoint data_points = 1; temporality = 2; bool is_monotonic = 3; }
//! Histogram       { repeated HistogramDataPoint data_points = 1; temporality = 2; }
//! ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; temporality = 2; }
//! Summary         { repeated SummaryDataPoint data_points = 1; }
//! NumberDataPoint { attributes = 7; fixed64 time_unix_nano = 3; double as_double = 4;
//!                   sfixed64 as_int = 6; uint32 flags = 8; }
//! HistogramDataPoint { attributes = 9; fixed64 time_unix_nano = 3; fixed64 count = 4; double sum = 5;
//!                   repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7; uint32 flags = 10; }
//! ExponentialHistogramDataPoint { attributes = 1; fixed64 time_unix_nano = 3; fixed64 count = 4;
//!                   double sum = 5; sint32 scale = 6; fixed64 zero_count = 7; Buckets positive = 8;
//!                   Buckets negative = 9; uint32 flags = 10; double zero_threshold = 14 }
//! Buckets         { sint32 offset = 1; repeated uint64 bucket_counts = 2; }
//! SummaryDataPoint { attributes = 7; fixed64 time_unix_nano = 3; fixed64 count = 4; double sum = 5;
//!                   repeated ValueAtQuantile quantile_values = 6 { double quantile = 1; double value = 2; }; flags = 8; }
//! ```

use super::model::*;
use crate::ingest::protobuf::{Reader, WireError, WireType};
use std::borrow::Cow;

/// Bytes the decoded model may take per byte of body, beyond a fixed
/// 64 KiB: real requests take less than 6; a body of empty messages,
/// built to take far more, is refused instead of allocated.
pub const MODEL_BYTES_PER_BODY_BYTE: usize = 8;

/// What decoding a body of `len` bytes may allocate.
pub fn model_budget(len: usize) -> usize {
    len.saturating_mul(MODEL_BYTES_PER_BODY_BYTE)
        .saturating_add(64 * 1024)
}

/// Counts what the model allocates against [`model_budget`].
struct Budget {
    left: usize,
}

impl Budget {
    fn take(&mut self, n: usize) -> Result<(), WireError> {
        self.left = self.left.checked_sub(n).ok_or(WireError {
            offset: 0,
            what: "the request decodes to more items than its size allows (empty messages?)",
        })?;
        Ok(())
    }

    /// Decodes the repeated message `msg` with `f` onto `out`, counting it.
    fn push<'a, T>(
        &mut self,
        out: &mut Vec<T>,
        msg: Reader<'a>,
        f: fn(Reader<'a>, &mut Budget) -> Result<T, WireError>,
    ) -> Result<(), WireError> {
        self.take(size_of::<T>())?;
        out.push(f(msg, self)?);
        Ok(())
    }
}

/// Decodes a (decompressed) protobuf request, allocating at most
/// [`model_budget`] of its length.
pub fn decode(buf: &[u8]) -> Result<Request<'_>, WireError> {
    let b = &mut Budget {
        left: model_budget(buf.len()),
    };
    let mut r = Reader::new(buf);
    let mut req = Request::default();
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Len) => b.push(&mut req.resources, r.message()?, resource_metrics)?,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(req)
}

fn resource_metrics<'a>(mut r: Reader<'a>, b: &mut Budget) -> Result<Resource<'a>, WireError> {
    let mut res = Resource::default();
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Len) => {
                let mut rr = r.message()?;
                while let Some((f, w)) = rr.key()? {
                    match (f, w) {
                        (1, WireType::Len) => push_attr(&mut res.attributes, rr.message()?, b)?,
                        (_, w) => rr.skip(w)?,
                    }
                }
            }
            (2, WireType::Len) => {
                let mut sm = r.message()?;
                while let Some((f, w)) = sm.key()? {
                    match (f, w) {
                        (2, WireType::Len) => b.push(&mut res.metrics, sm.message()?, metric)?,
                        (_, w) => sm.skip(w)?,
                    }
                }
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(res)
}

fn push_attr<'a>(
    out: &mut Vec<Attr<'a>>,
    mut r: Reader<'a>,
    b: &mut Budget,
) -> Result<(), WireError> {
    let mut key = "";
    let mut value: Option<Cow<'a, str>> = None;
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Len) => key = r.str()?,
            (2, WireType::Len) => value = any_value(r.message()?)?,
            (_, w) => r.skip(w)?,
        }
    }
    if let Some(value) = value {
        b.take(size_of::<Attr<'_>>() + 32)?;
        out.push(Attr {
            key: Cow::Borrowed(key),
            value,
        });
    }
    Ok(())
}

fn any_value(mut r: Reader<'_>) -> Result<Option<Cow<'_, str>>, WireError> {
    let mut v = None;
    while let Some((f, w)) = r.key()? {
        v = match (f, w) {
            (1, WireType::Len) => Some(Cow::Borrowed(r.str()?)),
            (2, WireType::Varint) => Some(Cow::Borrowed(if r.varint()? != 0 {
                "true"
            } else {
                "false"
            })),
            (3, WireType::Varint) => Some(Cow::Owned((r.varint()? as i64).to_string())),
            (4, WireType::Fixed64) => Some(Cow::Owned(format_double(f64::from_bits(r.fixed64()?)))),
            (7, WireType::Len) => {
                use base64::Engine as _;
                Some(Cow::Owned(
                    base64::engine::general_purpose::STANDARD.encode(r.bytes()?),
                ))
            }
            (_, w) => {
                r.skip(w)?;
                None
            }
        };
    }
    Ok(v)
}

/// A double attribute as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn metric<'a>(mut r: Reader<'a>, b: &mut Budget) -> Result<Metric<'a>, WireError> {
    let mut m = Metric::default();
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Len) => m.name = Cow::Borrowed(r.str()?),
            (2, WireType::Len) => m.description = Cow::Borrowed(r.str()?),
            (3, WireType::Len) => m.unit = Cow::Borrowed(r.str()?),
            (5, WireType::Len) => {
                m.data = Data::Gauge(points(r.message()?, b, number_point)?.0);
            }
            (7, WireType::Len) => {
                let (points, temporality, monotonic) = points(r.message()?, b, number_point)?;
                m.data = Data::Sum {
                    points,
                    temporality,
                    monotonic,
                };
            }
            (9, WireType::Len) => {
                let (points, temporality, _) = points(r.message()?, b, histogram_point)?;
                m.data = Data::Histogram {
                    points,
                    temporality,
                };
            }
            (10, WireType::Len) => {
                let (points, temporality, _) = points(r.message()?, b, exponential_point)?;
                m.data = Data::Exponential {
                    points,
                    temporality,
                };
            }
            (11, WireType::Len) => {
                m.data = Data::Summary(points(r.message()?, b, summary_point)?.0);
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(m)
}

/// A `Gauge`, `Sum`, `Histogram`, `ExponentialHistogram` or `Summary`
/// message: its data points (field 1, each decoded by `point`), its
/// aggregation temporality (field 2) and whether it is monotonic (field 3);
/// the kinds without the last two leave them 0 and false.
fn points<'a, P>(
    mut r: Reader<'a>,
    b: &mut Budget,
    point: fn(Reader<'a>, &mut Budget) -> Result<P, WireError>,
) -> Result<(Vec<P>, u64, bool), WireError> {
    let (mut points, mut temporality, mut monotonic) = (Vec::new(), 0, false);
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Len) => b.push(&mut points, r.message()?, point)?,
            (2, WireType::Varint) => temporality = r.varint()?,
            (3, WireType::Varint) => monotonic = r.varint()? != 0,
            (_, w) => r.skip(w)?,
        }
    }
    Ok((points, temporality, monotonic))
}

/// Decodes field `f` into `meta` when it is one of the fields every point
/// kind has: its `attributes` and `flags` (numbered per kind) and its times
/// (`start_time_unix_nano = 2`, `time_unix_nano = 3` in every kind); false
/// when it is another.
fn meta_field<'a>(
    meta: &mut PointMeta<'a>,
    (attributes, flags): (u32, u32),
    (f, w): (u32, WireType),
    r: &mut Reader<'a>,
    b: &mut Budget,
) -> Result<bool, WireError> {
    match w {
        WireType::Len if f == attributes => push_attr(&mut meta.attributes, r.message()?, b)?,
        WireType::Varint if f == flags => meta.flags = r.varint()? as u32,
        WireType::Fixed64 if f == 3 => meta.time_ns = r.fixed64()?,
        WireType::Fixed64 if f == 2 => meta.start_ns = r.fixed64()?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn number_point<'a>(mut r: Reader<'a>, b: &mut Budget) -> Result<NumberPoint<'a>, WireError> {
    let mut p = NumberPoint::default();
    while let Some((f, w)) = r.key()? {
        if meta_field(&mut p.meta, (7, 8), (f, w), &mut r, b)? {
            continue;
        }
        match (f, w) {
            (4, WireType::Fixed64) => p.value = f64::from_bits(r.fixed64()?),
            (6, WireType::Fixed64) => p.value = r.fixed64()? as i64 as f64,
            (_, w) => r.skip(w)?,
        }
    }
    Ok(p)
}

/// Repeated fixed64/double: packed (one length-delimited run) or not;
/// any other wire type is skipped.
fn fixed64s(
    r: &mut Reader<'_>,
    w: WireType,
    out: &mut Vec<u64>,
    b: &mut Budget,
) -> Result<(), WireError> {
    let read = r.repeated(w, WireType::Fixed64, |p| {
        b.take(8)?;
        out.push(p.fixed64()?);
        Ok::<(), WireError>(())
    })?;
    if !read {
        r.skip(w)?;
    }
    Ok(())
}

fn histogram_point<'a>(mut r: Reader<'a>, b: &mut Budget) -> Result<HistogramPoint<'a>, WireError> {
    let mut p = HistogramPoint::default();
    let mut bounds = Vec::new();
    while let Some((f, w)) = r.key()? {
        if meta_field(&mut p.meta, (9, 10), (f, w), &mut r, b)? {
            continue;
        }
        match (f, w) {
            (4, WireType::Fixed64) => p.count = r.fixed64()?,
            (5, WireType::Fixed64) => p.sum = Some(f64::from_bits(r.fixed64()?)),
            (6, w) => fixed64s(&mut r, w, &mut p.bucket_counts, b)?,
            (7, w) => fixed64s(&mut r, w, &mut bounds, b)?,
            (_, w) => r.skip(w)?,
        }
    }
    p.bounds = bounds.into_iter().map(f64::from_bits).collect();
    Ok(p)
}

fn exponential_point<'a>(
    mut r: Reader<'a>,
    b: &mut Budget,
) -> Result<ExponentialPoint<'a>, WireError> {
    let mut p = ExponentialPoint::default();
    while let Some((f, w)) = r.key()? {
        if meta_field(&mut p.meta, (1, 10), (f, w), &mut r, b)? {
            continue;
        }
        match (f, w) {
            (4, WireType::Fixed64) => p.count = r.fixed64()?,
            (5, WireType::Fixed64) => p.sum = Some(f64::from_bits(r.fixed64()?)),
            (6, WireType::Varint) => p.scale = sint32(r.varint()?),
            (7, WireType::Fixed64) => p.zero_count = r.fixed64()?,
            (8, WireType::Len) => p.positive = exponential_buckets(r.message()?, b)?,
            (9, WireType::Len) => p.negative = exponential_buckets(r.message()?, b)?,
            (14, WireType::Fixed64) => p.zero_threshold = f64::from_bits(r.fixed64()?),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(p)
}

/// A zigzag-encoded `sint32` (out-of-range values wrap as Go's decoder does).
fn sint32(u: u64) -> i32 {
    hourglass_storage::encoding::unzigzag(u) as i32
}

fn exponential_buckets(mut r: Reader<'_>, b: &mut Budget) -> Result<ExponentialBuckets, WireError> {
    let mut out = ExponentialBuckets::default();
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, WireType::Varint) => out.offset = sint32(r.varint()?),
            (2, WireType::Varint) => {
                b.take(8)?;
                out.counts.push(r.varint()?)
            }
            (2, WireType::Len) => {
                let mut p = r.message()?;
                while !p.is_empty() {
                    b.take(8)?;
                    out.counts.push(p.varint()?);
                }
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(out)
}

fn summary_point<'a>(mut r: Reader<'a>, b: &mut Budget) -> Result<SummaryPoint<'a>, WireError> {
    let mut p = SummaryPoint::default();
    while let Some((f, w)) = r.key()? {
        if meta_field(&mut p.meta, (7, 8), (f, w), &mut r, b)? {
            continue;
        }
        match (f, w) {
            (4, WireType::Fixed64) => p.count = r.fixed64()?,
            (5, WireType::Fixed64) => p.sum = f64::from_bits(r.fixed64()?),
            (6, WireType::Len) => {
                let (mut q, mut v) = (0.0, 0.0);
                let mut qv = r.message()?;
                while let Some((f, w)) = qv.key()? {
                    match (f, w) {
                        (1, WireType::Fixed64) => q = f64::from_bits(qv.fixed64()?),
                        (2, WireType::Fixed64) => v = f64::from_bits(qv.fixed64()?),
                        (_, w) => qv.skip(w)?,
                    }
                }
                b.take(16)?;
                p.quantiles.push((q, v));
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(p)
}
