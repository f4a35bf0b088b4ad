//! `meta.json` and partition directory names.

use serde::{Deserialize, Serialize};

/// What `meta.json` says about a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Format version (1).
    pub version: u32,
    /// Start of the UTC hour the partition covers.
    pub hour_start_ms: i64,
    /// Oldest sample.
    pub min_t: i64,
    /// Newest sample.
    pub max_t: i64,
    /// Series count.
    pub series: u64,
    /// Sample count.
    pub samples: u64,
    /// Chunk count.
    pub chunks: u64,
    /// Compaction level (0 = written from the head).
    pub level: u32,
    /// The label series are grouped by after the metric name.
    pub source_label: String,
}

/// `2026-11-22T18` for the UTC hour starting at `hour_start_ms`.
pub(crate) fn hour_name(hour_start_ms: i64) -> String {
    let hours = hour_start_ms.div_euclid(super::HOUR_MS);
    let days = hours.div_euclid(24);
    let hour = hours.rem_euclid(24);
    let (y, m, d) = crate::calendar::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{hour:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_names_are_utc() {
        assert_eq!(hour_name(0), "1970-01-01T00");
        assert_eq!(hour_name(1_763_834_400_000), "2025-11-22T18");
        assert_eq!(hour_name(951_782_400_000), "2000-02-29T00");
        assert_eq!(hour_name(-3_600_000), "1969-12-31T23");
    }
}
