//! Round trips and damage for histogram chunks.

use super::{decode, encode};
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};
use crate::model::sample::STALE_NAN_BITS;
use proptest::prelude::*;

/// A 20-bucket latency histogram scraped every 15 s: `obs(i, b)` new
/// observations in bucket `b` before scrape `i`.
fn series(n: usize, mut obs: impl FnMut(usize, usize) -> u64) -> Vec<(i64, FloatHistogram)> {
    let mut counts = [0u64; 20];
    let mut sum_ms = 0u64;
    (0..n)
        .map(|i| {
            for (b, c) in counts.iter_mut().enumerate() {
                let k = obs(i, b);
                *c += k;
                sum_ms += k * (b as u64 * 7 + 3);
            }
            let total: u64 = counts.iter().sum();
            let h = FloatHistogram {
                counter_reset_hint: if i == 0 {
                    CounterResetHint::Unknown
                } else {
                    CounterResetHint::NotCounterReset
                },
                schema: 3,
                zero_threshold: 2f64.powi(-128),
                count: total as f64,
                sum: sum_ms as f64 / 1000.0,
                positive_spans: vec![Span::new(-20, 20)],
                positive_buckets: counts.iter().map(|c| *c as f64).collect(),
                ..FloatHistogram::default()
            };
            (1_700_000_000_000 + i as i64 * 15_000, h)
        })
        .collect()
}

fn assert_same(got: &[(i64, FloatHistogram)], want: &[(i64, FloatHistogram)]) {
    assert_eq!(got.len(), want.len());
    for ((tg, g), (tw, w)) in got.iter().zip(want) {
        assert_eq!(tg, tw);
        assert!(g.same_bits(w), "at {tg}: {g:?} != {w:?}");
    }
}

#[test]
fn a_20_bucket_latency_histogram_costs_about_a_byte_or_two_per_sample() {
    // Steady traffic (the same increments each scrape) and noisy traffic
    // (each bucket's increment varies by a few observations).
    let steady = series(120, |_, b| (b as u64 % 5) + 1);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noisy = series(120, move |_, b| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        10 + (b as u64 % 5) + x % 4
    });
    for (name, s) in [("steady", &steady), ("noisy", &noisy)] {
        let c = encode(s).unwrap();
        assert_same(&decode(&c).unwrap(), s);
        let per = c.len() as f64 / s.len() as f64;
        println!(
            "histogram chunk, 20 buckets every 15 s, {name}: {per:.2} bytes/sample ({} bytes for {})",
            c.len(),
            s.len()
        );
        if name == "steady" {
            assert!(per <= 2.0, "{per}");
        }
    }
}

#[test]
fn layout_and_hint_changes_stale_markers_and_custom_buckets_round_trip() {
    let mut s = series(10, |i, b| (i * b) as u64 % 3);
    s[4].1.positive_spans = vec![Span::new(-20, 10), Span::new(2, 10)];
    s[5].1.counter_reset_hint = CounterResetHint::CounterReset;
    s[6].1 = FloatHistogram::stale_marker();
    s[7].1.schema = -53;
    s[7].1.zero_threshold = 0.0;
    s[7].1.custom_values = (1..=19).map(|x| f64::from(x) * 0.025).collect();
    s[8].1.negative_spans = vec![Span::new(i32::MIN, 2)];
    s[8].1.negative_buckets = vec![f64::NAN, -0.0];
    s[9].1.sum = 1e300;
    let c = encode(&s).unwrap();
    assert_same(&decode(&c).unwrap(), &s);
    assert!(encode(&[]).is_ok_and(|c| decode(&c).unwrap().is_empty()));
}

#[test]
fn damaged_chunks_are_errors_not_panics() {
    let s = series(30, |i, b| (i + b) as u64 % 4);
    let c = encode(&s).unwrap();
    for n in 0..c.len() {
        assert!(decode(&c[..n]).is_err(), "prefix of {n}");
    }
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..2_000 {
        let mut d = c.clone();
        let i = rng.usize(..d.len());
        d[i] ^= rng.u8(1..);
        assert!(decode(&d).is_err());
    }
    let mut out_of_order = s.clone();
    out_of_order[3].0 = out_of_order[2].0;
    assert!(encode(&out_of_order).is_err());
}

fn arb_histogram() -> impl Strategy<Value = FloatHistogram> {
    (
        0u8..4,
        -4i32..=8,
        prop::collection::vec((0i32..3, 1u32..4), 0..4),
        prop::collection::vec(any::<u64>(), 0..16),
        any::<u64>(),
        0u8..3,
    )
        .prop_map(|(hint, schema, spans, raw, sum_bits, shape)| {
            let spans: Vec<Span> = spans.into_iter().map(|(o, l)| Span::new(o, l)).collect();
            let n: usize = spans.iter().map(|s| s.length as usize).sum();
            let value = |x: u64| match shape {
                0 => f64::from_bits(x),
                1 => (x % 1000) as f64,
                _ => (x % 100_000) as f64 / 100.0,
            };
            let buckets: Vec<f64> = (0..n)
                .map(|i| value(raw.get(i).copied().unwrap_or(i as u64)))
                .collect();
            FloatHistogram {
                counter_reset_hint: CounterResetHint::from_u8(hint),
                schema,
                zero_threshold: 0.001,
                zero_count: value(sum_bits >> 3),
                count: value(sum_bits >> 1),
                sum: value(sum_bits),
                positive_spans: spans,
                positive_buckets: buckets,
                ..FloatHistogram::default()
            }
        })
}

proptest! {
    #[test]
    fn any_histograms_round_trip_bit_exact(
        hs in prop::collection::vec((1i64..100_000, arb_histogram()), 0..40),
        start in -1_000_000_000_000i64..2_000_000_000_000,
    ) {
        let mut t = start;
        let samples: Vec<(i64, FloatHistogram)> = hs.into_iter().map(|(d, h)| { t += d; (t, h) }).collect();
        let c = encode(&samples).unwrap();
        let got = decode(&c).unwrap();
        prop_assert_eq!(got.len(), samples.len());
        for ((tg, g), (tw, w)) in got.iter().zip(&samples) {
            prop_assert_eq!(tg, tw);
            prop_assert!(g.same_bits(w), "{:?} != {:?}", g, w);
        }
    }
}

#[test]
fn the_stale_marker_keeps_its_bits() {
    let s = vec![(5, FloatHistogram::stale_marker())];
    let got = decode(&encode(&s).unwrap()).unwrap();
    assert_eq!(got[0].1.sum.to_bits(), STALE_NAN_BITS);
}

#[test]
fn random_streams_behind_a_valid_header_never_panic() {
    let mut rng = fastrand::Rng::with_seed(17);
    let good = encode(&series(5, |i, b| (i + b) as u64)).unwrap();
    for _ in 0..3_000 {
        let n = rng.usize(0..200);
        let mut data: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
        if rng.bool() && good.len() > 7 {
            data = good[1..good.len() - 4].to_vec();
            let i = rng.usize(..data.len());
            data[i] ^= rng.u8(1..);
        }
        super::fuzz_decode(&data);
    }
}
