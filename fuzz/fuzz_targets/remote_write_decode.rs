//! Arbitrary bytes as a decompressed remote-write body, and as a snappy
//! body: decoding must never panic, and whatever decodes must re-encode to
//! something that decodes the same.
#![no_main]

use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{decompress, v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decompress(data, 1 << 20);
    let Ok(req) = v1::decode(data) else { return };
    let mut w = Writer::default();
    for s in &req.series {
        v1::encode_series(&mut w, req.labels_of(s).iter().copied(), req.samples_of(s));
    }
    let again = v1::decode(&w.buf).expect("re-encoded request decodes");
    assert_eq!(again.labels, req.labels);
    assert_eq!(again.series.len(), req.series.len());
    for (a, b) in again.samples.iter().zip(&req.samples) {
        assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
    }
});
