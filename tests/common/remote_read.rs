//! Remote read from the client's side: requests, and the two answers
//! decoded independently of the server's encoder (frames checked by their
//! CRC-32C, XOR chunks read bit by bit as Prometheus's `xorIterator` does).

use hourglass::ingest::protobuf::{Reader, WireType, Writer};
use std::collections::BTreeMap;

/// Matcher types of `LabelMatcher`.
pub const EQ: u64 = 0;
pub const NEQ: u64 = 1;
pub const RE: u64 = 2;
pub const NRE: u64 = 3;
/// Response types.
pub const SAMPLES: u64 = 0;
pub const STREAMED: u64 = 1;

/// Labels and (t, value bits) of one series.
pub type Decoded = BTreeMap<Vec<(String, String)>, Vec<(i64, u64)>>;

/// One series: labels and (t, value bits).
type OneSeries = (Vec<(String, String)>, Vec<(i64, u64)>);

/// One query: start, end, matchers `(type, name, value)`.
pub type Q<'a> = (i64, i64, &'a [(u64, &'a str, &'a str)]);

/// A snappy-compressed `ReadRequest`.
pub fn request(queries: &[Q<'_>], accepted: &[u64]) -> Vec<u8> {
    let mut w = Writer::default();
    for (start, end, matchers) in queries {
        w.message(1, |q| {
            q.uint(1, *start as u64);
            q.uint(2, *end as u64);
            for (t, n, v) in *matchers {
                q.message(3, |m| {
                    m.uint(1, *t);
                    m.bytes(2, n.as_bytes());
                    m.bytes(3, v.as_bytes());
                });
            }
        });
    }
    for a in accepted {
        w.uint(2, *a);
    }
    hourglass::ingest::remote_write::compress(&w.buf)
}

fn label(mut r: Reader<'_>) -> (String, String) {
    let (mut n, mut v) = (String::new(), String::new());
    while let Some((f, wt)) = r.key().unwrap() {
        match f {
            1 => n = r.str().unwrap().to_string(),
            2 => v = r.str().unwrap().to_string(),
            _ => r.skip(wt).unwrap(),
        }
    }
    (n, v)
}

/// The series of each query of a SAMPLES answer (snappy body).
pub fn samples_response(body: &[u8]) -> Vec<Decoded> {
    let raw = hourglass::ingest::remote_write::decompress(body, 1 << 30).unwrap();
    let mut r = Reader::new(&raw);
    let mut out = Vec::new();
    while let Some((f, wt)) = r.key().unwrap() {
        assert_eq!((f, wt), (1, WireType::Len));
        let mut qr = r.message().unwrap();
        let mut series = Decoded::new();
        while let Some((_, _)) = qr.key().unwrap() {
            let (labels, samples) = labelled(qr.message().unwrap(), |mut s, samples| {
                let (mut t, mut v) = (0i64, 0u64);
                while let Some((f, wt)) = s.key().unwrap() {
                    match f {
                        1 => v = s.fixed64().unwrap(),
                        2 => t = s.varint().unwrap() as i64,
                        _ => s.skip(wt).unwrap(),
                    }
                }
                samples.push((t, v));
            });
            series.insert(labels, samples);
        }
        out.push(series);
    }
    out
}

/// Frames of a streamed answer, checked and decoded: the series of each
/// query index (a series split over frames is joined), and the frame count.
pub fn streamed_response(body: &[u8]) -> (BTreeMap<i64, Decoded>, usize) {
    let mut out: BTreeMap<i64, Decoded> = BTreeMap::new();
    let mut pos = 0;
    let mut frames = 0;
    while pos < body.len() {
        let len = hourglass_storage::encoding::read_uvarint(body, &mut pos).unwrap() as usize;
        let crc = u32::from_be_bytes(body[pos..pos + 4].try_into().unwrap());
        pos += 4;
        let msg = &body[pos..pos + len];
        pos += len;
        assert_eq!(
            hourglass::remote_read::crc32c::checksum(msg),
            crc,
            "frame CRC"
        );
        frames += 1;
        let mut r = Reader::new(msg);
        let mut index = 0i64;
        let mut series = Vec::new();
        while let Some((f, wt)) = r.key().unwrap() {
            match f {
                1 => series.push(chunked_series(r.message().unwrap())),
                2 => index = r.varint().unwrap() as i64,
                _ => r.skip(wt).unwrap(),
            }
        }
        let q = out.entry(index).or_default();
        for (labels, samples) in series {
            q.entry(labels).or_default().extend(samples);
        }
    }
    (out, frames)
}

fn chunked_series(r: Reader<'_>) -> OneSeries {
    labelled(r, |mut c, samples| {
        let (mut min, mut max, mut kind, mut data) = (0i64, 0i64, 0u64, &[][..]);
        while let Some((f, wt)) = c.key().unwrap() {
            match f {
                1 => min = c.varint().unwrap() as i64,
                2 => max = c.varint().unwrap() as i64,
                3 => kind = c.varint().unwrap(),
                4 => data = c.bytes().unwrap(),
                _ => c.skip(wt).unwrap(),
            }
        }
        assert_eq!(kind, 1, "XOR encoding");
        let got = xor_decode(data);
        assert_eq!(got.first().map(|s| s.0), Some(min), "chunk min time");
        assert_eq!(got.last().map(|s| s.0), Some(max), "chunk max time");
        samples.extend(got);
    })
}

/// A `TimeSeries` or `ChunkedSeries` message: its labels (field 1), and
/// the samples `item` reads out of each field 2 (a sample or a chunk).
fn labelled<'a>(
    mut r: Reader<'a>,
    mut item: impl FnMut(Reader<'a>, &mut Vec<(i64, u64)>),
) -> OneSeries {
    let (mut labels, mut samples) = (Vec::new(), Vec::new());
    while let Some((f, wt)) = r.key().unwrap() {
        match f {
            1 => labels.push(label(r.message().unwrap())),
            2 => item(r.message().unwrap(), &mut samples),
            _ => r.skip(wt).unwrap(),
        }
    }
    (labels, samples)
}

struct BitReader<'a> {
    b: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn read(&mut self, n: u32) -> u64 {
        let mut v = 0u64;
        for _ in 0..n {
            let byte = self.b[self.bit / 8];
            let one = (byte >> (7 - self.bit % 8)) & 1;
            v = (v << 1) | u64::from(one);
            self.bit += 1;
        }
        v
    }

    fn uvarint(&mut self) -> u64 {
        let (mut x, mut s) = (0u64, 0u32);
        loop {
            let b = self.read(8);
            x |= (b & 0x7f) << s;
            if b < 0x80 {
                return x;
            }
            s += 7;
        }
    }
}

/// Decodes a Prometheus XOR chunk to (t, value bits).
pub fn xor_decode(data: &[u8]) -> Vec<(i64, u64)> {
    let n = u16::from_be_bytes([data[0], data[1]]) as usize;
    let mut r = BitReader {
        b: &data[2..],
        bit: 0,
    };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut v, mut delta) = (0i64, 0u64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..n {
        match i {
            0 => {
                let z = r.uvarint();
                t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                v = r.read(64);
            }
            1 => {
                delta = r.uvarint();
                t += delta as i64;
                v = read_value(&mut r, v, &mut leading, &mut trailing);
            }
            _ => {
                let mut d = 0u8;
                for _ in 0..4 {
                    d <<= 1;
                    if r.read(1) == 0 {
                        break;
                    }
                    d |= 1;
                }
                let sz = match d {
                    0b0 => 0,
                    0b10 => 14,
                    0b110 => 17,
                    0b1110 => 20,
                    0b1111 => 64,
                    other => panic!("bad dod prefix {other:b}"),
                };
                let dod = if sz == 0 {
                    0i64
                } else if sz == 64 {
                    r.read(64) as i64
                } else {
                    let mut bits = r.read(sz) as i64;
                    if bits > 1 << (sz - 1) {
                        bits -= 1 << sz;
                    }
                    bits
                };
                delta = (delta as i64 + dod) as u64;
                t += delta as i64;
                v = read_value(&mut r, v, &mut leading, &mut trailing);
            }
        }
        out.push((t, v));
    }
    out
}

fn read_value(r: &mut BitReader<'_>, v: u64, leading: &mut u32, trailing: &mut u32) -> u64 {
    if r.read(1) == 0 {
        return v;
    }
    if r.read(1) == 1 {
        *leading = r.read(5) as u32;
        let mut sig = r.read(6) as u32;
        if sig == 0 {
            sig = 64;
        }
        *trailing = 64 - *leading - sig;
    }
    let sig = 64 - *leading - *trailing;
    let bits = r.read(sig);
    v ^ (bits << *trailing)
}
