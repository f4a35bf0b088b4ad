//! The node-exporter-like series of the compaction benchmarks
//! (`benches/compact.rs`, one day) and of the month run
//! (`examples/month_of_days.rs`): 100 metrics per host, 30 % counters.

use crate::support::Rng;
use hourglass_storage::Labels;

/// Series `i` is metric `i % 100` of host `i / 100`; `node_metric_N` with
/// `N % 10 < 3` is a counter.
pub fn labels(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            let inst = format!("host-{:04}:9100", i / 100);
            let name = format!("node_metric_{}", i % 100);
            Labels::from_pairs([
                ("__name__", name.as_str()),
                ("instance", &inst),
                ("job", "node"),
            ])
        })
        .collect()
}

/// Node-exporter-like values: with `busy`, every series moves (counters
/// by random steps, gauges by a random walk); without, 70 % stay constant
/// and counters tick by small integers.
pub struct Values {
    v: Vec<f64>,
    busy: bool,
    rng: Rng,
}

impl Values {
    /// Values of `n` series.
    pub fn new(n: usize, busy: bool) -> Values {
        Values {
            v: (0..n).map(|i| (i % 1000) as f64).collect(),
            busy,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Series `i`'s next value.
    pub fn next(&mut self, i: usize) -> f64 {
        let r = self.rng.next();
        let counter = i % 10 < 3;
        self.v[i] = match (self.busy, counter) {
            (false, false) => self.v[i],
            (false, true) => self.v[i] + (r % 4) as f64,
            (true, true) => self.v[i] + (r % 5000) as f64,
            (true, false) => {
                ((self.v[i] + (r % 2001) as f64 / 100.0 - 10.0) * 100.0).round() / 100.0
            }
        };
        self.v[i]
    }
}
