//! The query suite's dataset of `benches/footprint_vs.sh`, in small:
//! node-exporter-like hosts (`storage::synthetic_host`, the realistic
//! profile) scraped every 15 s for three hours, either on the scrape grid
//! (`aligned`) or ±3 ms off it with every series moving (`jittered`), as
//! `hourglass bench ingest` sends them. The first two hours are persisted
//! as partitions and the last stays in the head, where `serve` holds them
//! right after an ingest.

use hourglass_storage::synthetic_host::{Draw, Profile, host_series};
use hourglass_storage::{Labels, Options, Sample, Storage, StorageError, WriteBatch};

pub const STEP_MS: i64 = 15_000;
/// Scrapes: three hours.
pub const SCRAPES: i64 = 720;
/// The first scrape, on an hour.
pub const START_MS: i64 = 1_700_002_800_000;

/// The suite of `benches/common.sh` (`node_queries`).
pub const QUERIES: [(&str, &str); 5] = [
    ("sum_rate_cpu", "sum(rate(node_cpu_seconds_total[5m]))"),
    (
        "sum_by_instance_rate_net",
        "sum by (instance) (rate(node_network_receive_bytes_total[5m]))",
    ),
    ("topk_avg_load1", "topk(10, avg_over_time(node_load1[5m]))"),
    (
        "avg_memfree_regex",
        "avg_over_time(node_memory_MemFree_bytes{instance=~\"10.0.0.(1|2|3).*\"}[5m])",
    ),
    ("max_load5_1h", "max_over_time(node_load5[1h])"),
];

/// The last scrape on the grid: the suite reads the hour before it.
pub fn end_ms() -> i64 {
    START_MS + (SCRAPES - 1) * STEP_MS
}

/// Opens storage in `dir` (WAL unsynced) and writes `hosts` hosts
/// (100 series each), jittered or not, then persists the finished hours.
pub fn build(dir: &std::path::Path, hosts: usize, jittered: bool) -> Result<Storage, StorageError> {
    let mut opts = Options::default();
    opts.wal.sync = hourglass_wal::SyncPolicy::Never;
    let storage = Storage::open(dir, opts)?;
    let mut rng = fastrand::Rng::with_seed(15);
    for host in 0..hosts {
        let mut series = host_series(host, Profile::NodeRealistic, &mut rng);
        if jittered {
            for s in &mut series {
                s.move_always(Profile::NodeRealistic);
            }
        }
        let mut batch = WriteBatch::new();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); series.len()];
        for k in 0..SCRAPES {
            for (s, out) in series.iter_mut().zip(&mut samples) {
                s.advance(&mut rng);
                let jitter = if jittered { rng.below(7) as i64 - 3 } else { 0 };
                out.push(Sample::new(START_MS + k * STEP_MS + jitter, s.value));
            }
        }
        for (s, smp) in series.iter().zip(samples) {
            let labels = Labels::from_pairs(s.labels.iter().map(|(n, v)| (n, v)));
            batch.push(labels, smp);
        }
        storage.append(&batch)?;
    }
    storage.persist()?;
    Ok(storage)
}
