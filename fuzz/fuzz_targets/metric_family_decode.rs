//! Arbitrary bytes as a scraped or pushed protobuf body (delimited
//! `MetricFamily` messages): decoding and turning families into series
//! (native histograms, classic ones converted to custom buckets) must
//! never panic; counting the metrics without decoding agrees with
//! decoding; whatever decodes re-encodes to bytes that decode and
//! re-encode to the same bytes.
#![no_main]

use hourglass::ingest::metric_family::{count_metrics, decode, encode::encode, series};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(families) = decode(data) else { return };
    let metrics: usize = families.iter().map(|f| f.metrics.len()).sum();
    assert_eq!(count_metrics(data).ok(), Some(metrics), "metrics counted");
    for f in &families {
        for native in [false, true] {
            let opts = series::Options {
                native,
                always_classic: data.len() % 2 == 0,
                convert_nhcb: data.len() % 3 == 0,
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
