//! Arbitrary bytes as a decompressed remote-write body, and as a snappy
//! body: decoding must never panic, whatever decodes must re-encode to
//! something that decodes the same, and decoding with labels deferred,
//! then decoded, must give the same series.
#![no_main]

use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{Bounds, decompress, v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decompress(data, 1 << 20);
    let deferred = v1::decode_deferring(data, v1::WriteRequest::default(), &mut Bounds::none());
    let Ok(req) = v1::decode(data) else {
        // Labels are checked later when deferred, so the deferring decode
        // may succeed; decoding every series' labels must then fail.
        if let Ok(mut later) = deferred {
            let all = (0..later.series.len())
                .try_for_each(|i| later.decode_labels(i, data, &mut Bounds::none()));
            assert!(all.is_err(), "deferred labels decode where the eager decode failed");
        }
        return;
    };
    let mut later = deferred.expect("deferring decode fails where the eager one passes");
    for i in 0..later.series.len() {
        later.decode_labels(i, data, &mut Bounds::none()).expect("deferred labels decode");
    }
    assert_eq!(later.series.len(), req.series.len());
    for (a, b) in later.series.iter().zip(&req.series) {
        assert_eq!(later.labels_of(a), req.labels_of(b));
        assert_eq!(a.sent_key, b.sent_key);
    }
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
