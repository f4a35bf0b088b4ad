//! Remote write 2.0: `io.prometheus.write.v2.Request`, decoded into the
//! same borrowed shape as 1.0.
//!
//! Strings live once in a symbol table (`symbols[0]` is always `""`);
//! series name their labels, help and unit by index into it. Samples may
//! carry a start ("created") timestamp.

use super::bounds::{Bounds, DecodeError};
use super::v1::{Metadata, MetricType, TimeSeries, WriteRequest};
use crate::ingest::protobuf::{Reader, WireError, WireType, Writer};
use hourglass_storage::Sample;

/// A decoded 2.0 request.
#[derive(Debug, Default, PartialEq)]
pub struct Request<'a> {
    /// Series, labels, samples and metadata (family = the series' name).
    pub req: WriteRequest<'a>,
    /// Start timestamp of each sample in `req.samples` (0: none).
    pub start_timestamps: Vec<i64>,
    /// Start timestamp of each histogram in `req.histograms` (0: none).
    pub histogram_starts: Vec<i64>,
    /// Exemplars received (not stored yet).
    pub exemplars: u64,
}

fn err(what: &'static str) -> WireError {
    WireError { offset: 0, what }
}

fn symbol<'a>(symbols: &[&'a str], r: u64) -> Result<&'a str, WireError> {
    usize::try_from(r)
        .ok()
        .and_then(|i| symbols.get(i).copied())
        .ok_or_else(|| err("symbol reference out of range"))
}

/// Decodes a decompressed 2.0 request.
pub fn decode(buf: &[u8]) -> Result<Request<'_>, DecodeError> {
    decode_into(buf, WriteRequest::default())
}

/// Decodes a decompressed 2.0 request, filling `req` (empty, from
/// [`super::v1::DecodeBuffers::take`]).
pub fn decode_into<'a>(buf: &'a [u8], req: WriteRequest<'a>) -> Result<Request<'a>, DecodeError> {
    decode_bounded(buf, req, &mut Bounds::none())
}

/// Like [`decode_into`], held to `bounds` as it builds (see
/// [`super::v1::decode_bounded`]); the symbol table counts too.
pub fn decode_bounded<'a>(
    buf: &'a [u8],
    req: WriteRequest<'a>,
    bounds: &mut Bounds<'_>,
) -> Result<Request<'a>, DecodeError> {
    bounds.hold(super::v1::held_bytes(&req))?;
    // Series refer to symbols that may come later in the message.
    let mut symbols: Vec<&str> = Vec::new();
    let mut r = Reader::new(buf);
    while let Some((field, wire)) = r.key()? {
        if field == 4 {
            r.expect(wire, WireType::Len)?;
            let s = r.str()?;
            bounds.push(&mut symbols, s)?;
        } else {
            r.skip(wire)?;
        }
    }
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(err("symbols[0] must be the empty string").into());
    }
    let mut out = Request {
        req,
        ..Request::default()
    };
    let mut r = Reader::new(buf);
    // One label-reference buffer for the whole request, not one per series.
    let mut refs: Vec<u64> = Vec::new();
    while let Some((field, wire)) = r.key()? {
        if field == 5 {
            r.expect(wire, WireType::Len)?;
            let m = r.message()?;
            bounds.check_series(out.req.series.len() + 1)?;
            decode_series(m, &symbols, &mut refs, &mut out, bounds)?;
        } else {
            r.skip(wire)?;
        }
    }
    Ok(out)
}

fn decode_series<'a>(
    mut r: Reader<'a>,
    symbols: &[&'a str],
    refs: &mut Vec<u64>,
    out: &mut Request<'a>,
    bounds: &mut Bounds<'_>,
) -> Result<(), DecodeError> {
    let req = &mut out.req;
    let (l0, s0, h0) = (req.labels.len(), req.samples.len(), req.histograms.len());
    refs.clear();
    let mut meta: Option<(MetricType, &'a str, &'a str)> = None;
    let mut created = 0i64;
    let mut exemplars = 0u32;
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                let mut packed = Reader::new(r.bytes()?);
                while !packed.is_empty() {
                    bounds.push(refs, packed.varint()?)?;
                }
            }
            (1, WireType::Varint) => bounds.push(refs, r.varint()?)?,
            (2, WireType::Len) => {
                let mut m = r.message()?;
                let mut s = Sample::new(0, 0.0);
                let mut st = 0i64;
                while let Some((f, w)) = m.key()? {
                    match (f, w) {
                        (1, WireType::Fixed64) => s.v = f64::from_bits(m.fixed64()?),
                        (2, WireType::Varint) => s.t = m.varint()? as i64,
                        (3, WireType::Varint) => st = m.varint()? as i64,
                        (1..=3, _) => {
                            return Err(err("sample field has the wrong wire type").into());
                        }
                        _ => m.skip(w)?,
                    }
                }
                bounds.push(&mut req.samples, s)?;
                bounds.push(&mut out.start_timestamps, st)?;
            }
            (3, WireType::Len) => {
                let h = super::histogram::decode(r.message()?, bounds)?;
                let (start, valid) = (h.start, h.h.is_ok());
                req.add_histogram(h, bounds)?;
                if valid {
                    bounds.push(&mut out.histogram_starts, start)?;
                }
            }
            (4, _) => {
                exemplars += 1;
                r.skip(wire)?;
            }
            (5, WireType::Len) => {
                let mut m = r.message()?;
                let (mut kind, mut help, mut unit) = (MetricType::Unknown, "", "");
                while let Some((f, w)) = m.key()? {
                    match (f, w) {
                        (1, WireType::Varint) => kind = MetricType::from_wire(m.varint()?),
                        (3, WireType::Varint) => help = symbol(symbols, m.varint()?)?,
                        (4, WireType::Varint) => unit = symbol(symbols, m.varint()?)?,
                        _ => m.skip(w)?,
                    }
                }
                meta = Some((kind, help, unit));
            }
            // Earlier drafts carried one created timestamp per series here.
            (6, WireType::Varint) => created = r.varint()? as i64,
            (1 | 2 | 3 | 5 | 6, _) => {
                return Err(err("series field has the wrong wire type").into());
            }
            _ => r.skip(wire)?,
        }
    }
    if !refs.len().is_multiple_of(2) {
        return Err(err("odd number of label references").into());
    }
    for pair in refs.chunks_exact(2) {
        let label = (symbol(symbols, pair[0])?, symbol(symbols, pair[1])?);
        bounds.push(&mut req.labels, label)?;
    }
    if created != 0 {
        let hs0 = out.histogram_starts.len() - (req.histograms.len() - h0);
        for st in out.start_timestamps[s0..]
            .iter_mut()
            .chain(&mut out.histogram_starts[hs0..])
        {
            if *st == 0 {
                *st = created;
            }
        }
    }
    let series = TimeSeries {
        labels: l0..req.labels.len(),
        samples: s0..req.samples.len(),
        exemplars,
        histograms: (req.histograms.len() - h0) as u32,
        sent_key: None,
        deferred: None,
    };
    if let Some((kind, help, unit)) = meta
        && let Some(&(_, family)) = req
            .labels_of(&series)
            .iter()
            .find(|(n, _)| *n == "__name__")
    {
        let md = Metadata {
            kind,
            family,
            help,
            unit,
        };
        bounds.push(&mut req.metadata, md)?;
    }
    out.exemplars += u64::from(exemplars);
    bounds.push(&mut req.series, series)
}

/// Builds 2.0 requests (load generator, tests): interns strings as it goes.
#[derive(Debug, Default)]
pub struct Encoder {
    symbols: Vec<String>,
    index: std::collections::HashMap<String, u32>,
    series: Writer,
}

impl Encoder {
    /// An encoder with `symbols[0] = ""`.
    pub fn new() -> Encoder {
        let mut e = Encoder::default();
        e.intern("");
        e
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.symbols.len() as u32;
        self.symbols.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    /// A series' labels as packed symbol references.
    fn label_refs<'s>(&mut self, labels: impl IntoIterator<Item = (&'s str, &'s str)>) -> Vec<u8> {
        let mut packed = Writer::default();
        for (n, v) in labels {
            for s in [n, v] {
                let r = self.intern(s);
                packed.varint(u64::from(r));
            }
        }
        packed.buf
    }

    /// Adds a series with its samples (`(sample, start timestamp)`).
    pub fn series<'s>(
        &mut self,
        labels: impl IntoIterator<Item = (&'s str, &'s str)>,
        samples: &[(Sample, i64)],
        kind: Option<MetricType>,
    ) {
        self.series_with_unit(labels, samples, kind, "");
    }

    /// [`Encoder::series`] with the family's unit in its metadata.
    pub fn series_with_unit<'s>(
        &mut self,
        labels: impl IntoIterator<Item = (&'s str, &'s str)>,
        samples: &[(Sample, i64)],
        kind: Option<MetricType>,
        unit: &str,
    ) {
        let unit = (!unit.is_empty()).then(|| self.intern(unit));
        let packed = self.label_refs(labels);
        self.series.message(5, |ts| {
            ts.bytes(1, &packed);
            for (s, st) in samples {
                ts.message(2, |m| {
                    m.double(1, s.v);
                    m.uint(2, s.t as u64);
                    if *st != 0 {
                        m.uint(3, *st as u64);
                    }
                });
            }
            if kind.is_some() || unit.is_some() {
                ts.message(5, |m| {
                    if let Some(k) = kind {
                        m.uint(1, k.to_wire());
                    }
                    if let Some(u) = unit {
                        m.uint(4, u64::from(u));
                    }
                });
            }
        });
    }

    /// Adds a series of native histograms: integer ones (`Histogram`) and
    /// float ones (`FloatHistogram`), each with its time.
    pub fn histogram_series<'s>(
        &mut self,
        labels: impl IntoIterator<Item = (&'s str, &'s str)>,
        ints: &[(i64, hourglass_storage::Histogram)],
        floats: &[(i64, hourglass_storage::FloatHistogram)],
    ) {
        let packed = self.label_refs(labels);
        self.series.message(5, |ts| {
            ts.bytes(1, &packed);
            for (t, h) in ints {
                super::histogram::encode_int(ts, 3, *t, h);
            }
            for (t, h) in floats {
                super::histogram::encode_float(ts, 3, *t, h);
            }
        });
    }

    /// Adds a series of integer native histograms, each with its time and
    /// start timestamp.
    pub fn started_histogram_series<'s>(
        &mut self,
        labels: impl IntoIterator<Item = (&'s str, &'s str)>,
        histograms: &[(i64, i64, hourglass_storage::Histogram)],
    ) {
        let packed = self.label_refs(labels);
        self.series.message(5, |ts| {
            ts.bytes(1, &packed);
            for (t, start, h) in histograms {
                super::histogram::encode_int_started(ts, 3, *t, *start, h);
            }
        });
    }

    /// The encoded request (uncompressed).
    pub fn finish(self) -> Vec<u8> {
        let mut w = Writer::default();
        for s in &self.symbols {
            w.bytes(4, s.as_bytes());
        }
        w.buf.extend_from_slice(&self.series.buf);
        w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_hand_written_request() {
        let mut b = Vec::new();
        for s in ["", "__name__", "up", "job", "api"] {
            b.push(0x22); // symbols, field 4
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        let mut ts = vec![0x0a, 0x04, 1, 2, 3, 4]; // packed label refs
        ts.extend([0x12, 0x0e, 0x09]);
        ts.extend(2.5f64.to_le_bytes());
        ts.extend([0x10, 0xe8, 0x07, 0x18, 0x64]); // t=1000, start=100
        ts.extend([0x2a, 0x02, 0x08, 0x02]); // metadata: gauge
        b.push(0x2a);
        b.push(ts.len() as u8);
        b.extend(ts);
        let r = decode(&b).unwrap();
        let s = &r.req.series[0];
        assert_eq!(r.req.labels_of(s), &[("__name__", "up"), ("job", "api")]);
        assert_eq!(r.req.samples_of(s), &[Sample::new(1000, 2.5)]);
        assert_eq!(r.start_timestamps, vec![100]);
        assert_eq!(r.req.metadata[0].kind, MetricType::Gauge);
        assert_eq!(r.req.metadata[0].family, "up");
    }

    #[test]
    fn bad_references_are_errors() {
        let mut e = Encoder::new();
        e.series([("__name__", "x")], &[(Sample::new(1, 1.0), 0)], None);
        let mut b = e.finish();
        assert!(decode(&b).is_ok());
        // Point a label reference past the table.
        let at = b.iter().rposition(|&c| c == 0x0a).unwrap();
        b[at + 2] = 99;
        assert!(decode(&b).is_err());
        let mut first_not_empty = Writer::default();
        first_not_empty.bytes(4, b"x");
        assert!(decode(&first_not_empty.buf).is_err());
    }

    #[test]
    fn encoder_round_trip() {
        let mut e = Encoder::new();
        e.series(
            [("__name__", "c_total"), ("job", "j")],
            &[(Sample::new(5, 1.0), 2), (Sample::new(6, 2.0), 2)],
            Some(MetricType::Counter),
        );
        e.series(
            [("__name__", "g"), ("job", "j")],
            &[(Sample::new(5, -1.0), 0)],
            None,
        );
        let b = e.finish();
        let r = decode(&b).unwrap();
        assert_eq!(r.req.series.len(), 2);
        assert_eq!(r.start_timestamps, vec![2, 2, 0]);
        assert_eq!(
            r.req.labels_of(&r.req.series[1]),
            &[("__name__", "g"), ("job", "j")]
        );
    }
}
