//! The remote-write decoders hold to their limits while they build (series
//! counted as they come, memory asked for before it is held), and the
//! protobuf reader is strict about what it skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass::ingest::protobuf::{Reader, Writer};
use hourglass::ingest::remote_write::{Bounds, DecodeError, v1, v2};
use hourglass_storage::Sample;

/// `n` copies of an empty `TimeSeries` (field 1, length 0): two bytes each.
fn empty_series(n: usize) -> Vec<u8> {
    [0x0a, 0x00].repeat(n)
}

/// Decodes with a series limit and a memory allowance; returns the result
/// and the bytes the decoder was allowed in total.
fn bounded_v1(
    buf: &[u8],
    max_series: usize,
    allowance: usize,
) -> (Result<usize, DecodeError>, usize) {
    let mut allowed = 0usize;
    let mut allow = |n: usize| {
        if allowed + n > allowance {
            return false;
        }
        allowed += n;
        true
    };
    let mut bounds = Bounds::new(max_series, &mut allow);
    let r =
        v1::decode_bounded(buf, v1::WriteRequest::default(), &mut bounds).map(|r| r.series.len());
    (r, allowed)
}

#[test]
fn overflowing_ten_byte_varint_in_an_unknown_field_is_refused() {
    // Field 15, varint: nine continuation bytes, then a tenth that would
    // set bits past 63.
    let mut over = vec![0x78];
    over.extend([0xff; 9]);
    over.push(0x02);
    let e = v1::decode(&over).unwrap_err();
    assert!(e.to_string().contains("overflows 64 bits"), "{e}");
    assert!(v2::decode(&over).is_err());
    // u64::MAX itself (tenth byte 0x01) is a valid varint.
    let mut max = vec![0x78];
    max.extend([0xff; 9]);
    max.push(0x01);
    assert!(v1::decode(&max).is_ok());
    assert_eq!(Reader::new(&max[1..]).varint(), Ok(u64::MAX));
}

#[test]
fn unknown_fields_are_skipped_strictly() {
    // Length-delimited, announcing more bytes than follow.
    assert!(v1::decode(&[0x7a, 0x05, 1, 2]).is_err());
    // A length varint near u64::MAX.
    let mut huge = vec![0x7a];
    huge.extend([0xff; 9]);
    huge.push(0x01);
    assert!(v1::decode(&huge).is_err());
    // Groups (wire types 3 and 4) are refused, not skipped.
    assert!(v1::decode(&[0x7b, 0x7c]).is_err());
    assert!(v2::decode(&[0x7b, 0x7c]).is_err());
    // Truncated fixed-width fields.
    assert!(v1::decode(&[0x79, 1, 2, 3]).is_err());
    assert!(v1::decode(&[0x7d, 1, 2]).is_err());
    // A well-formed unknown field of every wire type is skipped.
    let mut w = Writer::default();
    w.uint(15, 1);
    w.double(14, 2.0);
    w.bytes(13, b"x");
    w.buf.extend([0x65, 1, 2, 3, 4]); // field 12, fixed32
    v1::encode_series(&mut w, [("__name__", "up")], &[Sample::new(1, 1.0)]);
    assert_eq!(v1::decode(&w.buf).unwrap().series.len(), 1);
}

#[test]
fn empty_series_past_the_limit_are_refused_before_they_are_built() {
    // 16M empty series in 32 MiB would be 640 MB of series structs.
    let body = empty_series(1 << 20);
    let (r, allowed) = bounded_v1(&body, 1000, usize::MAX);
    assert_eq!(r, Err(DecodeError::TooManySeries { max: 1000 }));
    // Only what 1000 series need was ever held.
    let series_bytes = std::mem::size_of::<v1::TimeSeries>();
    assert!(allowed <= 2048 * series_bytes, "allowed {allowed} bytes");
    let (r, _) = bounded_v1(&empty_series(1000), 1000, usize::MAX);
    assert_eq!(r, Ok(1000));
}

#[test]
fn decoded_memory_is_asked_for_before_it_is_held() {
    // One series of 1M empty samples (2 bytes each, 16 bytes decoded).
    let mut samples = [0x12, 0x00].repeat(1 << 20);
    let mut w = Writer::default();
    w.bytes(1, &std::mem::take(&mut samples));
    let cap = 1 << 20;
    let (r, allowed) = bounded_v1(&w.buf, 10, cap);
    assert!(matches!(r, Err(DecodeError::OverBudget { .. })), "{r:?}");
    assert!(allowed <= cap);
    // The same body within a large enough allowance decodes.
    let (r, allowed) = bounded_v1(&w.buf, 10, 64 << 20);
    assert_eq!(r, Ok(1));
    assert!(allowed >= 16 << 20, "samples counted: {allowed}");
}

#[test]
fn remote_write_2_label_references_and_symbols_count_against_memory() {
    // A series whose packed label references are 1M one-byte varints:
    // 8 MB of u64 from 1 MB of body.
    let mut w = Writer::default();
    w.bytes(4, b"");
    let refs = vec![0u8; 1 << 20];
    w.message(5, |ts| ts.bytes(1, &refs));
    let mut allowed = 0usize;
    let mut allow = |n: usize| {
        allowed += n;
        allowed <= 1 << 20
    };
    let mut bounds = Bounds::new(10, &mut allow);
    let r = v2::decode_bounded(&w.buf, v1::WriteRequest::default(), &mut bounds);
    assert!(matches!(r, Err(DecodeError::OverBudget { .. })), "{r:?}");
    // Symbols: 1M empty strings (2 bytes each, 16 decoded).
    let symbols = [0x22, 0x00].repeat(1 << 20);
    let mut allowed = 0usize;
    let mut allow = |n: usize| {
        allowed += n;
        allowed <= 1 << 20
    };
    let mut bounds = Bounds::new(10, &mut allow);
    let r = v2::decode_bounded(&symbols, v1::WriteRequest::default(), &mut bounds);
    assert!(matches!(r, Err(DecodeError::OverBudget { .. })), "{r:?}");
    // Series are counted as they come.
    let mut e = v2::Encoder::new();
    for i in 0..20 {
        let v = i.to_string();
        e.series([("__name__", "m"), ("i", v.as_str())], &[], None);
    }
    let body = e.finish();
    let mut allow = |_: usize| true;
    let mut bounds = Bounds::new(19, &mut allow);
    let r = v2::decode_bounded(&body, v1::WriteRequest::default(), &mut bounds);
    assert_eq!(r.err(), Some(DecodeError::TooManySeries { max: 19 }));
    assert_eq!(v2::decode(&body).unwrap().req.series.len(), 20);
}
