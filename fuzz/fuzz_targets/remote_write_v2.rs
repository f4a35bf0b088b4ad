//! Arbitrary bytes as a decompressed remote-write 2.0 body: decoding must
//! never panic; a decode held to a small memory allowance either fails or
//! agrees with the unbounded one; whatever decodes re-encodes to something
//! that decodes the same.
#![no_main]

use hourglass::ingest::remote_write::{Bounds, v1, v2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let full = v2::decode(data);
    let mut allowed = 0usize;
    let mut allow = |n: usize| {
        allowed += n;
        allowed <= 64 << 10
    };
    let mut bounds = Bounds::new(64, &mut allow);
    let bounded = v2::decode_bounded(data, v1::WriteRequest::default(), &mut bounds);
    if let (Ok(a), Ok(b)) = (&full, &bounded) {
        // Debug text, not `==`: a histogram's NaN sum is data and equals itself here.
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "a bounded decode that succeeds agrees"
        );
    }
    let Ok(req) = full else { return };
    let mut e = v2::Encoder::new();
    for s in &req.req.series {
        let samples: Vec<_> = req
            .req
            .samples_of(s)
            .iter()
            .copied()
            .zip(req.start_timestamps[s.samples.clone()].iter().copied())
            .collect();
        e.series(req.req.labels_of(s).iter().copied(), &samples, None);
    }
    let body = e.finish();
    let again = v2::decode(&body).expect("re-encoded request decodes");
    assert_eq!(again.req.labels, req.req.labels);
    assert_eq!(again.req.series.len(), req.req.series.len());
    assert_eq!(again.start_timestamps, req.start_timestamps);
    for (a, b) in again.req.samples.iter().zip(&req.req.samples) {
        assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
    }
});
