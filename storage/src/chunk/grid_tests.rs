//! The grid encodings (`0x03`, sparse `0x04` and `0x05`) against the samples they
//! were given.

use super::tests::{regular_series, series};
use super::*;
use crate::Sample;
use proptest::prelude::*;

/// Scrape-like samples: a fixed interval with jitter, decimal values moving
/// by steps of one size (pages, cents) with occasional resets.
fn jittered_series() -> impl Strategy<Value = Vec<Sample>> {
    scrape_like(prop::collection::vec(
        prop_oneof![
            8 => 0i64..64,
            1 => -64i64..0,
            1 => -(1i64 << 36)..(1i64 << 36),
        ],
        0..300,
    ))
}

/// The same, mostly idle: most scrapes repeat the value (an idle CPU
/// mode, a quiet interface), as the sparse grid expects.
fn idle_series() -> impl Strategy<Value = Vec<Sample>> {
    scrape_like(prop::collection::vec(
        prop_oneof![
            30 => Just(0i64),
            2 => -64i64..64,
            1 => -(1i64 << 36)..(1i64 << 36),
        ],
        0..300,
    ))
}

/// Rarely moving: about one scrape in forty changes the value (a quiet
/// counter), as the sparse grid's gap list (`0x05`) expects.
fn rare_series() -> impl Strategy<Value = Vec<Sample>> {
    scrape_like(prop::collection::vec(
        prop_oneof![
            40 => Just(0i64),
            1 => -64i64..64,
        ],
        0..600,
    ))
}

/// Samples whose values move by `steps` times one step size.
fn scrape_like(steps: impl Strategy<Value = Vec<i64>>) -> impl Strategy<Value = Vec<Sample>> {
    (
        any::<i64>().prop_map(|t| t >> 12),
        prop_oneof![Just(15_000i64), 1i64..100_000],
        0i64..8,
        prop_oneof![Just(1i64), Just(4096i64), 1i64..1000],
        0u32..4,
        steps,
        any::<u64>(),
    )
        .prop_map(|(t0, d, jitter, step, k, steps, seed)| {
            let p = 10f64.powi(k as i32);
            let mut n = 0i64;
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut prev = i64::MIN;
            let mut out = Vec::with_capacity(steps.len());
            for (i, &s) in steps.iter().enumerate() {
                let x = rng.u64(..);
                let j = (x % (2 * jitter as u64 + 1)) as i64 - jitter;
                let t = (t0 + i as i64 * d + j).max(prev + 1);
                prev = t;
                n = n
                    .saturating_add(s.saturating_mul(step))
                    .clamp(-(1 << 50), 1 << 50);
                out.push(Sample::new(t, n as f64 / p));
            }
            out
        })
}

fn any_series() -> impl Strategy<Value = Vec<Sample>> {
    prop_oneof![
        jittered_series(),
        idle_series(),
        rare_series(),
        series(),
        regular_series()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn grid_chunks_round_trip(samples in any_series()) {
        match grid::encode(&samples) {
            Some(c) => {
                prop_assert!(is_grid(c.as_bytes()[0]));
                // The fixed-width columns, as older binaries wrote them, still
                // decode; mixed radix is chosen only when smaller.
                let fixed = grid::encode_fixed(&samples).unwrap();
                prop_assert!([ENCODING_GRID, ENCODING_SPARSE_GRID, ENCODING_SPARSE_GAPS].contains(&fixed.as_bytes()[0]));
                prop_assert!(c.as_bytes().len() <= fixed.as_bytes().len());
                for chunk in [&c, &fixed] {
                    let got = decode_all(chunk.as_bytes()).unwrap();
                    prop_assert_eq!(got.len(), samples.len());
                    for (g, w) in got.iter().zip(&samples) {
                        prop_assert_eq!(g.t, w.t);
                        prop_assert_eq!(g.v.to_bits(), w.v.to_bits());
                    }
                }
            }
            // Only fewer than two samples, or a value without a decimal form.
            None => prop_assert!(
                samples.len() < 2 || samples.iter().any(|s| xor::decimal_repr(s.v).is_none())
            ),
        }
    }

    #[test]
    fn cold_encoding_is_the_smallest_and_round_trips(samples in any_series()) {
        let cold = encode_cold(&samples).unwrap();
        let hot = super::encode(&samples).unwrap();
        prop_assert!(cold.as_bytes().len() <= hot.as_bytes().len());
        prop_assert_eq!(decode_all(cold.as_bytes()).unwrap().len(), samples.len());
        let mut got = Vec::new();
        cold.view().decode_into(&mut got).unwrap();
        prop_assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(&samples) {
            prop_assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()));
        }
    }

    #[test]
    fn grid_ranges_and_seeks_agree_with_a_scan(
        samples in prop_oneof![jittered_series(), idle_series(), rare_series()],
        bounds in prop::collection::vec(any::<prop::sample::Index>(), 2),
        off in -2i64..=2,
    ) {
        let Some(c) = grid::encode(&samples) else { return Ok(()); };
        let at = |i: &prop::sample::Index| samples[i.index(samples.len())].t;
        let (from, to) = {
            let (a, b) = (at(&bounds[0]).saturating_add(off), at(&bounds[1]));
            (a.min(b), a.max(b))
        };
        let mut got = vec![Sample::new(-1, 0.5)];
        c.view().decode_range_into(from, to, &mut got).unwrap();
        let want: Vec<Sample> = samples.iter().copied().filter(|s| s.t >= from && s.t <= to).collect();
        prop_assert_eq!(&got[1..], &want[..]);
        let mut it = c.iter();
        prop_assert_eq!(it.seek(from), want.first().copied().or_else(|| samples.iter().copied().find(|s| s.t >= from)));
        let rest: Vec<Sample> = it.collect();
        let later: Vec<Sample> = samples.iter().copied().filter(|s| s.t > from).skip_while(|s| Some(s.t) == want.first().map(|w| w.t)).collect();
        prop_assert_eq!(rest, later);
    }
}

#[test]
fn jittered_scrapes_cost_their_jitter_and_step_not_xor_prefixes() {
    // ±3 ms jitter on 15 s, a counter moving by 0..=999 cents: 3 bits of
    // time and 10 of value a sample in the grid encoding.
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let mut n = 0i64;
    let samples: Vec<Sample> = (0..2048)
        .map(|i| {
            let x = rng.u64(..);
            n += (x % 1000) as i64;
            Sample::new(i * 15_000 + (x >> 32) as i64 % 7 - 3, n as f64 / 100.0)
        })
        .collect();
    let xor = super::encode(&samples).unwrap();
    let cold = encode_cold(&samples).unwrap();
    let per = |c: &Chunk| c.as_bytes().len() as f64 / samples.len() as f64;
    println!(
        "jittered counter, 2048 samples: XOR {:.3} B/sample, cold {:.3} (encoding {:#04x})",
        per(&xor),
        per(&cold),
        cold.as_bytes()[0]
    );
    // 7 time offsets and 1000 value steps are not powers of two: mixed
    // radix stores them at 2.81 and 9.97 bits, not 3 and 10.
    let fixed = grid::encode_fixed(&samples).unwrap();
    println!("same, fixed-width columns (0x03): {:.3}", per(&fixed));
    assert_eq!(cold.as_bytes()[0], ENCODING_GRID_RADIX);
    assert!(per(&cold) < 1.7, "{}", per(&cold));
    assert!(
        cold.as_bytes().len() * 100 < fixed.as_bytes().len() * 99,
        "{} vs {}",
        cold.as_bytes().len(),
        fixed.as_bytes().len()
    );
    // Memory in whole pages: the step 4096 costs no bits.
    let pages: Vec<Sample> = (0..1000)
        .map(|i| Sample::new(i * 15_000, ((i * 7919) % 61 * 4096 + (1 << 30)) as f64))
        .collect();
    let c = grid::encode(&pages).unwrap();
    assert!(
        c.as_bytes().len() < 1000 * 7 / 8 + 64,
        "{}",
        c.as_bytes().len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_cold_encoder_over_runs_round_trips_every_run(
        runs in prop::collection::vec(any_series(), 1..5),
    ) {
        let mut enc = ColdEncoder::default();
        for samples in &runs {
            let c = enc.encode(samples).unwrap();
            let got = decode_all(c.as_bytes()).unwrap();
            prop_assert_eq!(got.len(), samples.len());
            for (g, w) in got.iter().zip(samples) {
                prop_assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()));
            }
        }
    }
}

/// [`ColdEncoder::encode`] the long way: every run's XOR stream built and
/// compared, as before grids that XOR cannot reach skipped it.
fn cold_reference(won: &mut Option<u32>, samples: &[Sample]) -> Result<Chunk, ChunkError> {
    let grid = grid::encode_with_width(samples);
    if let (Some((g, bits)), Some(w)) = (&grid, *won)
        && *bits <= w
    {
        return Ok(g.clone());
    }
    let hot = encode(samples)?;
    Ok(match grid {
        Some((g, bits)) if g.as_bytes().len() < hot.as_bytes().len() => {
            if g.as_bytes().len() * 5 <= hot.as_bytes().len() * 4 {
                *won = Some(bits);
            }
            g
        }
        _ => hot,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_cold_encoder_chooses_as_when_it_built_every_xor_stream(
        runs in prop::collection::vec(any_series(), 1..5),
    ) {
        let (mut enc, mut won) = (ColdEncoder::default(), None);
        for samples in &runs {
            let fast = enc.encode(samples).map(|c| c.as_bytes().to_vec());
            let slow = cold_reference(&mut won, samples).map(|c| c.as_bytes().to_vec());
            prop_assert_eq!(fast, slow);
            prop_assert_eq!(enc.grid_won_at, won);
        }
    }
}

proptest! {
    #[test]
    fn a_majority_is_the_most_common_difference(
        xs in prop::collection::vec(prop_oneof![4 => Just(0i64), 1 => -3i64..3], 0..64),
    ) {
        let m = grid::majority(&xs);
        if let Some(m) = m {
            prop_assert_eq!(Some(m), grid::most_common(&xs));
        }
        let count = |v: i64| xs.iter().filter(|&&x| x == v).count();
        prop_assert_eq!(m.is_some(), xs.iter().any(|&x| count(x) * 2 > xs.len()));
    }
}

#[test]
fn an_idle_series_is_written_as_grid_without_its_xor_stream() {
    // Moves once in 240 scrapes: far under the two bits a sample any XOR
    // stream takes.
    let samples: Vec<Sample> = (0..240)
        .map(|i| {
            Sample::new(
                1_700_000_000_000 + i * 15_000,
                if i < 100 { 3.0 } else { 4.0 },
            )
        })
        .collect();
    let mut enc = ColdEncoder::default();
    let g = grid::encode_with_width(&samples).unwrap().0;
    assert!(g.as_bytes().len() * 5 <= xor::min_chunk_len(samples.len()) * 4);
    let c = enc.grid_beats_xor(&samples, &g, 0).unwrap();
    assert_eq!(c.as_bytes(), encode_cold(&samples).unwrap().as_bytes());
    assert!(enc.grid_won_at.is_some());
    // The least an XOR chunk takes is a true floor.
    for n in [2, 3, 17, 240, 2048] {
        let mut a = xor::XorAppender::new();
        for i in 0..n as i64 {
            a.append(Sample::new(i * 15_000, 0.0)).unwrap();
        }
        assert!(a.to_chunk().as_bytes().len() >= xor::min_chunk_len(n));
    }
}

#[test]
fn the_cold_encoder_measures_again_when_a_run_gets_wider() {
    let run = |from: i64, step: i64, reset: bool| -> Vec<Sample> {
        (0..2048)
            .map(|i| {
                let v = if reset && i == 1000 {
                    0
                } else {
                    from + i * step + i * i % 7
                };
                Sample::new((from + i) * 15_000 + i % 3, v as f64)
            })
            .collect()
    };
    let mut enc = ColdEncoder::default();
    let first = enc.encode(&run(0, 10, false)).unwrap();
    assert_eq!(grid_layout(first.as_bytes()[0]), ENCODING_GRID);
    // Same shape: grid without comparing; a reset widens the fields, so
    // the XOR stream is built and compared again (and wins).
    assert_eq!(
        grid_layout(enc.encode(&run(2048, 10, false)).unwrap().as_bytes()[0]),
        ENCODING_GRID
    );
    let reset = run(4096, 1_000_000_000, true);
    let c = enc.encode(&reset).unwrap();
    assert_eq!(
        c.as_bytes().len(),
        encode_cold(&reset).unwrap().as_bytes().len()
    );
}

#[test]
fn a_range_ending_between_samples_of_a_shifted_grid_keeps_the_sample_before_it() {
    // Every offset is -1 (tw = 0, tbase = -1): the index of the first
    // sample after the range must count the time base.
    let samples = [
        Sample::new(-2, 0.0),
        Sample::new(14_999, 0.0),
        Sample::new(30_001, 0.0),
    ];
    let c = grid::encode(&samples).unwrap();
    for (from, to, want) in [
        (-2, 14_999, &samples[..2]),
        (-2, 15_000, &samples[..2]),
        (-1, 14_999, &samples[1..2]),
        (14_999, 30_001, &samples[1..]),
        (15_000, 30_000, &samples[..0]),
    ] {
        let mut got = Vec::new();
        c.view().decode_range_into(from, to, &mut got).unwrap();
        assert_eq!(got, want, "{from}..={to}");
    }
}

#[test]
fn a_rarely_moving_series_is_stored_sparse_at_a_fraction_of_the_dense_grid() {
    // A quiet interface's byte counter (2 % of scrapes, + 1..2000) and a
    // free-space gauge (10 %, ± 4 pages), a day of 15 s scrapes in runs
    // of 2048, aligned and with ±3 ms jitter.
    let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
    let (mut counter, mut pages) = (1_000_000i64, 1i64 << 30);
    let mut quiet = Vec::new();
    let mut free = Vec::new();
    for i in 0..2048i64 {
        if rng.u64(..100) < 2 {
            counter += 1 + rng.u64(..2000) as i64;
        }
        if rng.u64(..10) == 0 {
            pages += (rng.u64(..9) as i64 - 4) * 4096;
        }
        quiet.push(Sample::new(i * 15_000, counter as f64));
        free.push(Sample::new(
            i * 15_000 + rng.u64(..7) as i64 - 3,
            pages as f64,
        ));
    }
    for (name, samples) in [
        ("quiet counter", &quiet),
        ("free-space gauge, jittered", &free),
    ] {
        let cold = encode_cold(samples).unwrap();
        let xor = super::encode(samples).unwrap();
        let per = |c: &Chunk| c.as_bytes().len() as f64 / samples.len() as f64;
        println!(
            "{name}: XOR/packed {:.3} B/sample, cold {:.3} (encoding {:#04x})",
            per(&xor),
            per(&cold),
            cold.as_bytes()[0]
        );
        let bitmap = grid::encode_bitmap(samples).unwrap();
        println!(
            "{name}: with the bitmap only (0x04) {:.3} B/sample",
            per(&bitmap)
        );
        assert!(
            [ENCODING_SPARSE_GRID, ENCODING_SPARSE_GAPS].contains(&grid_layout(cold.as_bytes()[0]))
        );
        assert!(per(&cold) < per(&xor) * 0.6, "{name}");
        assert_eq!(&decode_all(cold.as_bytes()).unwrap(), samples);
        // Ranges and seeks start from the bitmap's rank, not the front.
        for (from, to) in [
            (0, i64::MAX),
            (15_000 * 700 + 1, 15_000 * 1500),
            (15_000 * 2047, i64::MAX),
        ] {
            let mut got = Vec::new();
            cold.view().decode_range_into(from, to, &mut got).unwrap();
            let want: Vec<Sample> = samples
                .iter()
                .copied()
                .filter(|s| s.t >= from && s.t <= to)
                .collect();
            assert_eq!(got, want, "{name} {from}..={to}");
            let mut it = cold.iter();
            assert_eq!(it.seek(from), want.first().copied());
            assert_eq!(
                it.count(),
                want.len().saturating_sub(1) + samples.iter().filter(|s| s.t > to).count()
            );
        }
    }
}

#[test]
fn a_series_moving_once_in_twenty_scrapes_keeps_gaps_not_a_bitmap() {
    // The gap list wins for series moving in fewer than about one scrape
    // in four; the bitmap stays for busier ones.
    let moving = |every: i64, jitter: i64| -> Vec<Sample> {
        let mut v = 1000;
        (0..2048i64)
            .map(|i| {
                let t = i * 15_000 + (i * 7919) % (2 * jitter + 1) - jitter;
                if i % every == every - 1 {
                    v += (i * 31) % 97 + 1;
                }
                Sample::new(t, v as f64)
            })
            .collect()
    };
    for (name, samples, want) in [
        ("once in 20, aligned", moving(20, 0), ENCODING_SPARSE_GAPS),
        ("once in 20, ±3 ms", moving(20, 3), ENCODING_SPARSE_GAPS),
        ("once in 200, aligned", moving(200, 0), ENCODING_SPARSE_GAPS),
        ("once in 2, aligned", moving(2, 0), ENCODING_SPARSE_GRID),
    ] {
        let gaps = encode_cold(&samples).unwrap();
        let bitmap = grid::encode_bitmap(&samples).unwrap();
        let per = |c: &Chunk| c.as_bytes().len() as f64 / samples.len() as f64;
        println!(
            "{name}: cold {:.3} B/sample ({:#04x}), bitmap only {:.3} ({:#04x})",
            per(&gaps),
            gaps.as_bytes()[0],
            per(&bitmap),
            bitmap.as_bytes()[0]
        );
        assert_eq!(grid_layout(gaps.as_bytes()[0]), want, "{name}");
        assert_eq!(bitmap.as_bytes()[0], ENCODING_SPARSE_GRID, "{name}");
        if want == ENCODING_SPARSE_GAPS {
            assert!(gaps.as_bytes().len() < bitmap.as_bytes().len(), "{name}");
        }
        assert_eq!(decode_all(gaps.as_bytes()).unwrap(), samples, "{name}");
        let mut a = anatomy::Anatomy::default();
        a.add_chunk(gaps.as_bytes()).unwrap();
        assert_eq!(a.bytes(), gaps.as_bytes().len() as u64, "{name}");
    }
}
