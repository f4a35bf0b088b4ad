//! Arbitrary bytes as a scraped protobuf body (delimited `MetricFamily`
//! messages): decoding and turning families into series must never
//! panic; whatever decodes re-encodes to bytes that decode and re-encode
//! to the same bytes.
#![no_main]

use hourglass::ingest::metric_family::{decode, encode::encode, series};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(families) = decode(data) else { return };
    for f in &families {
        for native in [false, true] {
            let opts = series::Options {
                native,
                always_classic: data.len() % 2 == 0,
            };
            let mut out = Vec::new();
            let _ = series::series(f, opts, &mut out);
        }
    }
    let mut once = Vec::new();
    encode(&families, &mut once);
    let again = decode(&once).expect("re-encoded families decode");
    let mut twice = Vec::new();
    encode(&again, &mut twice);
    assert_eq!(once, twice, "encoding is stable");
});
