//! Histogram chunks (encoding `0x10`): a run of native histogram samples of
//! one series, Gorilla-style. Layout in `FORMAT.md` ("Histogram chunks").
//!
//! Every float field (count, zero count, sum, each bucket) is coded as an
//! exact decimal `n / 10^k` against its previous value: the
//! delta-of-delta of `n` when the value has the previous value's scale,
//! otherwise the raw bits. A steady histogram (same increments per scrape)
//! costs a bit per field, and one bit for all its buckets.

use super::ChunkError;
use super::bitstream::{BitReader, BitWriter};
use super::xor::{POW10, at_scale, decimal_repr};
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};

/// The encoding byte of histogram chunks.
pub const ENCODING_HISTOGRAM: u8 = 0x10;
/// Bytes before the stream: encoding, sample count (u16 BE).
const HEADER: usize = 3;
/// Bytes of the trailing CRC32.
const CRC: usize = 4;
/// At most this many buckets per side in one sample.
pub const MAX_BUCKETS_PER_SIDE: usize = 1 << 16;
/// At most this many buckets decoded from one chunk in all (bounds the
/// memory a damaged chunk can make a reader take).
const MAX_DECODED_BUCKETS: usize = 1 << 24;

/// Coding state of one float field.
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    n: i64,
    k: u8,
    delta: i64,
}

fn put_signed(w: &mut BitWriter, v: i64) {
    match v {
        0 => w.write_bits(0, 1),
        -8..=7 => {
            w.write_bits(0b10, 2);
            w.write_bits(v as u64 & 0xf, 4);
        }
        -128..=127 => {
            w.write_bits(0b110, 3);
            w.write_bits(v as u64 & 0xff, 8);
        }
        -32768..=32767 => {
            w.write_bits(0b1110, 4);
            w.write_bits(v as u64 & 0xffff, 16);
        }
        -2147483648..=2147483647 => {
            w.write_bits(0b11110, 5);
            w.write_bits(v as u64 & 0xffff_ffff, 32);
        }
        _ => {
            w.write_bits(0b111110, 6);
            w.write_bits_wide(v as u64, 64);
        }
    }
}

/// Prefix of a raw 64-bit float in a field's code.
const RAW: u32 = 6;

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// A signed value, or `None` for the raw-float escape.
fn get_signed(r: &mut BitReader<'_>) -> Option<i64> {
    match r.read_unary(6) {
        0 => Some(0),
        1 => Some(sign_extend(r.read_bits(4), 4)),
        2 => Some(sign_extend(r.read_bits(8), 8)),
        3 => Some(sign_extend(r.read_bits(16), 16)),
        4 => Some(sign_extend(r.read_bits(32), 32)),
        5 => Some(r.read_bits_wide(64) as i64),
        _ => None,
    }
}

impl Field {
    fn put(&mut self, w: &mut BitWriter, v: f64) {
        if let Some(n) = at_scale(v, self.k) {
            let delta = n.wrapping_sub(self.n);
            put_signed(w, delta.wrapping_sub(self.delta));
            (self.n, self.delta) = (n, delta);
        } else {
            w.write_bits(0b111111, RAW);
            w.write_bits_wide(v.to_bits(), 64);
            self.reset_to(v);
        }
    }

    fn get(&mut self, r: &mut BitReader<'_>) -> f64 {
        match get_signed(r) {
            Some(dod) => {
                self.delta = self.delta.wrapping_add(dod);
                self.n = self.n.wrapping_add(self.delta);
                (self.n as f64) / POW10[usize::from(self.k & 7)]
            }
            None => {
                let v = f64::from_bits(r.read_bits_wide(64));
                self.reset_to(v);
                v
            }
        }
    }

    fn reset_to(&mut self, v: f64) {
        let (n, k) = decimal_repr(v).unwrap_or((0, 0));
        *self = Field { n, k, delta: 0 };
    }
}

/// The parts of a histogram written only when they change.
fn same_layout(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.schema == b.schema
        && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.positive_buckets.len() == b.positive_buckets.len()
        && a.negative_buckets.len() == b.negative_buckets.len()
        && a.custom_values.len() == b.custom_values.len()
        && a.custom_values
            .iter()
            .zip(&b.custom_values)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_signed(w, spans.len() as i64);
    for s in spans {
        put_signed(w, i64::from(s.offset));
        put_signed(w, i64::from(s.length));
    }
}

fn put_layout(w: &mut BitWriter, h: &FloatHistogram) {
    put_signed(w, i64::from(h.schema));
    w.write_bits_wide(h.zero_threshold.to_bits(), 64);
    put_spans(w, &h.positive_spans);
    put_spans(w, &h.negative_spans);
    put_signed(w, h.custom_values.len() as i64);
    for c in &h.custom_values {
        w.write_bits_wide(c.to_bits(), 64);
    }
}

/// Encodes samples (strictly increasing times, at most `u16::MAX`, each
/// side at most [`MAX_BUCKETS_PER_SIDE`] buckets matching its spans).
pub fn encode(samples: &[(i64, FloatHistogram)]) -> Result<Vec<u8>, ChunkError> {
    let count = u16::try_from(samples.len()).map_err(|_| ChunkError::Full)?;
    let mut w = BitWriter::with_capacity(samples.len() * 4 + 64);
    let (mut t_prev, mut d_prev) = (0i64, 0i64);
    let mut prev: Option<&FloatHistogram> = None;
    let (mut count_f, mut zero_f, mut sum_f) =
        (Field::default(), Field::default(), Field::default());
    let mut buckets: Vec<Field> = Vec::new();
    for (i, (t, h)) in samples.iter().enumerate() {
        if i > 0 && *t <= t_prev {
            return Err(ChunkError::OutOfOrder {
                t: *t,
                last: t_prev,
            });
        }
        if h.positive_buckets.len() > MAX_BUCKETS_PER_SIDE
            || h.negative_buckets.len() > MAX_BUCKETS_PER_SIDE
        {
            return Err(ChunkError::Corrupt {
                sample: i as u16,
                reason: "too many buckets",
            });
        }
        match i {
            0 => w.write_bits_wide(*t as u64, 64),
            _ => {
                let d = t.wrapping_sub(t_prev);
                put_signed(&mut w, d.wrapping_sub(d_prev));
                d_prev = d;
            }
        }
        t_prev = *t;
        let same =
            prev.is_some_and(|p| same_layout(p, h) && p.counter_reset_hint == h.counter_reset_hint);
        if same {
            w.write_bits(0, 1);
        } else {
            w.write_bits(1, 1);
            w.write_bits(h.counter_reset_hint as u64, 2);
            let layout_changed = prev.is_none_or(|p| !same_layout(p, h));
            w.write_bits(u64::from(layout_changed), 1);
            if layout_changed {
                put_layout(&mut w, h);
                buckets = vec![Field::default(); h.num_buckets()];
            }
        }
        count_f.put(&mut w, h.count);
        zero_f.put(&mut w, h.zero_count);
        sum_f.put(&mut w, h.sum);
        let values = h.positive_buckets.iter().chain(&h.negative_buckets);
        let steady = buckets
            .iter()
            .zip(values.clone())
            .all(|(f, v)| at_scale(*v, f.k).is_some_and(|n| n.wrapping_sub(f.n) == f.delta));
        if steady {
            w.write_bits(0, 1);
            for f in &mut buckets {
                f.n = f.n.wrapping_add(f.delta);
            }
        } else {
            w.write_bits(1, 1);
            for (f, v) in buckets.iter_mut().zip(values) {
                f.put(&mut w, *v);
            }
        }
        prev = Some(h);
    }
    let mut out = Vec::with_capacity(HEADER + w.bit_len() / 8 + 1 + CRC);
    out.push(ENCODING_HISTOGRAM);
    out.extend_from_slice(&count.to_be_bytes());
    w.copy_to(&mut out);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(out)
}

fn corrupt(sample: usize, reason: &'static str) -> ChunkError {
    ChunkError::Corrupt {
        sample: sample as u16,
        reason,
    }
}

fn get_spans(r: &mut BitReader<'_>, i: usize) -> Result<(Vec<Span>, usize), ChunkError> {
    let n = get_signed(r).filter(|n| (0..=MAX_BUCKETS_PER_SIDE as i64).contains(n));
    let n = n.ok_or_else(|| corrupt(i, "bad span count"))? as usize;
    let mut spans = Vec::with_capacity(n.min(64));
    let mut total = 0usize;
    for _ in 0..n {
        let offset = get_signed(r).and_then(|o| i32::try_from(o).ok());
        let length = get_signed(r).and_then(|l| u32::try_from(l).ok());
        let (Some(offset), Some(length)) = (offset, length) else {
            return Err(corrupt(i, "bad span"));
        };
        total = total.saturating_add(length as usize);
        if total > MAX_BUCKETS_PER_SIDE || r.overrun() {
            return Err(corrupt(i, "spans too long"));
        }
        spans.push(Span { offset, length });
    }
    Ok((spans, total))
}

/// Decodes a histogram chunk, checking length, encoding and CRC first.
/// Never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
    if bytes.len() < HEADER + CRC {
        return Err(ChunkError::TooShort { len: bytes.len() });
    }
    if bytes[0] != ENCODING_HISTOGRAM {
        return Err(ChunkError::UnknownEncoding(bytes[0]));
    }
    let (body, tail) = bytes.split_at(bytes.len() - CRC);
    let stored = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(ChunkError::Checksum { stored, computed });
    }
    let count = usize::from(u16::from_be_bytes([body[1], body[2]]));
    let mut r = BitReader::new(&body[HEADER..]);
    let mut out: Vec<(i64, FloatHistogram)> = Vec::with_capacity(count.min(body.len()));
    let (mut t, mut d) = (0i64, 0i64);
    let (mut count_f, mut zero_f, mut sum_f) =
        (Field::default(), Field::default(), Field::default());
    let mut buckets: Vec<Field> = Vec::new();
    let mut cur = FloatHistogram::default();
    let mut npos = 0usize;
    let mut decoded = 0usize;
    for i in 0..count {
        if i == 0 {
            t = r.read_bits_wide(64) as i64;
        } else {
            let dod = get_signed(&mut r).ok_or_else(|| corrupt(i, "bad timestamp"))?;
            d = d.wrapping_add(dod);
            if d <= 0 {
                return Err(corrupt(i, "timestamps not increasing"));
            }
            t = t
                .checked_add(d)
                .ok_or_else(|| corrupt(i, "timestamp overflows"))?;
        }
        if r.read_bit() {
            cur.counter_reset_hint = CounterResetHint::from_u8(r.read_bits(2) as u8);
            if r.read_bit() {
                let schema = get_signed(&mut r).and_then(|s| i32::try_from(s).ok());
                cur.schema = schema.ok_or_else(|| corrupt(i, "bad schema"))?;
                cur.zero_threshold = f64::from_bits(r.read_bits_wide(64));
                let (ps, np) = get_spans(&mut r, i)?;
                let (ns, nn) = get_spans(&mut r, i)?;
                let nc =
                    get_signed(&mut r).filter(|n| (0..=MAX_BUCKETS_PER_SIDE as i64).contains(n));
                let nc = nc.ok_or_else(|| corrupt(i, "bad custom bound count"))? as usize;
                let mut custom = Vec::with_capacity(nc.min(64));
                for _ in 0..nc {
                    custom.push(f64::from_bits(r.read_bits_wide(64)));
                    if r.overrun() {
                        return Err(corrupt(i, "stream ends early"));
                    }
                }
                cur.positive_spans = ps;
                cur.negative_spans = ns;
                cur.custom_values = custom;
                npos = np;
                buckets = vec![Field::default(); np + nn];
            } else if i == 0 {
                return Err(corrupt(i, "first sample without layout"));
            }
        } else if i == 0 {
            return Err(corrupt(i, "first sample without layout"));
        }
        decoded = decoded.saturating_add(buckets.len());
        if decoded > MAX_DECODED_BUCKETS {
            return Err(corrupt(i, "too many buckets in the chunk"));
        }
        cur.count = count_f.get(&mut r);
        cur.zero_count = zero_f.get(&mut r);
        cur.sum = sum_f.get(&mut r);
        let changed = r.read_bit();
        let npos = npos.min(buckets.len());
        let mut positive = Vec::with_capacity(npos);
        let mut negative = Vec::with_capacity(buckets.len() - npos);
        for (j, f) in buckets.iter_mut().enumerate() {
            let v = if changed {
                f.get(&mut r)
            } else {
                f.n = f.n.wrapping_add(f.delta);
                (f.n as f64) / POW10[usize::from(f.k & 7)]
            };
            if j < npos {
                positive.push(v);
            } else {
                negative.push(v);
            }
        }
        if r.overrun() {
            return Err(corrupt(i, "stream ends early"));
        }
        // Built straight into the sample: only the layout is copied.
        out.push((
            t,
            FloatHistogram {
                counter_reset_hint: cur.counter_reset_hint,
                schema: cur.schema,
                zero_threshold: cur.zero_threshold,
                zero_count: cur.zero_count,
                count: cur.count,
                sum: cur.sum,
                positive_spans: cur.positive_spans.clone(),
                negative_spans: cur.negative_spans.clone(),
                positive_buckets: positive,
                negative_buckets: negative,
                custom_values: cur.custom_values.clone(),
            },
        ));
    }
    Ok(out)
}

/// Fuzz body of `fuzz/fuzz_targets/histogram_chunk_decode.rs`: the bytes
/// as they are, then as the stream of a chunk with a valid header and CRC
/// (so the fuzzer reaches the decoder); whatever decodes re-encodes to the
/// same samples.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let _ = decode(data);
    let mut framed = vec![ENCODING_HISTOGRAM];
    framed.extend_from_slice(data);
    let crc = crc32fast::hash(&framed);
    framed.extend_from_slice(&crc.to_be_bytes());
    if let Ok(samples) = decode(&framed) {
        let again = encode(&samples).and_then(|c| decode(&c));
        match again {
            Ok(a) => assert!(
                a.len() == samples.len()
                    && a.iter()
                        .zip(&samples)
                        .all(|(x, y)| x.0 == y.0 && x.1.same_bits(&y.1)),
                "re-encoded chunk differs"
            ),
            Err(e) => panic!("decoded samples do not re-encode: {e}"),
        }
    }
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
