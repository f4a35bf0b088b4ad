//! Chunk decode/encode speed as the *minimum* over repeated runs, which is
//! robust on a shared, busy machine where criterion's means wander.
//! `cargo run --release -p hourglass-storage --example codec_min_time`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/support/mod.rs"]
mod support;

use hourglass_storage::Sample;
use hourglass_storage::chunk::Chunk;
use hourglass_storage::internals::XorAppender;
use std::hint::black_box;
use std::time::Instant;
use support::Rng;

fn shape(name: &str, r: &mut Rng) -> Vec<Sample> {
    let mut v = 1000.0f64;
    let mut c = 4523i64;
    (0..120i64)
        .map(|i| {
            let jitter = if name.contains("jitter") {
                (r.next() % 7) as i64 - 3
            } else {
                0
            };
            let t = 1_763_800_000_000 + i * 15_000 + jitter;
            let x = match name {
                n if n.starts_with("counter") => {
                    v += (r.next() % 6) as f64;
                    v
                }
                n if n.starts_with("gauge") => {
                    c += (r.next() % 41) as i64 - 20;
                    c as f64 / 100.0
                }
                n if n.starts_with("float") => (r.next() >> 11) as f64 / (1u64 << 53) as f64,
                _ => 4.0,
            };
            Sample::new(t, x)
        })
        .collect()
}

fn main() {
    for name in ["counter", "gauge", "constant", "float", "gauge-jitter"] {
        let mut r = Rng(42);
        let data: Vec<Vec<Sample>> = (0..1000).map(|_| shape(name, &mut r)).collect();
        let encode = |d: &[Sample]| {
            let mut a = XorAppender::new();
            for &s in d {
                let _ = a.append(s);
            }
            a.to_chunk()
        };
        let chunks: Vec<Chunk> = data.iter().map(|d| encode(d)).collect();
        let n = (data.len() * 120) as f64;
        let (mut best_dec, mut best_enc) = (f64::MAX, f64::MAX);
        for _ in 0..30 {
            let t = Instant::now();
            let mut acc = 0u64;
            for c in &chunks {
                for s in c.iter() {
                    acc = acc.wrapping_add(s.v.to_bits() ^ s.t as u64);
                }
            }
            black_box(acc);
            best_dec = best_dec.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            for d in &data {
                black_box(encode(d));
            }
            best_enc = best_enc.min(t.elapsed().as_secs_f64());
        }
        let bytes: usize = chunks.iter().map(|c| c.as_bytes().len()).sum();
        println!(
            "{name:<14} decode {:>6.1} M/s  encode {:>5.1} M/s  {:.3} B/sample",
            n / best_dec / 1e6,
            n / best_enc / 1e6,
            bytes as f64 / n
        );
    }
}
