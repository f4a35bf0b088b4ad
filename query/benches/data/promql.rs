//! The PromQL benchmark dataset, shared by `benches/promql_eval.rs` and
//! `query/examples/eval_profile.rs` (included by path, so both measure
//! the same data).
//!
//! 10,000 counter series `x{instance, job, pod}` plus a classic histogram
//! `x_bucket` (100 label sets × 11 buckets), 24 hours at 15 s (5,760
//! samples per series, 64M samples), in the head.

use hourglass_storage::{Labels, Options, Sample, Storage, StorageError, WriteBatch};

pub const SERIES: usize = 10_000;
pub const HISTOGRAMS: usize = 100;
pub const STEP_MS: i64 = 15_000;
pub const POINTS: i64 = 5_760;
const BOUNDS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
];

/// Opens storage in `dir` (WAL unsynced) and writes the dataset.
pub fn build(dir: &std::path::Path) -> Result<Storage, StorageError> {
    let mut opts = Options::default();
    opts.wal.sync = hourglass_wal::SyncPolicy::Never;
    let storage = Storage::open(dir, opts)?;
    // Appended a few hundred series at a time: one batch of 64M samples
    // would take a gigabyte on its own.
    let mut batch = WriteBatch::new();
    for s in 0..SERIES {
        let inst = format!("i-{:03}", s % 200);
        let pod = format!("pod-{s}");
        let job = format!("job-{}", s % 10);
        let labels = Labels::from_pairs([
            ("__name__", "x"),
            ("instance", inst.as_str()),
            ("job", job.as_str()),
            ("pod", pod.as_str()),
        ]);
        let rate = 1.0 + (s % 7) as f64;
        let samples = (0..POINTS)
            .map(|k| Sample::new(k * STEP_MS, (k as f64 * rate * 15.0).floor()))
            .collect();
        batch.push(labels, samples);
        if batch.series.len() == 500 {
            storage.append(&batch)?;
            batch = WriteBatch::new();
        }
    }
    for h in 0..HISTOGRAMS {
        let inst = format!("i-{h:03}");
        for (b, le) in BOUNDS.iter().enumerate() {
            let labels = Labels::from_pairs([
                ("__name__", "x_bucket"),
                ("instance", inst.as_str()),
                ("le", le),
            ]);
            let per_step = (b + 1) as f64 * 3.0;
            let samples = (0..POINTS)
                .map(|k| Sample::new(k * STEP_MS, k as f64 * per_step))
                .collect();
            batch.push(labels, samples);
        }
    }
    storage.append(&batch)?;
    Ok(storage)
}
