//! Round trips and damage for histogram chunks.

use super::{decode, encode};
use crate::damage::check_damage;
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

/// `series` at `rate` requests/s with Poisson arrivals spread over the
/// buckets by `weights`, the sum a float of full precision (measured
/// durations): the shape of a real service's latency histogram.
fn service(n: usize, rate: f64, seed: u64) -> Vec<(i64, FloatHistogram)> {
    service_as(n, rate, seed, |x| x)
}

/// [`service`] with each observation measured as whole nanoseconds
/// (`time.Since(t).Seconds()`), added to the sum one at a time.
fn service_ns(n: usize, rate: f64, seed: u64) -> Vec<(i64, FloatHistogram)> {
    service_as(n, rate, seed, |x| (x * 1e9).floor() / 1e9)
}

fn service_as(
    n: usize,
    rate: f64,
    seed: u64,
    measure: impl Fn(f64) -> f64,
) -> Vec<(i64, FloatHistogram)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let weights: Vec<f64> = (0..20)
        .map(|b| (-((b as f64 - 10.0) / 4.0).powi(2)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut out = series(n, |_, _| 0);
    let mut counts = [0f64; 20];
    let mut sum = 0.0;
    for (_, h) in &mut out {
        for (b, c) in counts.iter_mut().enumerate() {
            // Poisson by inversion: small means only.
            let lam = rate * 15.0 * weights[b] / total;
            let (mut k, mut p, limit) = (0u32, rng.f64(), (-lam).exp());
            while p > limit {
                k += 1;
                p *= rng.f64();
            }
            *c += f64::from(k);
            for _ in 0..k {
                sum += measure(0.02 * 1.19f64.powi(b as i32) * (1.0 + 0.19 * rng.f64()));
            }
        }
        h.positive_buckets = counts.to_vec();
        h.count = counts.iter().sum();
        h.sum = sum;
    }
    out
}

#[test]
fn a_20_bucket_latency_histogram_costs_about_a_byte_or_two_per_sample() {
    // Steady traffic (the same increments each scrape), noisy traffic
    // (each bucket's increment varies by a few observations), and a
    // service at a few rates with Poisson arrivals and measured sums.
    let steady = series(120, |_, b| (b as u64 % 5) + 1);
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let noisy = series(120, move |_, b| 10 + (b as u64 % 5) + rng.u64(..4));
    let cases = [
        ("steady", steady, 2.0),
        ("noisy", noisy, 17.0),
        ("service at 0.01/s", service(120, 0.01, 1), 3.0),
        ("service at 0.1/s", service(120, 0.1, 2), 12.0),
        ("service at 1/s", service(120, 1.0, 3), 24.0),
        (
            "service at 0.01/s, nanosecond sum",
            service_ns(120, 0.01, 1),
            2.0,
        ),
        (
            "service at 0.1/s, nanosecond sum",
            service_ns(120, 0.1, 2),
            10.0,
        ),
        (
            "service at 1/s, nanosecond sum",
            service_ns(120, 1.0, 3),
            20.0,
        ),
    ];
    for (name, s, most) in &cases {
        let c = encode(s).unwrap();
        assert_same(&decode(&c).unwrap(), s);
        let per = c.len() as f64 / s.len() as f64;
        println!(
            "histogram chunk, 20 buckets every 15 s, {name}: {per:.2} bytes/sample ({} bytes for {})",
            c.len(),
            s.len()
        );
        assert!(per <= *most, "{name}: {per}");
    }
}

/// `n` scrapes of one request at the start, then nothing: the sum has no
/// short decimal form, and repeats.
fn one_request_then_idle(n: usize) -> Vec<(i64, FloatHistogram)> {
    let mut s = service(n, 0.0, 4);
    for (_, h) in &mut s {
        h.positive_buckets[7] = 1.0;
        h.count = 1.0;
        h.sum = 0.123_456_789_012_345_67;
    }
    s
}

#[test]
fn an_idle_scrape_costs_about_a_byte_even_with_a_measured_sum() {
    let s = one_request_then_idle(120);
    let c = encode(&s).unwrap();
    assert_same(&decode(&c).unwrap(), &s);
    let per = c.len() as f64 / s.len() as f64;
    assert!(per <= 1.3, "{per} bytes/sample");
}

#[test]
fn an_idle_scrape_costs_two_bits() {
    // Every later scrape is a timestamp delta-of-delta of 0 and the
    // repeat bit.
    let s = one_request_then_idle(241);
    // (The second sample differs: its hint is "no reset".)
    let two = encode(&s[..2]).unwrap().len();
    let c = encode(&s).unwrap();
    assert_same(&decode(&c).unwrap(), &s);
    let bits = 8 * (c.len() - two);
    assert!((239 * 2..239 * 2 + 16).contains(&bits), "{bits} bits");
}

#[test]
fn a_sum_moved_by_whole_nanoseconds_is_coded_as_their_number() {
    // One observation of 123.456789 ms a scrape, on a sum already large.
    let mut s = service(120, 0.0, 5);
    let mut sum = 86_400.0 * 3.0;
    for (k, (_, h)) in s.iter_mut().enumerate() {
        h.positive_buckets[7] = k as f64;
        h.count = k as f64;
        h.sum = sum;
        sum += 123_456_789.0 / 1e9;
    }
    let c = encode(&s).unwrap();
    assert_same(&decode(&c).unwrap(), &s);
    // About 27 bits of nanoseconds, 6 of length and the ulps, not a XOR
    // of 50-odd bits.
    let per = c.len() as f64 / s.len() as f64;
    assert!(per <= 6.5, "{per} bytes/sample");
}

/// Chunks as version 1 wrote them (the encoder before version 2):
/// `series(12, |i, b| ((i * 3 + b) % 4) as u64)` with the sum of sample 5
/// set to 1/3 and sample 9 a stale marker.
const V1_CHUNK: &str = include_str!("testdata/histogram_v1.hex");

fn v1_samples() -> Vec<(i64, FloatHistogram)> {
    let mut s = series(12, |i, b| ((i * 3 + b) % 4) as u64);
    s[5].1.sum = 1.0 / 3.0;
    s[9].1 = FloatHistogram::stale_marker();
    s
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn version_1_chunks_still_read() {
    let bytes = unhex(V1_CHUNK);
    assert_eq!(bytes[0], super::ENCODING_HISTOGRAM_V1);
    assert_same(&decode(&bytes).unwrap(), &v1_samples());
    let again = encode(&v1_samples()).unwrap();
    assert_eq!(again[0], super::ENCODING_HISTOGRAM);
    assert_same(&decode(&again).unwrap(), &v1_samples());
}

/// The same samples as version 2 wrote them (the encoder before version
/// 3).
const V2_CHUNK: &str = include_str!("testdata/histogram_v2.hex");

#[test]
fn version_2_chunks_still_read() {
    let bytes = unhex(V2_CHUNK);
    assert_eq!(bytes[0], super::ENCODING_HISTOGRAM_V2);
    assert_same(&decode(&bytes).unwrap(), &v1_samples());
}

#[test]
fn a_range_decodes_only_its_samples() {
    let s = service(50, 1.0, 5);
    let c = encode(&s).unwrap();
    let mut got = Vec::new();
    super::decode_range_into(&c, s[10].0, s[19].0, &mut got).unwrap();
    assert_same(&got, &s[10..20]);
    super::decode_range_into(&c, s[45].0 + 1, i64::MAX, &mut got).unwrap();
    assert_same(
        &got,
        &s[10..20]
            .iter()
            .chain(&s[46..])
            .cloned()
            .collect::<Vec<_>>(),
    );
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
    check_damage(&c, decode, 2_000, |d| assert!(decode(d).is_err()));
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
    fn services_with_idle_buckets_and_measured_sums_round_trip(
        rate in 0.0f64..5.0,
        seed in any::<u64>(),
        n in 1usize..150,
        cut in 0usize..150,
    ) {
        let mut s = service(n, rate, seed);
        // A counter reset part way: the deltas turn negative once.
        for (_, h) in s.iter_mut().skip(cut) {
            h.positive_buckets.iter_mut().for_each(|c| *c = (*c / 2.0).floor());
            h.count = h.positive_buckets.iter().sum();
        }
        assert_same(&decode(&encode(&s).unwrap()).unwrap(), &s);
    }

    #[test]
    fn nanosecond_sums_round_trip_bit_exact(
        start in prop_oneof![Just(0.0f64), 0.0f64..1e3, 1e6f64..1e12, -1e3f64..0.0],
        scrapes in prop::collection::vec(prop::collection::vec(0u64..5_000_000_000, 0..6), 1..60),
        idle_every in 1usize..5,
    ) {
        let mut s = series(scrapes.len(), |i, b| u64::from(b == 3 && i % idle_every == 0));
        let mut sum = start;
        for ((_, h), obs) in s.iter_mut().zip(&scrapes) {
            for ns in obs {
                sum += *ns as f64 / 1e9;
            }
            h.sum = sum;
        }
        assert_same(&decode(&encode(&s).unwrap()).unwrap(), &s);
    }

    #[test]
    fn any_histograms_round_trip_bit_exact(
        hs in prop::collection::vec((1i64..100_000, arb_histogram()), 0..40),
        start in -1_000_000_000_000i64..2_000_000_000_000,
    ) {
        let mut t = start;
        let samples: Vec<(i64, FloatHistogram)> = hs.into_iter().map(|(d, h)| { t += d; (t, h) }).collect();
        assert_same(&decode(&encode(&samples).unwrap()).unwrap(), &samples);
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
            // The encoding byte picks the version in the fuzz body.
            data = good[..good.len() - 4].to_vec();
            let i = rng.usize(..data.len());
            data[i] ^= rng.u8(1..);
        }
        super::fuzz_decode(&data);
    }
}
