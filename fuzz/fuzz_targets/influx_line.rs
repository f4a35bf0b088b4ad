//! Arbitrary bytes as an InfluxDB line-protocol body: decoding never
//! panics, every line is either stored or reported, and every series has
//! a metric name.
#![no_main]

use hourglass::ingest::arena::SeriesArena;
use hourglass::ingest::influx::{Options, Precision, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        db_label: Some(("db", "fuzz")),
        precision: Precision::Seconds,
        now_ms: 0,
        max_series: 10_000,
    };
    let mut arena = SeriesArena::default();
    let r = decode(data, &opts, &mut arena, &mut |_| true);
    assert!(r.errors.len() <= r.bad_lines);
    assert_eq!(arena.len(), r.fields);
    for (labels, _) in arena.to_vec() {
        assert!(labels.first().is_some_and(|(n, v)| n == "__name__" && !v.is_empty()));
    }
    arena.with_batch(|b| assert_eq!(b.num_samples(), r.fields));
});
