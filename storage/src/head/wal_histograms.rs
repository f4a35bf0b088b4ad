//! Native histogram samples in WAL batch records (kind 3, see
//! `wal_records.rs`):
//!
//! ```text
//! hgroups  = uvarint n, n × hgroup
//! hgroup   = zigzag-uvarint (ref - previous hgroup's ref; the first
//!            against 0), uvarint count, count × (time hist)
//! time     = zigzag-uvarint (t - previous t in the group; the first
//!            against 0)
//! hist     = u8 counter-reset hint, zigzag-uvarint schema,
//!            value zero_threshold, value zero_count, value count, value sum,
//!            spans positive, spans negative,
//!            buckets positive, buckets negative, buckets custom_values
//! spans    = uvarint n, n × (zigzag-uvarint offset, uvarint length)
//! buckets  = uvarint n, n × value, each coded against the one before it
//! value    = as in batch records (an exact decimal against the previous
//!            value of its run, or 7 then 8 raw bytes)
//! ```

use super::wal_records::{Reader, RecordError, put_value};
use crate::encoding::{put_uvarint, zigzag};
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_uvarint(out, zigzag(i64::from(s.offset)));
        put_uvarint(out, u64::from(s.length));
    }
}

fn put_run(out: &mut Vec<u8>, values: &[f64]) {
    put_uvarint(out, values.len() as u64);
    let mut prev = None;
    for v in values {
        put_value(out, *v, &mut prev);
    }
}

/// Appends one histogram.
pub(super) fn put_histogram(out: &mut Vec<u8>, h: &FloatHistogram) {
    out.push(h.counter_reset_hint as u8);
    put_uvarint(out, zigzag(i64::from(h.schema)));
    for v in [h.zero_threshold, h.zero_count, h.count, h.sum] {
        put_value(out, v, &mut None);
    }
    put_spans(out, &h.positive_spans);
    put_spans(out, &h.negative_spans);
    put_run(out, &h.positive_buckets);
    put_run(out, &h.negative_buckets);
    put_run(out, &h.custom_values);
}

fn spans(r: &mut Reader<'_>) -> Result<Vec<Span>, RecordError> {
    let n = r.count(2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = i32::try_from(r.zvarint()?).or_else(|_| r.err("span offset beyond i32"))?;
        let length = u32::try_from(r.uvarint()?).or_else(|_| r.err("span length beyond u32"))?;
        out.push(Span { offset, length });
    }
    Ok(out)
}

fn run(r: &mut Reader<'_>) -> Result<Vec<f64>, RecordError> {
    let n = r.count(1)?;
    let mut out = Vec::with_capacity(n);
    let mut prev = None;
    for _ in 0..n {
        out.push(r.value(&mut prev)?);
    }
    Ok(out)
}

/// Reads one histogram written by [`put_histogram`].
pub(super) fn histogram(r: &mut Reader<'_>) -> Result<FloatHistogram, RecordError> {
    let hint = r.u8()?;
    if hint > 3 {
        return r.err("bad counter-reset hint");
    }
    let schema = i32::try_from(r.zvarint()?).or_else(|_| r.err("schema beyond i32"))?;
    let zero_threshold = r.value(&mut None)?;
    let zero_count = r.value(&mut None)?;
    let count = r.value(&mut None)?;
    let sum = r.value(&mut None)?;
    Ok(FloatHistogram {
        counter_reset_hint: CounterResetHint::from_u8(hint),
        schema,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans: spans(r)?,
        negative_spans: spans(r)?,
        positive_buckets: run(r)?,
        negative_buckets: run(r)?,
        custom_values: run(r)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::wal_records::{KIND_BATCH, KIND_HISTOGRAM_BATCH, RecordWriter, decode};
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
}
