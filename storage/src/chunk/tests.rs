use super::*;
use crate::Sample;
use crate::model::sample::STALE_NAN_BITS;
use proptest::prelude::*;

/// Sealed as the head seals a full chunk: packed when that is smaller.
fn encode(samples: &[Sample]) -> Chunk {
    let mut a = XorAppender::new();
    for &s in samples {
        a.append(s).unwrap();
    }
    let sealed = seal(&a);
    assert_eq!(&sealed, &super::encode(samples).unwrap());
    sealed
}

#[track_caller]
fn check_round_trip(samples: &[Sample]) {
    let c = encode(samples);
    let got = decode_all(c.as_bytes()).unwrap();
    assert_eq!(got.len(), samples.len());
    for (g, w) in got.iter().zip(samples) {
        assert_eq!(g.t, w.t);
        assert_eq!(g.v.to_bits(), w.v.to_bits(), "t={} want {:?}", w.t, w.v);
    }
}

const SPECIAL_BITS: [u64; 12] = [
    STALE_NAN_BITS,
    0x7ff8_0000_0000_0000, // canonical NaN
    0xfff8_0000_0000_0001, // negative NaN with payload
    0x7ff0_0000_0000_0001, // signalling NaN
    0x7ff0_0000_0000_0000, // +Inf
    0xfff0_0000_0000_0000, // -Inf
    0x8000_0000_0000_0000, // -0.0
    0,                     // +0.0
    1,                     // smallest subnormal
    0x7fef_ffff_ffff_ffff, // f64::MAX
    0x3fd6_8f5c_28f5_c28f, // 0.355
    0xc059_0000_0000_0000, // -100.0
];

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(SPECIAL_BITS.to_vec()).prop_map(f64::from_bits),
        any::<u64>().prop_map(f64::from_bits),
        (-1_000_000i64..1_000_000, 0u32..4).prop_map(|(n, k)| n as f64 / 10f64.powi(k as i32)),
        (0i64..20).prop_map(|n| n as f64),
    ]
}

pub(super) fn series() -> impl Strategy<Value = Vec<Sample>> {
    (
        any::<i64>().prop_map(|t| t >> 2),
        prop::collection::vec(
            (
                prop_oneof![
                    Just(15_000i64),
                    14_990i64..15_010,
                    1i64..100_000,
                    1i64..(1 << 40),
                ],
                value(),
            ),
            0..300,
        ),
    )
        .prop_map(|(t0, steps)| {
            let mut t = t0;
            let mut out = Vec::new();
            for (d, v) in steps {
                match t.checked_add(d) {
                    Some(n) => t = n,
                    None => break,
                }
                out.push(Sample::new(t, v));
            }
            out
        })
}

/// Samples exactly `d` apart with decimal values of a few scales: what
/// the packed encoding takes (unless a value needs more than scale 6).
pub(super) fn regular_series() -> impl Strategy<Value = Vec<Sample>> {
    (
        any::<i64>().prop_map(|t| t >> 12),
        prop_oneof![Just(15_000i64), 1i64..100_000],
        0u32..4,
        prop::collection::vec(
            prop_oneof![
                4 => 0i64..200,
                2 => -50i64..50,
                1 => Just(0i64),
                1 => -(1i64 << 40)..(1i64 << 40),
            ],
            0..300,
        ),
        -(1i64 << 30)..(1i64 << 30),
    )
        .prop_map(|(t0, d, k, steps, n0)| {
            let p = 10f64.powi(k as i32);
            let mut n = n0;
            steps
                .iter()
                .enumerate()
                .map(|(i, &step)| {
                    n = n.saturating_add(step).clamp(-(1 << 50), 1 << 50);
                    Sample::new(t0 + i as i64 * d, n as f64 / p)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn regular_decimal_chunks_round_trip_packed(samples in regular_series()) {
        check_round_trip(&samples);
        if let Some(p) = packed::encode(&samples) {
            prop_assert_eq!(p.as_bytes()[0], ENCODING_PACKED);
            prop_assert_eq!(decode_all(p.as_bytes()).unwrap(), samples.clone());
        } else {
            // Only fewer than two samples, or a value without a decimal form.
            prop_assert!(samples.len() < 2 || samples.iter().any(|s| xor::decimal_repr(s.v).is_none()));
        }
    }

    #[test]
    fn range_decoding_is_decoding_then_clipping(
        samples in prop_oneof![series(), regular_series()],
        lo in (any::<usize>(), -1i64..=1, any::<i64>(), any::<bool>()),
        hi in (any::<usize>(), -1i64..=1, any::<i64>(), any::<bool>()),
        prefix in 0usize..2,
    ) {
        let c = encode(&samples);
        // Bounds on, just before or just after a sample, or anywhere.
        let near = |(i, off, anywhere, free): (usize, i64, i64, bool)| {
            match samples.get(i % (samples.len() + 1)) {
                Some(s) if !free => s.t.saturating_add(off),
                _ => anywhere,
            }
        };
        let from = near(lo);
        let to = near(hi).max(from);
        let mut got = vec![Sample::new(-1, 0.5); prefix];
        c.view().decode_range_into(from, to, &mut got).unwrap();
        let want: Vec<Sample> = samples.iter().copied().filter(|s| s.t >= from && s.t <= to).collect();
        prop_assert_eq!(&got[prefix..], &want[..]);
    }

    #[test]
    fn round_trips_against_a_vec(samples in series()) {
        check_round_trip(&samples);
    }

    #[test]
    fn seek_agrees_with_a_linear_scan(samples in prop_oneof![series(), regular_series()], probes in prop::collection::vec(any::<i64>(), 1..8)) {
        let c = encode(&samples);
        let mut probes = probes;
        if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
            probes.push(f.t);
            probes.push(l.t);
            probes.push(f.t.saturating_add((l.t - f.t) / 2));
        }
        probes.sort();
        let mut it = c.iter();
        let mut pos = 0;
        for p in probes {
            while pos < samples.len() && samples[pos].t < p {
                pos += 1;
            }
            prop_assert_eq!(it.seek(p), samples.get(pos).copied());
        }
        prop_assert!(it.error().is_none());
    }

    #[test]
    fn decode_into_agrees_with_the_iterator(
        samples in prop_oneof![series(), regular_series()],
        prefix in 0usize..3,
        taken in 0usize..4,
    ) {
        let c = encode(&samples);
        let mut out = vec![Sample::new(-1, 0.5); prefix];
        c.view().decode_into(&mut out).unwrap();
        prop_assert_eq!(&out[prefix..], &c.iter().collect::<Vec<_>>()[..]);
        prop_assert_eq!(&out[prefix..], &samples[..]);
        // From part way through, after `next` and `seek`.
        let mut it = c.iter();
        let mut got: Vec<Sample> = it.by_ref().take(taken).collect();
        if let Some(s) = samples.get(taken + 1) {
            got.extend(it.seek(s.t));
            prop_assert_eq!(got.len(), taken + 1);
            got.pop();
            got.extend(samples.get(taken).copied());
            got.push(*s);
        }
        it.decode_into(&mut got).unwrap();
        prop_assert_eq!(got, samples);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_decode(&bytes);
    }
}

#[test]
fn random_bytes_with_valid_headers_never_panic() {
    // Deterministic xorshift so CI always runs the same 20k inputs.
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let len = rng.u64(..200) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if b.len() >= 3 {
            b[0] = [
                ENCODING_XOR,
                ENCODING_PACKED,
                ENCODING_GRID,
                ENCODING_SPARSE_GRID,
                ENCODING_SPARSE_GAPS,
                ENCODING_GRID_RADIX,
                ENCODING_SPARSE_GRID_RADIX,
                ENCODING_SPARSE_GAPS_RADIX,
            ][rng.u64(..8) as usize];
        }
        fuzz_decode(&b);
        fuzz_cold_round_trip(&b);
        // And with a CRC that matches, to reach the checked path.
        if b.len() >= 7 {
            let n = b.len() - 4;
            let crc = crc32fast::hash(&b[..n]).to_be_bytes();
            b[n..].copy_from_slice(&crc);
            fuzz_decode(&b);
        }
    }
}

#[test]
fn every_special_bit_pattern_round_trips_in_every_order() {
    for a in SPECIAL_BITS {
        for b in SPECIAL_BITS {
            let s: Vec<Sample> = [a, b, a, a, b, 0x4046_9d70_a3d7_0a3d, b]
                .iter()
                .enumerate()
                .map(|(i, &v)| Sample::new(i as i64 * 1000, f64::from_bits(v)))
                .collect();
            check_round_trip(&s);
        }
    }
}

#[test]
fn empty_chunk_is_valid() {
    let c = XorAppender::new().to_chunk();
    assert_eq!(c.as_bytes().len(), HEADER_LEN + CRC_LEN);
    assert_eq!(decode_all(c.as_bytes()).unwrap(), vec![]);
}

#[test]
fn corruption_is_reported_not_panicked() {
    let s: Vec<Sample> = (0..120)
        .map(|i| Sample::new(i * 15_000, i as f64 * 0.25))
        .collect();
    // The XOR stream (a packed chunk of equal steps has no fields to run
    // short of: only its CRC notices a wrong count).
    let mut a = XorAppender::new();
    for &p in &s {
        a.append(p).unwrap();
    }
    let c = a.to_chunk();
    let mut b = c.as_bytes().to_vec();
    b[10] ^= 0x40;
    assert!(matches!(decode_all(&b), Err(ChunkError::Checksum { .. })));
    b[0] = 0x7f;
    assert_eq!(decode_all(&b), Err(ChunkError::UnknownEncoding(0x7f)));
    assert_eq!(decode_all(&b[..5]), Err(ChunkError::TooShort { len: 5 }));
    // A header claiming more samples than the stream holds.
    let mut b = c.as_bytes().to_vec();
    b[1] = 0x01;
    let n = b.len() - 4;
    let crc = crc32fast::hash(&b[..n]).to_be_bytes();
    b[n..].copy_from_slice(&crc);
    let err = decode_all(&b).unwrap_err();
    assert!(matches!(err, ChunkError::Corrupt { .. }), "{err}");
}

#[test]
fn scrape_aligned_data_is_compact() {
    // Exact 15 s interval: counter with small increments.
    let s: Vec<Sample> = (0..120i64)
        .map(|i| {
            Sample::new(
                1_700_000_000_000 + i * 15_000,
                (1000 + i * 3 + i % 4) as f64,
            )
        })
        .collect();
    let c = encode(&s);
    let bps = c.as_bytes().len() as f64 / 120.0;
    // Increments of 0..=4 at one interval: packed, 3 bits a sample.
    assert_eq!(c.as_bytes()[0], ENCODING_PACKED);
    assert!(bps < 0.6, "{bps} bytes/sample");
    // The same with a few ms of scrape jitter stays XOR.
    let jittered: Vec<Sample> = s.iter().map(|p| Sample::new(p.t + p.t % 7, p.v)).collect();
    let c = encode(&jittered);
    assert_eq!(c.as_bytes()[0], ENCODING_XOR);
    assert!((c.as_bytes().len() as f64 / 120.0) < 1.6);
}

#[test]
fn packed_headers_are_checked() {
    let s: Vec<Sample> = (0..10)
        .map(|i| Sample::new(i * 1000, (i * i) as f64))
        .collect();
    let good = packed::encode(&s).unwrap().as_bytes().to_vec();
    let resealed = |mut b: Vec<u8>| {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]).to_be_bytes();
        b[n..].copy_from_slice(&crc);
        b
    };
    let corrupt = |b: Vec<u8>| matches!(decode_all(&resealed(b)), Err(ChunkError::Corrupt { .. }));
    // Fewer than two samples; more samples than fields; the interval's
    // varint cut short (t0 is 0, one byte; d follows).
    let mut b = good.clone();
    b[2] = 1;
    assert!(corrupt(b));
    let mut b = good.clone();
    b[1] = 0x10;
    assert!(corrupt(b));
    let mut b = good.clone();
    b.truncate(HEADER_LEN + 1);
    b.extend_from_slice(&[0x80, 0, 0, 0, 0]);
    assert!(corrupt(b));
    assert_eq!(decode_all(&good).unwrap(), s);
}

#[test]
fn cut_policy_honours_count_and_boundary() {
    let p = CutPolicy {
        max_samples: 3,
        boundary_ms: 3_600_000,
    };
    let mut a = XorAppender::new();
    assert!(!p.should_cut(&a, 0));
    a.append(Sample::new(3_599_000, 1.0)).unwrap();
    assert!(p.should_cut(&a, 3_600_000));
    assert!(!p.should_cut(&a, 3_599_500));
    a.append(Sample::new(3_599_100, 1.0)).unwrap();
    a.append(Sample::new(3_599_200, 1.0)).unwrap();
    assert!(p.should_cut(&a, 3_599_300));
}
