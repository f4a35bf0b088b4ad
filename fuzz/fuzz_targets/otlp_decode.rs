//! Arbitrary bytes as an OTLP metrics body, protobuf and JSON: decoding
//! and translating never panic, every series has a name, and accepted
//! plus rejected points never exceed the points decoded.
#![no_main]

use hourglass::ingest::arena::SeriesArena;
use hourglass::ingest::otlp::model::Request;
use hourglass::ingest::otlp::translate::{Metadata, Settings, translate};
use hourglass::ingest::otlp::{json, proto};
use libfuzzer_sys::fuzz_target;

fn check(req: &Request<'_>, nhcb: bool) {
    let promote = vec!["k8s.pod.name".to_string()];
    let settings = Settings {
        promote: &promote,
        max_series: 10_000,
        type_and_unit_labels: false,
        created_timestamp_zero: nhcb,
        convert_histograms_to_nhcb: nhcb,
    };
    let mut arena = SeriesArena::default();
    let mut md = Metadata::new();
    let o = translate(req, &settings, &mut arena, &mut md, &mut |_| true);
    let points: usize = req
        .resources
        .iter()
        .flat_map(|r| &r.metrics)
        .map(|m| m.data.points().max(1))
        .sum();
    assert!((o.accepted + o.rejected) as usize <= points);
    for (labels, _) in arena.to_vec() {
        assert!(labels.iter().any(|(n, v)| n == "__name__" && !v.is_empty()));
    }
}

fuzz_target!(|data: &[u8]| {
    // The last byte picks how histograms and start times are translated.
    let nhcb = data.last().is_some_and(|b| b & 1 == 1);
    if let Ok(req) = proto::decode(data) {
        check(&req, nhcb);
    }
    if let Ok(req) = json::decode(data) {
        check(&req, nhcb);
    }
});
