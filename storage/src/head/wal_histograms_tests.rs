//! Batch records holding native histograms.

use super::{KIND_BATCH, KIND_HISTOGRAM_BATCH, RecordWriter, decode};
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};
use crate::model::refs::{HeadRef, PostingId};
use crate::model::sample::{STALE_NAN_BITS, Sample};

fn h(i: u32) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::from_u8((i % 4) as u8),
        schema: (i % 13) as i32 - 4,
        zero_threshold: 2f64.powi(-128),
        zero_count: f64::from(i),
        count: f64::from(i) * 21.0,
        sum: if i == 3 {
            f64::from_bits(STALE_NAN_BITS)
        } else {
            f64::from(i) * 0.37
        },
        positive_spans: vec![Span::new(-3, 2), Span::new(4, 1)],
        negative_spans: vec![Span::new(i32::MIN, 1)],
        positive_buckets: vec![f64::from(i), 2.5, 1e300],
        negative_buckets: vec![f64::NAN],
        custom_values: vec![0.005, 0.1, f64::from(i)],
    }
}

#[test]
fn histogram_batches_round_trip_bit_exact_and_float_batches_keep_kind_1() {
    let mut w = RecordWriter::with_capacity(2);
    w.group(HeadRef::from_raw(2), &[Sample::new(7, 1.0)]);
    assert_eq!(w.finish()[1], KIND_BATCH);
    let want: Vec<(i64, FloatHistogram)> = (0..5)
        .map(|i| (1_000 * i64::from(i) - 2_000, h(i)))
        .collect();
    w.histogram_group(HeadRef::from_raw(9), &want);
    w.histogram_group(HeadRef::from_raw(4), &want[..1]);
    w.histogram_group(HeadRef::from_raw(5), &[]);
    let b = w.finish();
    assert_eq!(b[1], KIND_HISTOGRAM_BATCH);
    let rec = decode(&b).unwrap();
    assert_eq!(rec.groups.len(), 1);
    assert_eq!(rec.histograms.len(), 2);
    assert_eq!(rec.histograms[0].0, HeadRef::from_raw(9));
    assert_eq!(rec.histograms[1].0, HeadRef::from_raw(4));
    for ((tg, g), (tw, w)) in rec.histograms[0].1.iter().zip(&want) {
        assert_eq!(tg, tw);
        assert!(g.same_bits(w), "{g:?} != {w:?}");
    }
    for n in 0..b.len() {
        assert!(decode(&b[..n]).is_err(), "prefix of {n} bytes");
    }
}
