//! Arbitrary bytes as a scraped body (text, OpenMetrics and protobuf),
//! through the series cache (parse, label merge, metric relabelling,
//! limits, staleness, `_created` lines, classic histograms converted to
//! custom buckets) twice in a row: never a panic, and never a stale
//! marker forged by the body.
#![no_main]

use hourglass::scrape::cache::{Context, SeriesCache};
use hourglass::scrape::config::{HistogramOptions, ScrapeConfig};
use hourglass::scrape::negotiate::Format;
use hourglass_storage::STALE_NAN_BITS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = ScrapeConfig::parse(
        "scrape_configs:\n  - job_name: j\n    sample_limit: 1000\n    label_limit: 30\n\
         \x20   metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'drop_.*'\n        action: drop\n",
    ) else {
        return;
    };
    let job = &c.jobs[0];
    let target_labels = vec![
        ("instance".to_string(), "h:1".to_string()),
        ("job".to_string(), "j".to_string()),
    ];
    let ctx = Context {
        target_labels: &target_labels,
        honor_labels: data.first().is_some_and(|b| b & 1 == 1),
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel: &job.metric_relabel_configs,
        limits: job.limits,
        histograms: HistogramOptions {
            native: data.first().is_some_and(|b| b & 8 == 8),
            always_classic: data.first().is_some_and(|b| b & 16 == 16),
            convert_nhcb: data.first().is_some_and(|b| b & 32 == 32),
        },
        type_and_unit_labels: data.first().is_some_and(|b| b & 2 == 2),
        created_timestamp_zero: data.first().is_some_and(|b| b & 4 == 4),
    };
    for format in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
        let mut cache = SeriesCache::default();
        for ts in [1_000, 2_000] {
            cache.begin();
            let out = cache.process(&ctx, data, format, ts);
            for s in &out.batch.series {
                assert_ne!(
                    s.sample.v.to_bits(),
                    STALE_NAN_BITS,
                    "body forged a stale marker"
                );
            }
            let _ = cache.stale_markers(ts);
        }
    }
});
