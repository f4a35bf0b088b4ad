//! A synthetic node-exporter host: the 100 series one host exposes (CPU
//! seconds by core and mode, memory gauges, load averages, filesystem and
//! network counters) and how each moves from one scrape to the next.
//!
//! `hourglass bench ingest` sends this traffic and the storage benchmarks
//! store it, so both measure the same data. The caller brings the
//! randomness ([`Draw`]), and so keeps its own generator and seed.

/// The random numbers the generator asks for.
pub trait Draw {
    /// A uniform integer below `n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64;
    /// A uniform float in `[0, 1)`.
    fn unit(&mut self) -> f64;
}

/// How a series moves from one scrape to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Rises by 0–9.99, two decimals (CPU seconds).
    Counter,
    /// Two-decimal random walk of ±5.
    Gauge,
    /// Never changes.
    Constant,
    /// Integer counter rising by 0–99,999 (bytes, packets).
    IntCounter,
    /// Integer gauge moving by ±32 pages of 4 KiB (memory, disk space).
    Bytes,
}

/// One series of a host: sorted labels, its shape and its current value.
#[derive(Clone, Debug)]
pub struct HostSeries {
    /// Label pairs sorted by name, `__name__` included.
    pub labels: Vec<(String, String)>,
    /// How it moves.
    pub shape: Shape,
    /// The value of the latest scrape.
    pub value: f64,
}

impl HostSeries {
    /// Moves the value to the next scrape's.
    pub fn advance(&mut self, draw: &mut impl Draw) {
        let v = self.value;
        self.value = match self.shape {
            // Rounded after each step: node exporter reports CPU seconds as
            // integer ticks / 100, never with accumulated float error.
            Shape::Counter => ((v + draw.below(1000) as f64 / 100.0) * 100.0).round() / 100.0,
            Shape::Gauge => ((v + (draw.unit() - 0.5) * 10.0) * 100.0).round() / 100.0,
            Shape::Constant => v,
            Shape::IntCounter => v + draw.below(100_000) as f64,
            Shape::Bytes => (v + (draw.below(65) as f64 - 32.0) * 4096.0).max(0.0),
        };
    }
}

const CPU_MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
const MEMORY: [&str; 12] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapTotal",
    "SwapFree",
    "Active",
    "Inactive",
    "Dirty",
    "Writeback",
    "Slab",
];
const LOADS: [&str; 3] = ["node_load1", "node_load5", "node_load15"];
const FILESYSTEMS: [(&str, &str); 3] = [("sda1", "/"), ("sda2", "/var"), ("sdb1", "/data")];
const FILESYSTEM_METRICS: [&str; 3] = [
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_files_free",
];
const NET_DEVICES: [&str; 3] = ["eth0", "eth1", "lo"];
const NET_METRICS: [&str; 4] = [
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_network_receive_packets_total",
    "node_network_transmit_packets_total",
];

/// The 100 series of host number `host` (its instance is
/// `10.a.b.c:9100`, job `node`), with first values drawn from `draw`.
pub fn host_series(host: usize, draw: &mut impl Draw) -> Vec<HostSeries> {
    let instance = format!(
        "10.{}.{}.{}:9100",
        host / 65536 % 256,
        host / 256 % 256,
        host % 256
    );
    let mut out = Vec::with_capacity(100);
    let mut push = |name: &str, extra: &[(&str, &str)], shape: Shape, value: f64| {
        let mut labels: Vec<(String, String)> = [
            ("__name__", name),
            ("instance", instance.as_str()),
            ("job", "node"),
        ]
        .iter()
        .chain(extra)
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .collect();
        labels.sort();
        out.push(HostSeries {
            labels,
            shape,
            value,
        });
    };
    for cpu in 0..8 {
        let cpu = cpu.to_string();
        for mode in CPU_MODES {
            // Two decimals, as node exporter reports them.
            let v = (draw.unit() * 1e8).round() / 100.0;
            let extra = [("cpu", cpu.as_str()), ("mode", mode)];
            push("node_cpu_seconds_total", &extra, Shape::Counter, v);
        }
    }
    for m in MEMORY {
        let v = (draw.below(16 << 20) * 4096) as f64;
        let shape = pages(m.ends_with("Total"));
        push(&format!("node_memory_{m}_bytes"), &[], shape, v);
    }
    for l in LOADS {
        push(l, &[], Shape::Gauge, draw.unit() * 4.0);
    }
    for (dev, mount) in FILESYSTEMS {
        for m in FILESYSTEM_METRICS {
            let v = (draw.below(1 << 28) * 4096) as f64;
            let extra = [("device", dev), ("mountpoint", mount), ("fstype", "ext4")];
            push(m, &extra, pages(m.contains("size")), v);
        }
    }
    for dev in NET_DEVICES {
        for m in NET_METRICS {
            let v = draw.below(1_000_000_000) as f64;
            push(m, &[("device", dev)], Shape::IntCounter, v);
        }
    }
    out.truncate(100);
    out
}

/// A size in pages: a total never changes, the rest move.
fn pages(total: bool) -> Shape {
    if total { Shape::Constant } else { Shape::Bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_has_100_distinct_sorted_series_that_move_by_their_shape() {
        struct Lcg(u64);
        impl Draw for Lcg {
            fn below(&mut self, n: u64) -> u64 {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (self.0 >> 33) % n
            }
            fn unit(&mut self) -> f64 {
                self.below(1 << 30) as f64 / (1u64 << 30) as f64
            }
        }
        let mut draw = Lcg(1);
        let mut host = host_series(7, &mut draw);
        assert_eq!(host.len(), 100);
        let distinct: std::collections::BTreeSet<_> = host.iter().map(|s| &s.labels).collect();
        assert_eq!(distinct.len(), 100);
        assert!(host.iter().all(|s| s.labels.is_sorted()));
        assert!(
            host[0]
                .labels
                .contains(&("instance".into(), "10.0.0.7:9100".into()))
        );
        let before: Vec<f64> = host.iter().map(|s| s.value).collect();
        for s in &mut host {
            s.advance(&mut draw);
        }
        for (s, b) in host.iter().zip(before) {
            match s.shape {
                Shape::Constant => assert_eq!(s.value, b),
                Shape::Counter | Shape::IntCounter => assert!(s.value >= b),
                Shape::Gauge => assert!((s.value - b).abs() <= 5.01),
                Shape::Bytes => assert!((s.value - b).abs() <= 32.0 * 4096.0),
            }
        }
    }
}
