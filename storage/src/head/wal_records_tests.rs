//! Batch records: round trips, version 1, footprint, damage.

use super::*;
use crate::damage::check_damage;
use crate::model::sample::STALE_NAN_BITS;

#[test]
fn round_trip() {
    let mut w = RecordWriter::with_capacity(4);
    let l = Labels::from_pairs([("__name__", "up"), ("job", "é")]);
    w.def(HeadRef::from_raw(7), &l);
    let s = vec![
        Sample::new(1_700_000_000_000, 1.5),
        Sample::new(1_700_000_000_000 - 5, f64::from_bits(STALE_NAN_BITS)),
        Sample::new(i64::MIN, -0.0),
    ];
    w.group(HeadRef::from_raw(7), &s);
    w.group(HeadRef::from_raw(3), &[]);
    let b = w.finish();
    let rec = decode(&b).unwrap();
    assert_eq!(rec.defs, vec![(HeadRef::from_raw(7), l)]);
    assert_eq!(rec.groups, vec![(HeadRef::from_raw(7), s)]);
}

/// A version 1 record, laid out as the first writer did.
fn encode_v1(defs: &[(HeadRef, Labels)], groups: &[(HeadRef, Vec<Sample>)]) -> Vec<u8> {
    let mut out = vec![VERSION_1, KIND_BATCH];
    put_uvarint(&mut out, defs.len() as u64);
    for (id, l) in defs {
        put_uvarint(&mut out, u64::from(id.raw()));
        put_labels(&mut out, l);
    }
    put_uvarint(&mut out, groups.len() as u64);
    for (id, samples) in groups {
        put_uvarint(&mut out, u64::from(id.raw()));
        put_uvarint(&mut out, samples.len() as u64);
        let mut prev = 0i64;
        for s in samples {
            put_uvarint(&mut out, zigzag(s.t.wrapping_sub(prev)));
            out.extend_from_slice(&s.v.to_bits().to_le_bytes());
            prev = s.t;
        }
    }
    out
}

fn bits(groups: &[(HeadRef, Vec<Sample>)]) -> Vec<(u32, Vec<(i64, u64)>)> {
    groups
        .iter()
        .map(|(id, s)| (id.raw(), s.iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect()
}

#[test]
fn version_1_records_still_replay() {
    let l = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
    let defs = vec![(HeadRef::from_raw(3), l)];
    let groups = vec![
        (
            HeadRef::from_raw(3),
            vec![
                Sample::new(1_700_000_000_000, 1.5),
                Sample::new(1_700_000_015_000, 2.0),
            ],
        ),
        (HeadRef::from_raw(9), vec![Sample::new(-5, f64::NAN)]),
    ];
    let rec = decode(&encode_v1(&defs, &groups)).unwrap();
    assert_eq!(rec.defs, defs);
    assert_eq!(bits(&rec.groups), bits(&groups));
}

#[test]
fn scrape_aligned_batches_cost_a_few_bytes_per_sample() {
    // One sample per series, as remote write sends them: counters with
    // two decimals, all at one time.
    let mut w = RecordWriter::with_capacity(2000);
    for i in 0..2000u32 {
        let v = (f64::from(i) * 12_345.67 * 100.0).round() / 100.0;
        w.group(HeadRef::from_raw(i), &[Sample::new(1_700_000_000_000, v)]);
    }
    let b = w.finish();
    let per_sample = b.len() as f64 / 2000.0;
    println!("{per_sample:.2} bytes/sample (version 1: about 17)");
    assert!(per_sample < 9.0, "{per_sample}");
    assert_eq!(decode(&b).unwrap().groups.len(), 2000);
}

proptest::proptest! {
    #[test]
    fn any_groups_round_trip_bit_exact(
        groups in proptest::collection::vec(
            (0u32..5000, proptest::collection::vec((proptest::num::i64::ANY, proptest::num::u64::ANY, 0u8..4), 1..20)),
            0..20,
        )
    ) {
        let mut w = RecordWriter::with_capacity(0);
        let want: Vec<(HeadRef, Vec<Sample>)> = groups
            .into_iter()
            .map(|(id, xs)| {
                let samples = xs
                    .into_iter()
                    .map(|(t, v, shape)| {
                        // Mix raw bit patterns with decimals of each kind.
                        let v = match shape {
                            0 => f64::from_bits(v),
                            1 => (v % 1_000_000) as f64 / 100.0,
                            2 => -((v % 1000) as f64),
                            _ => (v >> 40) as f64 * 0.001,
                        };
                        Sample::new(t % 10_000_000_000_000, v)
                    })
                    .collect();
                (HeadRef::from_raw(id), samples)
            })
            .collect();
        for (id, s) in &want {
            w.group(*id, s);
        }
        let got = decode(&w.finish()).unwrap();
        proptest::prop_assert_eq!(bits(&got.groups), bits(&want));
    }
}

#[test]
fn every_truncation_and_garbage_is_an_error_not_a_panic() {
    let mut w = RecordWriter::with_capacity(2);
    w.def(HeadRef::from_raw(1), &Labels::from_pairs([("a", "b")]));
    w.group(
        HeadRef::from_raw(1),
        &[Sample::new(5, 1.0), Sample::new(6, 2.0)],
    );
    check_damage(&w.finish(), decode, 5_000, |c| {
        let _ = decode(c);
    });
}
