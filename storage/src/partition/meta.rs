//! `meta.json` and partition directory names.

use serde::{Deserialize, Serialize};

/// What `meta.json` says about a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Format version (1 to 4).
    pub version: u32,
    /// Start of the UTC hour (or, for a day partition, day) the partition
    /// covers.
    pub hour_start_ms: i64,
    /// Length of the span it covers: an hour, or a day once compacted
    /// (absent in version 1: an hour).
    #[serde(default = "one_hour")]
    pub span_ms: i64,
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

fn one_hour() -> i64 {
    super::HOUR_MS
}

/// `2026-11-22` for the UTC day starting at `day_start_ms`.
pub(crate) fn day_name(day_start_ms: i64) -> String {
    let (y, m, d) = crate::calendar::civil_from_days(day_start_ms.div_euclid(super::DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-11-22B16` for the UTC block starting at `block_start_ms` (here
/// the hours 16 to 19): it sorts after its day's day partition and before
/// its hours' partitions, so that where a block and a later partition of
/// one of its hours overlap, the block is read first, as the querier and
/// compaction read an hour's first partition before its late ones.
pub(crate) fn block_name(block_start_ms: i64) -> String {
    let hours = block_start_ms.div_euclid(super::HOUR_MS);
    let (y, m, d) = crate::calendar::civil_from_days(hours.div_euclid(24));
    format!("{y:04}-{m:02}-{d:02}B{:02}", hours.rem_euclid(24))
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
        assert_eq!(day_name(951_782_400_000), "2000-02-29");
        assert_eq!(block_name(1_763_827_200_000), "2025-11-22B16");
    }

    #[test]
    fn a_block_sorts_between_its_day_and_its_hours() {
        let block = 1_763_827_200_000;
        let mut names = vec![
            hour_name(block + super::super::HOUR_MS),
            hour_name(block),
            block_name(block),
            day_name(block),
            hour_name(block - super::super::HOUR_MS),
        ];
        names.sort();
        assert_eq!(names[0], day_name(block));
        assert_eq!(names[1], block_name(block));
        assert!(names[2..].iter().all(|n| n.contains('T')), "{names:?}");
    }

    #[test]
    fn version_1_meta_reads_as_one_hour() {
        let m: Meta = serde_json::from_str(
            r#"{"version":1,"hour_start_ms":0,"min_t":0,"max_t":5,"series":1,
                "samples":2,"chunks":1,"level":0,"source_label":"job"}"#,
        )
        .unwrap();
        assert_eq!(m.span_ms, super::super::HOUR_MS);
    }
}
