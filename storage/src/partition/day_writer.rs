//! Day partitions written straight from samples, for benchmarks that need
//! weeks of stored data without ingesting it through the head and the WAL
//! (`storage/examples/month_of_days.rs`). The files are the ones
//! compaction writes for a day; only the way there is shorter.

use super::{DAY_MS, PartSeries, PartitionError, day_name, encode, free_name, publish, write_tmp};
use crate::chunk::encode_cold_runs;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use hourglass_wal::fs::StdFs;
use std::path::{Path, PathBuf};

/// One UTC day's series, encoded as they are pushed.
#[derive(Debug)]
pub struct DayWriter {
    start_ms: i64,
    series: Vec<PartSeries>,
}

impl DayWriter {
    /// A writer for the UTC day starting at `day_start_ms` (a multiple of
    /// a day).
    pub fn new(day_start_ms: i64) -> DayWriter {
        DayWriter {
            start_ms: day_start_ms.div_euclid(DAY_MS) * DAY_MS,
            series: Vec::new(),
        }
    }

    /// Adds a series (once per series) with its samples of the day, in
    /// time order, distinct times.
    pub fn push(&mut self, labels: Labels, samples: &[Sample]) {
        self.series.push(PartSeries {
            labels,
            chunks: encode_cold_runs(samples),
            histograms: Vec::new(),
        });
    }

    /// Writes the day partition into `data_dir/parts` (compaction level 1,
    /// as a day merge leaves it, `job` as the source label); returns its
    /// directory.
    pub fn write(self, data_dir: &Path) -> Result<PathBuf, PartitionError> {
        let parts = data_dir.join("parts");
        let enc = encode(self.start_ms, DAY_MS, 1, self.series, "job")?;
        let name = free_name(&StdFs, &parts, &day_name(self.start_ms));
        let tmp = write_tmp(&StdFs, &parts, &name, &enc)?;
        publish(&StdFs, &parts, &tmp, &name)
    }
}
