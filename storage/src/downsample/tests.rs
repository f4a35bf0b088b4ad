use super::file::{decode, encode};
use super::interval::{DsSeries, ReadAs, coarsen, summarize, synthesize};
use super::*;
use crate::model::matcher::MatchOp;
use proptest::prelude::*;

fn step_inc(a: f64, b: f64) -> f64 {
    if b >= a { b - a } else { b }
}

/// PromQL's reset-corrected increase over consecutive samples.
fn promql_increase(s: &[Sample]) -> f64 {
    s.windows(2).map(|w| step_inc(w[0].v, w[1].v)).sum()
}

/// Raw samples: sorted distinct times, values drawn from a counter that
/// sometimes resets, or a gauge, with the odd stale marker.
fn raw() -> impl Strategy<Value = Vec<Sample>> {
    (
        proptest::collection::vec((1i64..40_000, 0u32..100, 0u8..20), 1..300),
        any::<bool>(),
    )
        .prop_map(|(steps, counter)| {
            let mut t = 1_000_000_000i64;
            let mut v = 0.0f64;
            let mut out = Vec::with_capacity(steps.len());
            for (dt, dv, kind) in steps {
                t += dt;
                v = match (counter, kind) {
                    (true, 0) => f64::from(dv),
                    (true, _) => v + f64::from(dv) * 0.5,
                    (false, _) => f64::from(dv) - 50.0,
                };
                let x = if kind == 19 {
                    f64::from_bits(crate::model::sample::STALE_NAN_BITS)
                } else {
                    v
                };
                out.push(Sample::new(t, x));
            }
            out
        })
}

fn series(name: &str, raw: &[Sample], res: i64) -> Option<DsSeries> {
    let first = raw
        .iter()
        .copied()
        .find(|s| !crate::model::sample::is_stale_nan(s.v))?;
    Some(DsSeries {
        labels: Labels::from_pairs([("__name__", name), ("job", "node")]),
        first,
        iv: summarize(raw, res, None),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn intervals_agree_with_a_naive_model(raw in raw(), res_min in 1i64..10) {
        let res = res_min * 60_000;
        let iv = summarize(&raw, res, None);
        let live: Vec<Sample> = raw.iter().copied()
            .filter(|s| !crate::model::sample::is_stale_nan(s.v)).collect();
        let mut k = 0;
        for i in &iv {
            let inside: Vec<&Sample> = live.iter().filter(|s| s.t.div_euclid(res) * res == i.t).collect();
            prop_assert_eq!(i.count, inside.len() as u64);
            prop_assert_eq!(i.min, inside.iter().map(|s| s.v).fold(f64::INFINITY, f64::min));
            prop_assert_eq!(i.max, inside.iter().map(|s| s.v).fold(f64::NEG_INFINITY, f64::max));
            prop_assert_eq!(i.last_t, inside.last().map(|s| s.t).unwrap_or(0));
            let sum: f64 = inside.iter().map(|s| s.v).sum();
            prop_assert!((i.sum - sum).abs() <= 1e-9 * sum.abs().max(1.0));
            k += inside.len();
        }
        prop_assert_eq!(k, live.len());
        // Counter reads keep PromQL's increase over the whole run of a
        // counter (never negative).
        if live.iter().all(|s| s.v >= 0.0) && let Some(s) = series("c", &raw, res) {
            let mut out = Vec::new();
            synthesize(&s, ReadAs::Counter, i64::MIN, i64::MAX, &mut out);
            prop_assert!(out.windows(2).all(|w| w[0].t < w[1].t));
            let (a, b) = (promql_increase(&out), promql_increase(&live));
            prop_assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{} vs {}", a, b);
        }
    }

    #[test]
    fn coarsening_equals_summarizing_at_the_coarse_resolution(raw in raw()) {
        let mut fine = summarize(&raw, 60_000, None);
        coarsen(&mut fine, 600_000, i64::MAX);
        let coarse = summarize(&raw, 600_000, None);
        prop_assert_eq!(fine.len(), coarse.len());
        for (a, b) in fine.iter().zip(&coarse) {
            prop_assert_eq!((a.t, a.res, a.count, a.last_t), (b.t, b.res, b.count, b.last_t));
            prop_assert_eq!((a.min, a.max, a.last), (b.min, b.max, b.last));
            prop_assert!((a.sum - b.sum).abs() <= 1e-9 * b.sum.abs().max(1.0));
            prop_assert!((a.inc - b.inc).abs() <= 1e-9 * b.inc.abs().max(1.0));
        }
    }

    #[test]
    fn downsampled_files_round_trip_and_refuse_damage(
        raws in proptest::collection::vec(raw(), 1..4),
        res_min in 1i64..6,
    ) {
        let all: Vec<DsSeries> = raws.iter().enumerate()
            .filter_map(|(k, r)| series(&format!("m{k}"), r, res_min * 60_000))
            .collect();
        let b = encode(&all).unwrap();
        prop_assert_eq!(decode(&b).unwrap(), all);
        fuzz_downsampled(&b);
        for cut in [0, 5, 12, b.len() / 2, b.len() - 1] {
            prop_assert!(decode(&b[..cut]).is_err(), "torn at {}", cut);
        }
        for at in [0, 4, 9, b.len() / 2, b.len() - 2] {
            let mut d = b.clone();
            d[at] ^= 0x10;
            prop_assert!(decode(&d).is_err(), "flipped byte {}", at);
        }
    }
}

#[test]
fn a_counter_series_stores_fewer_columns_than_a_gauge() {
    let counter: Vec<Sample> = (0..2880)
        .map(|k| Sample::new(k * 15_000, (k * 37) as f64))
        .collect();
    let gauge: Vec<Sample> = (0..2880)
        .map(|k| Sample::new(k * 15_000, ((k * 7919) % 1000) as f64))
        .collect();
    let size = |r: &[Sample]| encode(&[series("x", r, 300_000).unwrap()]).unwrap().len();
    let (c, g) = (size(&counter), size(&gauge));
    println!("12 h at 5m: counter {c} bytes, gauge {g} bytes");
    assert!(c < g, "{c} vs {g}");
}

fn rule(sel: &str, after: i64, res: i64) -> DownsampleRule {
    DownsampleRule {
        selector: sel.into(),
        matchers: vec![Matcher::new(MatchOp::Equal, "job", sel).unwrap()],
        after_ms: after,
        resolution_ms: res,
    }
}

#[test]
fn tiers_that_do_not_nest_or_repeat_are_refused_naming_the_rule() {
    let d = 86_400_000;
    assert!(check_rules(&[rule("a", 7 * d, 300_000), rule("a", 90 * d, 3_600_000)]).is_ok());
    let e = check_rules(&[rule("a", 7 * d, 300_000), rule("b", 90 * d, 450_000)]).unwrap_err();
    assert!(e.contains("rule 2") && e.contains("rule 1"), "{e}");
    let e = check_rules(&[rule("a", 7 * d, 300_000), rule("a", 7 * d, 600_000)]).unwrap_err();
    assert!(e.contains("never applies"), "{e}");
    assert!(check_rules(&[rule("a", 0, 300_000)]).is_err());
    assert!(check_rules(&[rule("a", d, 1_000)]).is_err());
    assert!(
        check_rules(&[rule("a", d, 7 * 60_000)]).is_err(),
        "7m does not divide a day"
    );
}

/// The version 1 layout (each column a sealed chunk), as binaries before
/// version 2 wrote it: kept here to prove such files still read.
fn encode_v1(series: &[DsSeries]) -> Vec<u8> {
    use crate::encoding::{put_uvarint, put_zvarint};
    let mut body = Vec::new();
    put_uvarint(&mut body, series.len() as u64);
    for s in series {
        put_uvarint(&mut body, s.labels.len() as u64);
        for l in s.labels.iter() {
            for x in [&*l.name, &*l.value] {
                put_uvarint(&mut body, x.len() as u64);
                body.extend_from_slice(x.as_bytes());
            }
        }
        put_zvarint(&mut body, s.first.t);
        body.extend_from_slice(&s.first.v.to_bits().to_le_bytes());
        body.push(0);
        let cols: [&dyn Fn(&super::Interval) -> f64; 8] = [
            &|i| i.res as f64,
            &|i| i.count as f64,
            &|i| (i.last_t - i.t) as f64,
            &|i| i.sum,
            &|i| i.min,
            &|i| i.last,
            &|i| i.max,
            &|i| i.inc,
        ];
        for f in cols {
            let col: Vec<Sample> = s.iv.iter().map(|i| Sample::new(i.t, f(i))).collect();
            let c = crate::chunk::encode(&col).unwrap();
            put_uvarint(&mut body, c.as_bytes().len() as u64);
            body.extend_from_slice(c.as_bytes());
        }
    }
    let mut out = b"HGDS".to_vec();
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn version_1_files_still_read(a in raw(), b in raw()) {
        let all: Vec<DsSeries> = [("a", &a), ("b", &b)]
            .iter()
            .filter_map(|(n, r)| series(n, r, 60_000))
            .collect();
        // Written with no series marked monotone: every column stored.
        let v1 = encode_v1(&all);
        prop_assert_eq!(decode(&v1).unwrap(), all.clone());
        let v2 = super::format::seal(2, &super::format::encode_v2(&all));
        prop_assert_eq!(decode(&v2).unwrap(), all.clone());
        let v4 = super::format::encode_single(&all);
        prop_assert_eq!(v4[4], 4);
        prop_assert_eq!(decode(&v4).unwrap(), all.clone());
        let v5 = encode(&all).unwrap();
        prop_assert_eq!(v5[4], 5);
        prop_assert_eq!(decode(&v5).unwrap(), all);
    }

    /// Values with no decimal form (thirds, NaN, infinities, -0.0) and
    /// intervals edited as later folds leave them (gaps, changed counts,
    /// an increase that is not the difference of `last`s) round-trip bit
    /// for bit.
    #[test]
    fn any_values_round_trip_in_version_4(
        raw in raw(),
        odd in proptest::collection::vec((0usize..300, 0u8..6, any::<u64>()), 0..8),
    ) {
        let Some(mut s) = series("odd", &raw, 60_000) else { return Ok(()) };
        for (k, what, bits) in odd {
            let n = s.iv.len();
            let i = &mut s.iv[k % n];
            let x = f64::from_bits(bits);
            match what {
                0 => i.sum = x,
                1 => i.min = -0.0,
                2 => i.inc = x,
                3 => i.last = 1.0 / 3.0,
                4 => i.count += bits % 1000,
                _ => i.max = f64::NAN,
            }
        }
        let b = super::format::encode_single(std::slice::from_ref(&s));
        prop_assert_eq!(b[4], 4);
        prop_assert_eq!(decode(&b).unwrap(), vec![s.clone()]);
        fuzz_downsampled(&b);
        let b = encode(std::slice::from_ref(&s)).unwrap();
        prop_assert_eq!(b[4], 5);
        prop_assert_eq!(decode(&b).unwrap(), vec![s]);
        fuzz_downsampled(&b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Damage the checksum cannot see (a body sealed with a good one):
    /// refused or read, never a panic, and what reads re-encodes alike.
    #[test]
    fn any_sealed_version_3_or_4_body_is_refused_or_read_never_a_panic(
        raws in proptest::collection::vec(raw(), 1..3),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        junk in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let all: Vec<DsSeries> = raws.iter().enumerate()
            .filter_map(|(k, r)| series(&format!("m{k}"), r, 300_000))
            .collect();
        let good = super::format::encode_single(&all);
        let raw_len = u32::from_le_bytes([good[8], good[9], good[10], good[11]]) as usize;
        let mut body = if good[5] == 1 {
            zstd::bulk::decompress(&good[12..good.len() - 4], raw_len).unwrap()
        } else {
            good[12..good.len() - 4].to_vec()
        };
        for (at, x) in flips {
            let i = at.index(body.len());
            body[i] ^= x;
        }
        for v in [3, 4] {
            fuzz_downsampled(&super::format::seal(v, &body));
            fuzz_downsampled(&super::format::seal(v, &junk));
        }
    }
}

#[test]
fn idle_series_cost_a_few_bits_and_counters_only_their_moves() {
    let day = |f: &dyn Fn(i64) -> f64| -> Vec<Sample> {
        (0..5760).map(|k| Sample::new(k * 15_000, f(k))).collect()
    };
    let idle = series("idle", &day(&|_| 42.0), 300_000).unwrap();
    let counter = series("c", &day(&|k| (k * 3) as f64), 300_000).unwrap();
    let bits = |s: &DsSeries| {
        let b = encode(std::slice::from_ref(s)).unwrap();
        let (file, body, heads, cols) = downsampled_bits(&b).unwrap();
        println!(
            "{}: file {file} B, body {body} B, heads {heads} B, columns {cols:?}",
            s.labels
        );
        cols
    };
    let i = bits(&idle);
    assert_eq!(
        i.iter().sum::<u64>(),
        11,
        "one bit per column (sum and inc hold two)"
    );
    let c = bits(&counter);
    assert!(c[6] == 1 && c[8] == 2, "max and inc implied: {c:?}");
    assert!(
        c.iter().sum::<u64>() < 200,
        "a steady counter's min, sum and moves are predicted but for the first interval: {c:?}"
    );
}

#[test]
fn denser_intervals_than_version_4_accepts_are_written_as_version_2() {
    // One interval a minute over ten days in one block: 14,400 intervals
    // with no bits, more than 32 a byte of body.
    let raw: Vec<Sample> = (0..14_400).map(|k| Sample::new(k * 60_000, 1.0)).collect();
    let s = series("dense", &raw, 60_000).unwrap();
    let b = super::format::encode_single(std::slice::from_ref(&s));
    assert_eq!(b[4], 2);
    assert_eq!(decode(&b).unwrap(), vec![s.clone()]);
    // Version 5 holds it in a block of body version 2.
    let b = encode(std::slice::from_ref(&s)).unwrap();
    assert_eq!((b[4], b[9]), (5, 2));
    assert_eq!(decode(&b).unwrap(), vec![s]);
}

/// The series of the frozen files in `storage/testdata/downsampled/`: a
/// counter that resets, a two-decimal gauge, a gauge with thirds (stored
/// as bit patterns), a day of 5m intervals each.
pub(super) fn fixture_series() -> Vec<DsSeries> {
    let day = |f: &dyn Fn(i64) -> f64| -> Vec<Sample> {
        (0..5760)
            .map(|k| Sample::new(1_700_006_400_000 + k * 15_000 + (k * 7) % 5 - 2, f(k)))
            .collect()
    };
    let mut out: Vec<DsSeries> = [
        ("counter", day(&|k| ((k % 2000) * (k % 7 + 3)) as f64)),
        ("gauge", day(&|k| ((k * 7919) % 2001) as f64 / 100.0 - 10.0)),
        ("thirds", day(&|k| (k % 97) as f64 / 3.0)),
    ]
    .iter()
    .filter_map(|(n, r)| series(n, r, 300_000))
    .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// A file version 3 wrote (frozen: made by the version 3 writer from
/// [`fixture_series`]) reads back as it was written.
#[test]
fn frozen_version_3_file_still_reads() {
    let b = include_bytes!("../../testdata/downsampled/v3.bin");
    assert_eq!(b[4], 3);
    assert_eq!(decode(b).unwrap(), fixture_series());
}

/// The frozen version 4 file (made by the version 4 writer from
/// [`fixture_series`]) reads back as it was written.
#[test]
fn frozen_version_4_file_still_reads() {
    let b = include_bytes!("../../testdata/downsampled/v4.bin");
    assert_eq!(b[4], 4);
    assert_eq!(decode(b).unwrap(), fixture_series());
}

/// A day of node-exporter-like series at 5m (the compaction benchmark's
/// model, `benches/support/node.rs`: 30 % counters), `busy` (±3 ms jitter,
/// counters by up to 5,000 a scrape, gauges a two-decimal random walk)
/// or idle (aligned, gauges constant, counters by 0..=3).
pub(super) fn node_day(n: usize, busy: bool) -> Vec<DsSeries> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut out: Vec<DsSeries> = (0..n)
        .filter_map(|i| {
            let counter = i % 10 < 3;
            let mut v = (i % 1000) as f64;
            let raw: Vec<Sample> = (0..5760)
                .map(|k| {
                    let r = next();
                    v = match (busy, counter) {
                        (false, false) => v,
                        (false, true) => v + (r % 4) as f64,
                        (true, true) => v + (r % 5000) as f64,
                        (true, false) => {
                            ((v + (r % 2001) as f64 / 100.0 - 10.0) * 100.0).round() / 100.0
                        }
                    };
                    let j = if busy && k > 0 {
                        (next() % 7) as i64 - 3
                    } else {
                        0
                    };
                    Sample::new(1_700_006_400_000 + k * 15_000 + j, v)
                })
                .collect();
            series(&format!("node_metric_{i}"), &raw, 300_000)
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

/// What a day of node-exporter-like series costs at 5m, per column
/// (printed: the figures of `FORMAT.md`'s column table); bounds only
/// against gross regressions.
#[test]
fn a_node_day_costs_about_what_its_columns_hold() {
    for busy in [false, true] {
        let day = node_day(200, busy);
        let file = encode(&day).unwrap();
        assert_eq!(decode(&file).unwrap(), day);
        let (f, body, heads, cols) = downsampled_bits(&file).unwrap();
        let n: usize = day.iter().map(|s| s.iv.len()).sum();
        let per: Vec<String> = COLUMNS
            .iter()
            .zip(cols)
            .map(|(c, b)| format!("{c} {:.2}", b as f64 / n as f64))
            .collect();
        println!(
            "node day, {}: {f} B file, {body} B body ({heads} B headers), {:.1} B per series; bits per interval: {}",
            if busy { "busy" } else { "idle" },
            f as f64 / day.len() as f64,
            per.join(", ")
        );
        let total: u64 = cols.iter().sum();
        assert!((total as f64 / n as f64) < if busy { 90.0 } else { 8.0 });
    }
}
