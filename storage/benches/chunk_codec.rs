//! Chunk encode/decode throughput and size per named data shape.
//!
//! Each shape is 1,000 series × 120 samples (one chunk each) from a fixed
//! seed, appended and sealed as the head seals a full chunk (XOR, or packed
//! when that is smaller). Throughput is in samples; bytes/sample (sealed
//! chunk: header, stream and CRC) and the share of packed chunks are
//! printed once per shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hourglass_storage::Sample;
use hourglass_storage::chunk::{self, Chunk};
use hourglass_storage::internals::{ENCODING_PACKED, XorAppender};
use std::hint::black_box;

const SERIES: usize = 1_000;
const PER_CHUNK: usize = 120;
const T0: i64 = 1_763_800_000_000;
const INTERVAL_MS: i64 = 15_000;

/// SplitMix64: tiny, fixed-seed, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Gen = fn(&mut Rng, usize) -> Vec<Sample>;

fn times(r: &mut Rng, jitter_ms: u64) -> Vec<i64> {
    let off = r.below(INTERVAL_MS as u64) as i64;
    (0..PER_CHUNK as i64)
        .map(|i| {
            let j = if jitter_ms == 0 {
                0
            } else {
                r.below(2 * jitter_ms + 1) as i64 - jitter_ms as i64
            };
            T0 + off + i * INTERVAL_MS + j
        })
        .collect()
}

fn counter(r: &mut Rng, ts: Vec<i64>) -> Vec<Sample> {
    let mut v = r.below(1_000_000) as f64;
    let rate = r.below(20);
    ts.into_iter()
        .map(|t| {
            // Many counters idle most scrapes (errors, drops).
            if rate > 3 || r.below(4) == 0 {
                v += r.below(rate + 1) as f64;
            }
            Sample::new(t, v)
        })
        .collect()
}

fn gauge2(r: &mut Rng, ts: Vec<i64>) -> Vec<Sample> {
    let mut c = 2_000 + r.below(8_000) as i64;
    ts.into_iter()
        .map(|t| {
            c += r.below(41) as i64 - 20;
            Sample::new(t, c as f64 / 100.0)
        })
        .collect()
}

fn constant(r: &mut Rng, ts: Vec<i64>) -> Vec<Sample> {
    let v = [0.0, 1.0, 4.0, 1.7e10][r.below(4) as usize];
    ts.into_iter().map(|t| Sample::new(t, v)).collect()
}

fn shape_counter(r: &mut Rng, _: usize) -> Vec<Sample> {
    let ts = times(r, 0);
    counter(r, ts)
}
fn shape_gauge2(r: &mut Rng, _: usize) -> Vec<Sample> {
    let ts = times(r, 0);
    gauge2(r, ts)
}
fn shape_constant(r: &mut Rng, _: usize) -> Vec<Sample> {
    let ts = times(r, 0);
    constant(r, ts)
}
/// node-exporter-like mix: 40% constants, 40% counters, 20% 2-decimal
/// gauges, scraped with up to `jitter_ms` of timestamp jitter.
fn mix(r: &mut Rng, i: usize, jitter_ms: u64) -> Vec<Sample> {
    let ts = times(r, jitter_ms);
    match i % 5 {
        0 | 1 => constant(r, ts),
        2 | 3 => counter(r, ts),
        _ => gauge2(r, ts),
    }
}
fn shape_mix(r: &mut Rng, i: usize) -> Vec<Sample> {
    mix(r, i, 0)
}
fn shape_mix_jitter(r: &mut Rng, i: usize) -> Vec<Sample> {
    mix(r, i, 3)
}
fn shape_random_float(r: &mut Rng, _: usize) -> Vec<Sample> {
    let ts = times(r, 0);
    ts.into_iter()
        .map(|t| Sample::new(t, r.unit() * 1e3))
        .collect()
}

const SHAPES: [(&str, Gen); 7] = [
    ("t=15s/v=counter", shape_counter),
    ("t=15s/v=gauge-2dec", shape_gauge2),
    ("t=15s/v=constant", shape_constant),
    ("t=15s/v=node-mix", shape_mix),
    ("t=15s±3ms/v=node-mix", shape_mix_jitter),
    ("t=15s/v=random-float", shape_random_float),
    ("t=15s±3ms/v=random-float", |r, _| {
        let ts = times(r, 3);
        ts.into_iter().map(|t| Sample::new(t, r.unit())).collect()
    }),
];

fn data(g: Gen) -> Vec<Vec<Sample>> {
    let mut r = Rng(42);
    (0..SERIES).map(|i| g(&mut r, i)).collect()
}

fn encode(series: &[Sample]) -> Chunk {
    let mut a = XorAppender::new();
    for &s in series {
        let _ = a.append(s);
    }
    chunk::seal(&a)
}

/// Every sample of `chunks` read one at a time, folded so none is skipped.
fn scan(chunks: &[Chunk]) -> u64 {
    let mut acc = 0u64;
    for c in chunks {
        for s in c.iter() {
            acc = acc.wrapping_add(s.v.to_bits() ^ s.t as u64);
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let mut enc = c.benchmark_group("chunk_encode");
    enc.throughput(Throughput::Elements((SERIES * PER_CHUNK) as u64));
    let mut sized = Vec::new();
    for (name, g) in SHAPES {
        let d = data(g);
        let chunks: Vec<Chunk> = d.iter().map(|s| encode(s)).collect();
        let bytes: usize = chunks.iter().map(|c| c.as_bytes().len()).sum();
        let bps = bytes as f64 / (SERIES * PER_CHUNK) as f64;
        let packed = chunks
            .iter()
            .filter(|c| c.as_bytes()[0] == ENCODING_PACKED)
            .count();
        println!("bytes/sample {name:<28} {bps:.3} ({packed} of {SERIES} chunks packed)");
        enc.bench_with_input(BenchmarkId::from_parameter(name), &d, |b, d| {
            b.iter(|| {
                for s in d {
                    black_box(encode(s));
                }
            })
        });
        sized.push((name, chunks));
    }
    enc.finish();

    // Cold encoding (persisted hours, compaction): the encoder that skips
    // the XOR stream where a grid chunk is under what any XOR chunk takes,
    // against `encode_cold`, which builds and compares every encoding.
    // The chunks are the same bytes.
    let mut cold = c.benchmark_group("chunk_encode_cold");
    cold.throughput(Throughput::Elements((SERIES * PER_CHUNK) as u64));
    for (name, g) in SHAPES {
        let d = data(g);
        for s in &d {
            let full = chunk::encode_cold(s).unwrap();
            let fast = chunk::ColdEncoder::default().encode(s).unwrap();
            assert_eq!(full.as_bytes(), fast.as_bytes(), "{name}");
        }
        cold.bench_with_input(BenchmarkId::new("every_encoding", name), &d, |b, d| {
            b.iter(|| {
                for s in d {
                    black_box(chunk::encode_cold(s).unwrap());
                }
            })
        });
        cold.bench_with_input(BenchmarkId::new("cold_encoder", name), &d, |b, d| {
            b.iter(|| {
                for s in d {
                    black_box(chunk::ColdEncoder::default().encode(s).unwrap());
                }
            })
        });
    }
    cold.finish();

    let mut dec = c.benchmark_group("chunk_decode");
    dec.throughput(Throughput::Elements((SERIES * PER_CHUNK) as u64));
    for (name, chunks) in &sized {
        dec.bench_with_input(BenchmarkId::from_parameter(name), chunks, |b, chunks| {
            b.iter(|| black_box(scan(chunks)))
        });
    }
    dec.finish();

    // Cold chunks (grid, sparse grid, packed or XOR, whichever is
    // smallest), as partitions hold them: read sample by sample, and in
    // bulk as range queries do.
    let mut cold_dec = c.benchmark_group("chunk_decode_cold");
    cold_dec.throughput(Throughput::Elements((SERIES * PER_CHUNK) as u64));
    for (name, g) in SHAPES {
        let chunks: Vec<Chunk> = data(g)
            .iter()
            .map(|s| chunk::encode_cold(s).unwrap())
            .collect();
        let bytes: usize = chunks.iter().map(|c| c.as_bytes().len()).sum();
        let bps = bytes as f64 / (SERIES * PER_CHUNK) as f64;
        println!("cold bytes/sample {name:<28} {bps:.3}");
        cold_dec.bench_with_input(BenchmarkId::new("iter", name), &chunks, |b, chunks| {
            b.iter(|| black_box(scan(chunks)))
        });
        cold_dec.bench_with_input(BenchmarkId::new("bulk", name), &chunks, |b, chunks| {
            let mut out = Vec::with_capacity(PER_CHUNK);
            b.iter(|| {
                for c in chunks {
                    out.clear();
                    c.view().decode_into(&mut out).unwrap();
                    black_box(&out);
                }
            })
        });
    }
    cold_dec.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
