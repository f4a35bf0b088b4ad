//! Histogram chunks: a run of native histogram samples of one series,
//! Gorilla-style. Layouts in `FORMAT.md` ("Histogram chunks"). Written as
//! version 3 (`0x12`); versions 1 (`0x10`) and 2 (`0x11`) are still read.
//!
//! Every float field (count, zero count, sum, each bucket) is coded
//! against its previous value (`histogram_field.rs`). The layout (schema,
//! spans, custom bounds) is written only when it changes, and one bit
//! stands for every bucket when none moved differently (a steady or an
//! idle histogram). Version 3 writes a sample equal to the previous one
//! (an idle scrape) as one bit after its time, and a sum that moved by
//! whole nanoseconds as their number.

use super::ChunkError;
use super::bitstream::{BitReader, BitWriter};
use super::histogram_field::{
    Code, Field, Mode, get_ns, get_signed, ns_cost, ns_step, put_ns, put_signed,
};
use crate::hist_buf::HistBuf;
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};

/// The encoding byte of histogram chunks of version 1 (read only).
pub const ENCODING_HISTOGRAM_V1: u8 = 0x10;
/// The encoding byte of histogram chunks of version 2 (read only).
pub const ENCODING_HISTOGRAM_V2: u8 = 0x11;
/// The encoding byte of histogram chunks as written (version 3).
pub const ENCODING_HISTOGRAM: u8 = 0x12;
/// Bytes before the stream: encoding, sample count (u16 BE).
const HEADER: usize = 3;
/// Bytes of the trailing CRC32.
const CRC: usize = 4;
/// At most this many buckets per side in one sample.
pub const MAX_BUCKETS_PER_SIDE: usize = 1 << 16;
/// At most this many buckets decoded from one chunk in all (bounds the
/// memory a damaged chunk can make a reader take).
const MAX_DECODED_BUCKETS: usize = 1 << 24;

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

/// Writes the values of `h` (version 3): the mode bit, zero count and
/// sum (a bit choosing the nanosecond code or the field's), the buckets
/// ('0' when every bucket is steady in the mode), then the count: '0'
/// when it is the zero count plus the buckets (every integer histogram),
/// else '1' and its value. The mode is whichever codes this sample in
/// fewer bits.
fn put_values(w: &mut BitWriter, head: [&mut Field; 3], h: &FloatHistogram, buckets: &mut [Field]) {
    let [count_f, zero_f, sum_f] = head;
    let values = || {
        h.positive_buckets
            .iter()
            .chain(&h.negative_buckets)
            .copied()
    };
    // Not for NaN: how a NaN's payload propagates through additions may
    // differ between machines.
    let sum_of_parts = implied_count(h.zero_count, values());
    let implied = !sum_of_parts.is_nan() && sum_of_parts.to_bits() == h.count.to_bits();
    let ns = ns_step(sum_f.prev(), h.sum).map(|(n, u)| (n, u, ns_cost(n, u)));
    let sum_cost = |mode: Mode| {
        let field = sum_f.cost(h.sum, mode);
        (
            ns.is_some_and(|x| x.2 < field),
            1 + ns.map_or(field, |x| x.2.min(field)),
        )
    };
    let cost = |mode: Mode| -> (u32, bool) {
        let mut bits = zero_f.cost(h.zero_count, mode) + sum_cost(mode).1;
        if !implied {
            bits += count_f.cost(h.count, mode);
        }
        let steady = buckets.iter().zip(values()).all(|(f, v)| f.steady(v, mode));
        if !steady {
            bits += buckets
                .iter()
                .zip(values())
                .map(|(f, v)| f.cost(v, mode))
                .sum::<u32>();
        }
        (bits, steady)
    };
    let (dod, delta) = (cost(Mode::Dod), cost(Mode::Delta));
    let (mode, steady) = if delta.0 < dod.0 {
        w.write_bits(1, 1);
        (Mode::Delta, delta.1)
    } else {
        w.write_bits(0, 1);
        (Mode::Dod, dod.1)
    };
    zero_f.put(w, h.zero_count, mode);
    match ns {
        Some((n, u, _)) if sum_cost(mode).0 => {
            w.write_bits(1, 1);
            put_ns(w, n, u);
            sum_f.set(h.sum);
        }
        _ => {
            w.write_bits(0, 1);
            sum_f.put(w, h.sum, mode);
        }
    }
    if steady {
        w.write_bits(0, 1);
        for f in buckets.iter_mut() {
            f.advance(mode);
        }
    } else {
        w.write_bits(1, 1);
        for (f, v) in buckets.iter_mut().zip(values()) {
            f.put(w, v, mode);
        }
    }
    if implied {
        w.write_bits(0, 1);
        count_f.set(h.count);
    } else {
        w.write_bits(1, 1);
        count_f.put(w, h.count, mode);
    }
}

/// The count the buckets imply: the zero count plus every bucket, added
/// in the order the decoder adds them.
fn implied_count(zero: f64, buckets: impl Iterator<Item = f64>) -> f64 {
    buckets.fold(zero, |a, b| a + b)
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
        // An idle scrape: '0' and nothing more; the fields keep their
        // state.
        if let Some(p) = prev {
            if p.same_bits(h) {
                w.write_bits(0, 1);
                continue;
            }
            w.write_bits(1, 1);
        }
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
        put_values(
            &mut w,
            [&mut count_f, &mut zero_f, &mut sum_f],
            h,
            &mut buckets,
        );
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

/// The time of a histogram chunk's first sample, read without checking
/// the chunk (for chunks this process wrote).
pub(crate) fn first_time(bytes: &[u8]) -> Option<i64> {
    let stream = bytes.get(HEADER..bytes.len().checked_sub(CRC)?)?;
    if stream.len() < 8 {
        return None;
    }
    Some(BitReader::new(stream).read_bits_wide(64) as i64)
}

/// Decodes a histogram chunk, checking length, encoding and CRC first.
/// Never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
    let mut out = Vec::new();
    decode_range_into(bytes, i64::MIN, i64::MAX, &mut out)?;
    Ok(out)
}

/// Appends the samples of a histogram chunk with `mint <= t <= maxt` to
/// `out` (checked as [`decode`] does; decoding stops after `maxt`). On an
/// error `out` may hold some of the chunk's samples.
pub fn decode_range_into(
    bytes: &[u8],
    mint: i64,
    maxt: i64,
    out: &mut Vec<(i64, FloatHistogram)>,
) -> Result<(), ChunkError> {
    decode_to(bytes, mint, maxt, out)
}

/// [`decode_range_into`] into a reader's reused buffer: the samples are
/// written into the buffer's kept slots.
pub(crate) fn decode_range_reusing(
    bytes: &[u8],
    mint: i64,
    maxt: i64,
    out: &mut HistBuf,
) -> Result<(), ChunkError> {
    decode_to(bytes, mint, maxt, out)
}

/// Where decoded samples go: a sample is `layout`'s schema, spans, bounds
/// and scalars with these buckets.
trait Sink {
    fn reserve(&mut self, n: usize);
    fn emit(&mut self, t: i64, layout: &FloatHistogram, positive: &[f64], negative: &[f64]);
}

impl Sink for Vec<(i64, FloatHistogram)> {
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n);
    }
    fn emit(&mut self, t: i64, layout: &FloatHistogram, positive: &[f64], negative: &[f64]) {
        self.push((t, sample(layout, positive.to_vec(), negative.to_vec())));
    }
}

impl Sink for HistBuf {
    fn reserve(&mut self, n: usize) {
        HistBuf::reserve(self, n);
    }
    fn emit(&mut self, t: i64, layout: &FloatHistogram, positive: &[f64], negative: &[f64]) {
        self.push_parts(t, layout, positive, negative);
    }
}

fn decode_to(bytes: &[u8], mint: i64, maxt: i64, out: &mut impl Sink) -> Result<(), ChunkError> {
    if bytes.len() < HEADER + CRC {
        return Err(ChunkError::TooShort { len: bytes.len() });
    }
    let version = match bytes[0] {
        ENCODING_HISTOGRAM => 3,
        ENCODING_HISTOGRAM_V2 => 2,
        ENCODING_HISTOGRAM_V1 => 1,
        other => return Err(ChunkError::UnknownEncoding(other)),
    };
    let v2 = version >= 2;
    let (body, tail) = bytes.split_at(bytes.len() - CRC);
    let stored = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(ChunkError::Checksum { stored, computed });
    }
    let count = usize::from(u16::from_be_bytes([body[1], body[2]]));
    let mut r = BitReader::new(&body[HEADER..]);
    out.reserve(count.min(body.len()));
    let (mut t, mut d) = (0i64, 0i64);
    let mut head = [Field::default(); 3];
    let mut buckets: Vec<Field> = Vec::new();
    let mut cur = FloatHistogram::default();
    let mut npos = 0usize;
    let mut decoded = 0usize;
    // The bucket values of the sample at hand.
    let mut vals: Vec<f64> = Vec::new();
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
        if version >= 3 && i > 0 && !r.read_bit() {
            // An idle scrape: the previous sample again.
            decoded = decoded.saturating_add(buckets.len());
            if decoded > MAX_DECODED_BUCKETS {
                return Err(corrupt(i, "too many buckets in the chunk"));
            }
            if r.overrun() {
                return Err(corrupt(i, "stream ends early"));
            }
            if t > maxt {
                break;
            }
            if t >= mint {
                vals.clear();
                vals.extend(buckets.iter().map(Field::prev));
                let (p, n) = vals.split_at(npos.min(vals.len()));
                out.emit(t, &cur, p, n);
            }
            continue;
        }
        if r.read_bit() {
            cur.counter_reset_hint = CounterResetHint::from_u8(r.read_bits(2) as u8);
            if r.read_bit() {
                let (schema, zt, ps, np, ns, nn, custom) = get_layout(&mut r, i)?;
                cur.schema = schema;
                cur.zero_threshold = zt;
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
        let code = match v2 {
            false => Code::V1,
            true if r.read_bit() => Code::V2(Mode::Delta),
            true => Code::V2(Mode::Dod),
        };
        let [count_f, zero_f, sum_f] = &mut head;
        if !v2 {
            cur.count = count_f.get(&mut r, code);
        }
        cur.zero_count = zero_f.get(&mut r, code);
        cur.sum = if version >= 3 && r.read_bit() {
            let v = get_ns(&mut r, sum_f.prev()).ok_or_else(|| corrupt(i, "bad sum"))?;
            sum_f.set(v);
            v
        } else {
            sum_f.get(&mut r, code)
        };
        let changed = r.read_bit();
        let keep = t >= mint;
        let npos = npos.min(buckets.len());
        vals.clear();
        let mut implied = cur.zero_count;
        for f in buckets.iter_mut() {
            let v = match (changed, code) {
                (true, _) => f.get(&mut r, code),
                (false, Code::V1) => f.advance(Mode::Dod),
                (false, Code::V2(mode)) => f.advance(mode),
            };
            implied += v;
            if keep {
                vals.push(v);
            }
        }
        if v2 {
            cur.count = if r.read_bit() {
                count_f.get(&mut r, code)
            } else {
                count_f.set(implied);
                implied
            };
        }
        if r.overrun() {
            return Err(corrupt(i, "stream ends early"));
        }
        if t > maxt {
            break;
        }
        if !keep {
            continue;
        }
        let (p, n) = vals.split_at(npos.min(vals.len()));
        out.emit(t, &cur, p, n);
    }
    Ok(())
}

/// The sample of `cur`'s layout and scalars with these buckets, built
/// straight into the sample: only the layout is copied.
fn sample(cur: &FloatHistogram, positive: Vec<f64>, negative: Vec<f64>) -> FloatHistogram {
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
    }
}

/// A layout as written: schema, zero threshold, positive spans and their
/// bucket count, negative spans and theirs, custom bounds.
type Layout = (i32, f64, Vec<Span>, usize, Vec<Span>, usize, Vec<f64>);

fn get_layout(r: &mut BitReader<'_>, i: usize) -> Result<Layout, ChunkError> {
    let schema = get_signed(r).and_then(|s| i32::try_from(s).ok());
    let schema = schema.ok_or_else(|| corrupt(i, "bad schema"))?;
    let zt = f64::from_bits(r.read_bits_wide(64));
    let (ps, np) = get_spans(r, i)?;
    let (ns, nn) = get_spans(r, i)?;
    let nc = get_signed(r).filter(|n| (0..=MAX_BUCKETS_PER_SIDE as i64).contains(n));
    let nc = nc.ok_or_else(|| corrupt(i, "bad custom bound count"))? as usize;
    let mut custom = Vec::with_capacity(nc.min(64));
    for _ in 0..nc {
        custom.push(f64::from_bits(r.read_bits_wide(64)));
        if r.overrun() {
            return Err(corrupt(i, "stream ends early"));
        }
    }
    Ok((schema, zt, ps, np, ns, nn, custom))
}

/// Fuzz body of `fuzz/fuzz_targets/histogram_chunk_decode.rs`: the bytes
/// as they are, then (after a byte choosing the version) as the stream of
/// a chunk with a valid header and CRC (so the fuzzer reaches the
/// decoder); whatever decodes re-encodes to the same samples.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let _ = decode(data);
    // The first byte picks the version the rest is read as.
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let encoding = match pick % 3 {
        0 => ENCODING_HISTOGRAM_V1,
        1 => ENCODING_HISTOGRAM_V2,
        _ => ENCODING_HISTOGRAM,
    };
    let mut framed = vec![encoding];
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
