use super::*;
use crate::model::sample::STALE_NAN_BITS;

fn bits(groups: &[(HeadRef, Vec<Sample>)]) -> Vec<(u32, Vec<(i64, u64)>)> {
    groups
        .iter()
        .map(|(id, s)| (id.raw(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect()
}

/// A resolver over a fixed list of (ref, t, bits).
fn from(list: &[(HeadRef, i64, u64)]) -> impl FnMut(HeadRef, i64) -> Option<u64> + '_ {
    move |id, t| {
        list.iter()
            .find(|&&(b, bt, _)| b == id && bt == t)
            .map(|&(_, _, v)| v)
    }
}

#[test]
fn linked_groups_round_trip_with_their_bases_and_are_unlinked_without() {
    let mut w = RecordWriter::with_capacity(8);
    let l = Labels::from_pairs([("__name__", "up"), ("job", "é")]);
    w.def(HeadRef::from_raw(7), &l);
    let a = vec![
        Sample::new(1_700_000_015_000, 12.5),
        Sample::new(1_700_000_030_000, f64::from_bits(STALE_NAN_BITS)),
    ];
    let b = vec![Sample::new(1_700_000_015_003, -0.0)];
    let c = vec![Sample::new(1_700_000_015_000, 1e300)];
    w.group(
        HeadRef::from_raw(7),
        &a,
        Some((1_700_000_000_000, 12.25f64.to_bits())),
    );
    w.group(HeadRef::from_raw(3), &b, None);
    // A base newer than the samples is not used.
    w.group(
        HeadRef::from_raw(9),
        &c,
        Some((1_700_000_020_000, 1.0f64.to_bits())),
    );
    let rec_bytes = w.finish();
    let bases = w.bases().to_vec();
    assert_eq!(bases.len(), 1);
    let rec = decode_with(&rec_bytes, &mut from(&bases)).unwrap();
    assert_eq!(rec.defs, vec![(HeadRef::from_raw(7), l)]);
    let want = vec![
        (HeadRef::from_raw(7), a.clone()),
        (HeadRef::from_raw(3), b.clone()),
        (HeadRef::from_raw(9), c.clone()),
    ];
    assert_eq!(bits(&rec.groups), bits(&want));
    assert!(rec.unlinked.is_empty());
    let blind = decode_with(&rec_bytes, &mut |_, _| None).unwrap();
    assert_eq!(bits(&blind.groups), bits(&want[1..]));
    assert_eq!(
        blind.unlinked,
        vec![Unlinked {
            id: HeadRef::from_raw(7),
            last_t: 1_700_000_030_000,
            samples: 2
        }]
    );
}

#[test]
fn a_series_twice_in_one_record_links_to_its_own_earlier_group() {
    let mut w = RecordWriter::with_capacity(2);
    let id = HeadRef::from_raw(1);
    w.group(id, &[Sample::new(1000, 5.25)], None);
    w.group(
        id,
        &[Sample::new(2000, 5.5)],
        Some((1000, 5.25f64.to_bits())),
    );
    let rec = decode_with(&w.finish(), &mut |_, _| None).unwrap();
    assert!(rec.unlinked.is_empty());
    assert_eq!(rec.groups[1].1[0].v, 5.5);
}

/// Remote-write-like records: one sample per series at one time, each
/// linked to the series' sample one scrape before.
fn scrapes(series: u32, scrapes: i64, mut value: impl FnMut(u32, i64) -> f64) -> (usize, usize) {
    let (mut bytes, mut n) = (0, 0);
    for k in 1..=scrapes {
        let mut w = RecordWriter::with_capacity(series as usize);
        let mut bases = Vec::new();
        for i in 0..series {
            let t = 1_700_000_000_000 + k * 15_000;
            let prev = value(i, k - 1);
            let id = HeadRef::from_raw(i * 4);
            w.group(
                id,
                &[Sample::new(t, value(i, k))],
                Some((t - 15_000, prev.to_bits())),
            );
            bases.push((id, t - 15_000, prev.to_bits()));
        }
        let b = w.finish();
        let rec = decode_with(&b, &mut from(&bases)).unwrap();
        for (j, (_, s)) in rec.groups.iter().enumerate() {
            assert_eq!(s[0].v.to_bits(), value(j as u32, k).to_bits());
        }
        bytes += b.len();
        n += series as usize;
    }
    (bytes, n)
}

#[test]
fn scrape_aligned_batches_cost_about_a_byte_or_two_per_sample() {
    // Two-decimal counters moving by 0 to 9.99 a scrape.
    let (b, n) = scrapes(2000, 5, |i, k| {
        let step = (u64::from(i) * 2_654_435_761 + k as u64 * 40_503) % 1000;
        (f64::from(i) * 1000.0 + (k as f64) * step as f64 / 100.0 * 100.0).round() / 100.0
    });
    let moving = b as f64 / n as f64;
    // Idle series: the same value every scrape.
    let (b, n) = scrapes(2000, 5, |i, _| f64::from(i) * 12.5);
    let idle = b as f64 / n as f64;
    println!("{moving:.2} bytes/sample moving, {idle:.2} idle (version 2: about 8)");
    assert!(moving < 3.0, "{moving}");
    assert!(idle < 0.5, "{idle}");
}

proptest::proptest! {
    #[test]
    fn any_groups_round_trip_bit_exact(
        groups in proptest::collection::vec(
            (0u32..5000, proptest::option::of((0i64..100_000, proptest::num::u64::ANY)),
             proptest::collection::vec((proptest::num::i64::ANY, proptest::num::u64::ANY, 0u8..4), 1..20)),
            0..40,
        )
    ) {
        let mut w = RecordWriter::with_capacity(0);
        let shaped = |v: u64, shape: u8| match shape {
            0 => f64::from_bits(v),
            1 => (v % 1_000_000) as f64 / 100.0,
            2 => -((v % 1000) as f64),
            _ => (v >> 40) as f64 * 0.001,
        };
        let mut want = Vec::new();
        for (id, base, xs) in groups {
            let samples: Vec<Sample> = xs
                .into_iter()
                .map(|(t, v, shape)| Sample::new(t % 10_000_000_000_000, shaped(v, shape)))
                .collect();
            let id = HeadRef::from_raw(id);
            let base = base.map(|(back, v)| (samples[0].t - back, shaped(v, (v % 4) as u8).to_bits()));
            w.group(id, &samples, base);
            want.push((id, samples));
        }
        let bases = w.bases().to_vec();
        let b = w.finish();
        let got = decode_with(&b, &mut from(&bases)).unwrap();
        proptest::prop_assert!(got.unlinked.is_empty());
        proptest::prop_assert_eq!(bits(&got.groups), bits(&want));
    }
}

#[test]
fn every_truncation_and_garbage_is_an_error_not_a_panic() {
    for n in [2usize, 400] {
        let mut w = RecordWriter::with_capacity(n);
        w.def(HeadRef::from_raw(1), &Labels::from_pairs([("a", "b")]));
        for i in 0..n as u32 {
            w.group(
                HeadRef::from_raw(i),
                &[Sample::new(5, 1.0), Sample::new(6, 2.0)],
                Some((4, 0.5f64.to_bits())),
            );
        }
        let b = w.finish();
        for k in 0..b.len() {
            assert!(
                decode_with(&b[..k], &mut |_, _| Some(0)).is_err(),
                "prefix of {k} bytes"
            );
        }
        let mut rng = fastrand::Rng::with_seed(88172645463325252);
        for _ in 0..3_000 {
            let x = rng.u64(..);
            let mut c = b.clone();
            let i = (x as usize) % c.len();
            c[i] ^= (x >> 32) as u8 | 1;
            let _ = decode_with(&c, &mut |_, _| Some(0));
        }
    }
}
