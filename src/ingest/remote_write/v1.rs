//! Remote write 1.0: `prometheus.WriteRequest`, decoded without copying.
//!
//! Label names and values are borrowed from the decompressed body; samples
//! of all series go into one vector. Exemplars and native histograms are
//! counted, not decoded.

use super::bounds::{Bounds, DecodeError, capacity_bytes};
use crate::ingest::protobuf::{Reader, WireError, WireType, Writer};
use hourglass_storage::{FloatHistogram, HistogramError, Sample, SentKey};
use std::ops::Range;

/// How many invalid histograms a request reports in full.
pub const MAX_REPORTED_HISTOGRAM_ERRORS: usize = 16;

/// A decoded `WriteRequest`.
#[derive(Debug, Default, PartialEq)]
pub struct WriteRequest<'a> {
    /// Series in request order, as ranges into `labels` and `samples`.
    pub series: Vec<TimeSeries>,
    /// Every series' labels, back to back.
    pub labels: Vec<(&'a str, &'a str)>,
    /// Every series' samples, back to back.
    pub samples: Vec<Sample>,
    /// Metric metadata (type, help, unit).
    pub metadata: Vec<Metadata<'a>>,
    /// Every series' valid native histogram samples, back to back.
    pub histograms: Vec<(i64, FloatHistogram)>,
    /// Invalid histograms: the series' index in `series` and the reason
    /// (the first [`MAX_REPORTED_HISTOGRAM_ERRORS`]).
    pub invalid_histograms: Vec<(usize, HistogramError)>,
    /// Invalid histograms in all.
    pub invalid_histogram_count: u64,
}

/// One `TimeSeries` of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeSeries {
    /// Its labels in `WriteRequest::labels`.
    pub labels: Range<usize>,
    /// Its samples in `WriteRequest::samples`.
    pub samples: Range<usize>,
    /// Exemplars it carried (not stored yet).
    pub exemplars: u32,
    /// How many valid histogram samples it has in
    /// `WriteRequest::histograms` (after the earlier series' ones; a
    /// count, not a range).
    pub histograms: u32,
    /// The key of its labels as sent (see [`sent_key`]), when its label
    /// fields came one after another.
    pub sent_key: Option<SentKey>,
    /// Where its label fields are in the body while they are left
    /// undecoded ([`decode_deferring`]); `labels` is empty until
    /// [`WriteRequest::decode_labels`].
    pub deferred: Option<Range<usize>>,
}

/// Metric type as remote write numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// 0, or a number we do not know.
    Unknown,
    /// 1
    Counter,
    /// 2
    Gauge,
    /// 3
    Histogram,
    /// 4
    GaugeHistogram,
    /// 5
    Summary,
    /// 6
    Info,
    /// 7
    StateSet,
}

impl MetricType {
    pub(crate) fn from_wire(v: u64) -> MetricType {
        match v {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }

    pub(crate) fn to_wire(self) -> u64 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::GaugeHistogram => 4,
            MetricType::Summary => 5,
            MetricType::Info => 6,
            MetricType::StateSet => 7,
        }
    }

    /// The name `/api/v1/metadata` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// One `MetricMetadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// Its type.
    pub kind: MetricType,
    /// The metric family name.
    pub family: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Unit.
    pub unit: &'a str,
}

impl<'a> WriteRequest<'a> {
    /// Decodes the labels of series `i` of a request decoded from `body`
    /// by [`decode_deferring`], if they were left undecoded.
    pub fn decode_labels(
        &mut self,
        i: usize,
        body: &'a [u8],
        bounds: &mut Bounds<'_>,
    ) -> Result<(), DecodeError> {
        let Some(at) = self.series.get_mut(i).and_then(|ts| ts.deferred.take()) else {
            return Ok(());
        };
        let r = Reader::new(body).part(at.clone()).ok_or(WireError {
            offset: at.start,
            what: "label fields past the end of the body",
        })?;
        let l0 = self.labels.len();
        super::labels::decode(r, &mut self.labels, bounds)?;
        if let Some(ts) = self.series.get_mut(i) {
            ts.labels = l0..self.labels.len();
        }
        Ok(())
    }

    /// A series' labels as sent (not yet validated or sorted; empty while
    /// [`TimeSeries::deferred`]).
    pub fn labels_of(&self, s: &TimeSeries) -> &[(&'a str, &'a str)] {
        &self.labels[s.labels.clone()]
    }

    /// A series' samples.
    pub fn samples_of(&self, s: &TimeSeries) -> &[Sample] {
        &self.samples[s.samples.clone()]
    }

    /// Each series with its valid native histogram samples.
    pub fn series_with_histograms(
        &self,
    ) -> impl Iterator<Item = (&TimeSeries, &[(i64, FloatHistogram)])> {
        let mut at = 0usize;
        self.series.iter().map(move |s| {
            let n = s.histograms as usize;
            let h = self.histograms.get(at..at + n).unwrap_or_default();
            at += n;
            (s, h)
        })
    }

    /// Records a decoded histogram of the series about to be pushed.
    pub(crate) fn add_histogram(
        &mut self,
        h: super::histogram::WireHistogram,
        bounds: &mut Bounds<'_>,
    ) -> Result<(), DecodeError> {
        match h.h {
            Ok(fh) => bounds.push(&mut self.histograms, (h.t, fh))?,
            Err(e) => {
                self.invalid_histogram_count += 1;
                if self.invalid_histograms.len() < MAX_REPORTED_HISTOGRAM_ERRORS {
                    self.invalid_histograms.push((self.series.len(), e));
                }
            }
        }
        Ok(())
    }
}

/// Vectors kept between requests on one thread. A request of 2,000 series
/// holds half a megabyte of label pairs; growing that afresh per request
/// had the kernel zeroing new pages for a sixth of the server's CPU time.
#[derive(Debug, Default)]
pub struct DecodeBuffers {
    labels: Vec<(&'static str, &'static str)>,
    samples: Vec<Sample>,
    series: Vec<TimeSeries>,
}

/// Buffers larger than this (in bytes) are not kept: what one hostile
/// request grew must not stay held by every thread it ran on.
const KEEP_AT_MOST_BYTES: usize = 2 << 20;

impl DecodeBuffers {
    /// An empty request that reuses the buffers' room.
    pub fn take<'a>(&mut self) -> WriteRequest<'a> {
        WriteRequest {
            series: std::mem::take(&mut self.series),
            labels: recycle(std::mem::take(&mut self.labels)),
            samples: std::mem::take(&mut self.samples),
            ..WriteRequest::default()
        }
    }

    /// Takes back a request's vectors for the next one.
    pub fn give_back(&mut self, req: WriteRequest<'_>) {
        let WriteRequest {
            mut series,
            mut labels,
            mut samples,
            ..
        } = req;
        trim(&mut labels);
        trim(&mut samples);
        trim(&mut series);
        if capacity_bytes(&labels) <= KEEP_AT_MOST_BYTES {
            self.labels = recycle(labels);
        }
        if capacity_bytes(&samples) <= KEEP_AT_MOST_BYTES {
            samples.clear();
            self.samples = samples;
        }
        if capacity_bytes(&series) <= KEEP_AT_MOST_BYTES {
            series.clear();
            self.series = series;
        }
    }
}

/// Elements a kept vector may always hold room for.
const KEEP_ROOM: usize = 1024;

/// Gives back room a request left unused: more than four times what it
/// used (or [`KEEP_ROOM`]) is cut to twice that. Once a sender's series
/// are known their labels are not decoded, and the room the first
/// requests took would otherwise stay held by every thread.
fn trim<T>(v: &mut Vec<T>) {
    let want = v.len().max(KEEP_ROOM);
    if v.capacity() > 4 * want {
        v.shrink_to(2 * want);
    }
}

/// The same allocation, emptied, for pairs of another lifetime. No element
/// is converted (there are none); std collects a mapped `IntoIter` of a
/// same-layout type in place.
fn recycle<'b>(mut v: Vec<(&str, &str)>) -> Vec<(&'b str, &'b str)> {
    v.clear();
    v.into_iter().map(|_| ("", "")).collect()
}

/// Decodes a decompressed `WriteRequest`.
pub fn decode(buf: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    decode_into(buf, WriteRequest::default())
}

/// Decodes a decompressed `WriteRequest` into `req` (empty, from
/// [`DecodeBuffers::take`]).
pub fn decode_into<'a>(
    buf: &'a [u8],
    req: WriteRequest<'a>,
) -> Result<WriteRequest<'a>, DecodeError> {
    decode_bounded(buf, req, &mut Bounds::none())
}

/// Like [`decode_into`], held to `bounds` as it builds: the series limit
/// and the memory the decoded request may take (buffers reused from
/// earlier requests included).
pub fn decode_bounded<'a>(
    buf: &'a [u8],
    req: WriteRequest<'a>,
    bounds: &mut Bounds<'_>,
) -> Result<WriteRequest<'a>, DecodeError> {
    decode_with(buf, req, bounds, false)
}

/// Like [`decode_bounded`], leaving undecoded the labels of each series
/// whose label fields come one after another and that carries no native
/// histograms ([`TimeSeries::deferred`]): a series its writer sent before
/// is found by its [`sent_key`] alone, and only the others' labels are
/// decoded, by [`WriteRequest::decode_labels`].
pub fn decode_deferring<'a>(
    buf: &'a [u8],
    req: WriteRequest<'a>,
    bounds: &mut Bounds<'_>,
) -> Result<WriteRequest<'a>, DecodeError> {
    decode_with(buf, req, bounds, true)
}

fn decode_with<'a>(
    buf: &'a [u8],
    mut req: WriteRequest<'a>,
    bounds: &mut Bounds<'_>,
    defer: bool,
) -> Result<WriteRequest<'a>, DecodeError> {
    bounds.hold(held_bytes(&req))?;
    let mut r = Reader::new(buf);
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => {
                r.expect(wire, WireType::Len)?;
                let m = r.message()?;
                bounds.check_series(req.series.len() + 1)?;
                decode_series(m, &mut req, bounds, defer)?;
            }
            3 => {
                r.expect(wire, WireType::Len)?;
                let m = r.message()?;
                let md = decode_metadata(m)?;
                bounds.push(&mut req.metadata, md)?;
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(req)
}

/// Bytes a request's vectors hold.
pub(crate) fn held_bytes(req: &WriteRequest<'_>) -> usize {
    capacity_bytes(&req.series)
        + capacity_bytes(&req.labels)
        + capacity_bytes(&req.samples)
        + capacity_bytes(&req.metadata)
        + capacity_bytes(&req.histograms)
}

fn decode_series<'a>(
    mut r: Reader<'a>,
    req: &mut WriteRequest<'a>,
    bounds: &mut Bounds<'_>,
    defer: bool,
) -> Result<(), DecodeError> {
    let (s0, h0) = (req.samples.len(), req.histograms.len());
    let mut exemplars = 0u32;
    let mut histogram_fields = false;
    // The label fields' bytes, while they follow one another.
    let mut run: Option<Range<usize>> = None;
    let mut runs = 0u32;
    loop {
        let field_at = r.pos();
        let Some((field, wire)) = r.key()? else { break };
        match field {
            1 => {
                r.expect(wire, WireType::Len)?;
                r.bytes()?;
                let next = run.filter(|x| x.end == field_at);
                runs += u32::from(next.is_none());
                run = Some(next.map_or(field_at, |x| x.start)..r.pos());
            }
            2 => {
                r.expect(wire, WireType::Len)?;
                let mut m = r.message()?;
                let mut s = Sample::new(0, 0.0);
                while let Some((f, w)) = m.key()? {
                    match f {
                        1 => {
                            m.expect(w, WireType::Fixed64)?;
                            s.v = f64::from_bits(m.fixed64()?);
                        }
                        2 => {
                            m.expect(w, WireType::Varint)?;
                            // int64 on the wire: two's complement in a varint.
                            s.t = m.varint()? as i64;
                        }
                        _ => m.skip(w)?,
                    }
                }
                bounds.push(&mut req.samples, s)?;
            }
            3 => {
                exemplars += 1;
                r.skip(wire)?;
            }
            4 => {
                r.expect(wire, WireType::Len)?;
                histogram_fields = true;
                let h = super::histogram::decode(r.message()?, bounds)?;
                req.add_histogram(h, bounds)?;
            }
            _ => r.skip(wire)?,
        }
    }
    let single = run.filter(|_| runs == 1);
    let l0 = req.labels.len();
    let mut deferred = None;
    match single.clone() {
        Some(x) if defer && !histogram_fields => {
            deferred = Some(r.absolute(x.start)..r.absolute(x.end));
        }
        // One run: only label fields to read; else the whole message.
        at => {
            if let Some(p) = r.part(at.unwrap_or(0..r.buf().len())) {
                super::labels::decode(p, &mut req.labels, bounds)?;
            }
        }
    }
    let series = TimeSeries {
        labels: l0..req.labels.len(),
        samples: s0..req.samples.len(),
        exemplars,
        histograms: (req.histograms.len() - h0) as u32,
        sent_key: single.and_then(|x| r.buf().get(x)).map(sent_key),
        deferred,
    };
    bounds.push(&mut req.series, series)
}

/// The key storage files a series under ([`SentKey`]): SipHash-1-3-128,
/// keyed by a secret of this process, of the series' label fields as sent
/// (each with its field key and length, so the bytes decode to one list
/// of labels only).
pub fn sent_key(label_fields: &[u8]) -> SentKey {
    static SECRET: std::sync::OnceLock<siphasher::sip128::SipHasher13> = std::sync::OnceLock::new();
    let h = SECRET.get_or_init(|| {
        use std::hash::BuildHasher;
        // Outputs of the std hasher under its random per-process keys.
        let s = std::hash::RandomState::new();
        siphasher::sip128::SipHasher13::new_with_keys(s.hash_one(1u8), s.hash_one(2u8))
    });
    let x = h.hash(label_fields);
    SentKey([x.h1, x.h2])
}

fn decode_metadata(mut m: Reader<'_>) -> Result<Metadata<'_>, WireError> {
    let mut md = Metadata {
        kind: MetricType::Unknown,
        family: "",
        help: "",
        unit: "",
    };
    while let Some((f, w)) = m.key()? {
        match (f, w) {
            (1, WireType::Varint) => md.kind = MetricType::from_wire(m.varint()?),
            (2, WireType::Len) => md.family = m.str()?,
            (4, WireType::Len) => md.help = m.str()?,
            (5, WireType::Len) => md.unit = m.str()?,
            (1 | 2 | 4 | 5, _) => {
                return Err(m.expect(w, WireType::Len).err().unwrap_or(WireError {
                    offset: 0,
                    what: "field has the wrong wire type",
                }));
            }
            _ => m.skip(w)?,
        }
    }
    Ok(md)
}

/// Encodes one series into a `WriteRequest` being built.
pub fn encode_series<'s>(
    w: &mut Writer,
    labels: impl IntoIterator<Item = (&'s str, &'s str)>,
    samples: &[Sample],
) {
    w.message(1, |ts| {
        for (name, value) in labels {
            ts.message(1, |l| {
                l.bytes(1, name.as_bytes());
                l.bytes(2, value.as_bytes());
            });
        }
        for s in samples {
            ts.message(2, |m| {
                m.double(1, s.v);
                m.uint(2, s.t as u64);
            });
        }
    });
}

/// Encodes one series of native histograms into a `WriteRequest` being
/// built: integer ones (`Histogram`) and float ones, each with its time.
pub fn encode_histogram_series<'s>(
    w: &mut Writer,
    labels: impl IntoIterator<Item = (&'s str, &'s str)>,
    ints: &[(i64, hourglass_storage::Histogram)],
    floats: &[(i64, FloatHistogram)],
) {
    w.message(1, |ts| {
        for (name, value) in labels {
            ts.message(1, |l| {
                l.bytes(1, name.as_bytes());
                l.bytes(2, value.as_bytes());
            });
        }
        for (t, h) in ints {
            super::histogram::encode_int(ts, 4, *t, h);
        }
        for (t, h) in floats {
            super::histogram::encode_float(ts, 4, *t, h);
        }
    });
}

/// Encodes one metadata entry into a `WriteRequest` being built.
pub fn encode_metadata(w: &mut Writer, md: &Metadata<'_>) {
    w.message(3, |m| {
        m.uint(1, md.kind.to_wire());
        m.bytes(2, md.family.as_bytes());
        m.bytes(4, md.help.as_bytes());
        m.bytes(5, md.unit.as_bytes());
    });
}

#[cfg(test)]
#[path = "v1_tests.rs"]
mod tests;
