//! What the storage benchmarks and examples share; each bench uses part
//! of it.
#![allow(dead_code)]

use hourglass_storage::Labels;

/// xorshift64: deterministic data without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next value of the sequence (never 0 for a non-zero seed).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` series of 100 metrics per host (`node_metric_0` … `node_metric_99`
/// on `host-00000:9100` …, job `node`), each with the `extra` labels too.
pub fn node_labels(n: usize, extra: &[(&str, &str)]) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            let inst = format!("host-{:05}:9100", i / 100);
            let name = format!("node_metric_{}", i % 100);
            let base = [
                ("__name__", name.as_str()),
                ("instance", &inst),
                ("job", "node"),
            ];
            Labels::from_pairs(base.iter().chain(extra).copied())
        })
        .collect()
}
