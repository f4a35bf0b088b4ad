//! What the root benchmarks share: one scrape target as the scraper sees
//! it.

use hourglass::scrape::cache::Context;
use hourglass::scrape::config::{HistogramOptions, Limits};

/// The target's own labels.
pub fn target_labels() -> Vec<(String, String)> {
    vec![
        ("instance".to_string(), "127.0.0.1:19300".to_string()),
        ("job".to_string(), "bench".to_string()),
    ]
}

/// The scraper's defaults for a target of `target_labels`: no
/// relabelling, default limits, exposed timestamps kept, histograms as
/// exposed, no created-timestamp zeros.
pub fn context(target_labels: &[(String, String)]) -> Context<'_> {
    Context {
        target_labels,
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel: &[],
        limits: Limits::default(),
        histograms: HistogramOptions::default(),
        type_and_unit_labels: false,
        created_timestamp_zero: false,
    }
}
