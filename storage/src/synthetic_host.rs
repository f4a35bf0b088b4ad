//! A synthetic node-exporter host: the 100 series one host exposes (CPU
//! seconds by core and mode, memory gauges, load averages, filesystem and
//! network counters) and how each moves from one scrape to the next, in
//! two profiles ([`Profile`]).
//!
//! `hourglass bench ingest` sends this traffic and the storage benchmarks
//! store it, so both measure the same data. The caller brings the
//! randomness ([`Draw`]), and so keeps its own generator and seed; the
//! draws are asked in a fixed order, so one seed gives one stream.

/// The random numbers the generator asks for.
pub trait Draw {
    /// A uniform integer below `n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64;
    /// A uniform float in `[0, 1)`.
    fn unit(&mut self) -> f64;
}

/// The generators of the benches and of `hourglass bench ingest`: one
/// seeded `fastrand` sequence.
impl Draw for fastrand::Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.u64(..n)
    }

    fn unit(&mut self) -> f64 {
        self.f64()
    }
}

/// How the series of a host move from scrape to scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Every series but the sizes and totals moves every scrape, by wide
    /// amounts (CPU seconds +0.01…10, network counters +1…100k, page-sized
    /// memory steps ±32, load ±5): the hard case for compression.
    Node,
    /// A node exporter on a mostly idle host: each series moves with its
    /// own probability per scrape and by realistic amounts ([`realistic`]).
    NodeRealistic,
}

/// How one series' value steps when it moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// A counter in hundredths (CPU seconds): + 0.01 … `amp`.
    Counter,
    /// A two-decimal gauge walking ± `amp`.
    Gauge,
    /// A two-decimal gauge walking ± `amp`, never below 0 (load averages).
    Load,
    /// Never changes.
    Constant,
    /// An integer counter (bytes, packets): + 1 … `amp`.
    IntCounter,
    /// A gauge of `unit`-sized steps (memory, disk space): ± `amp` units,
    /// never below 0.
    Bytes {
        /// The step, in the value's unit.
        unit: f64,
    },
}

/// One series of a host: sorted labels, how it moves and its current value.
#[derive(Clone, Debug)]
pub struct HostSeries {
    /// Label pairs sorted by name, `__name__` included.
    pub labels: Vec<(String, String)>,
    /// How it moves.
    pub shape: Shape,
    /// Chance of moving at a scrape.
    pub p: f64,
    /// Step size of a move, in the shape's unit.
    pub amp: f64,
    /// The value of the latest scrape.
    pub value: f64,
}

impl HostSeries {
    /// Moves the value to the next scrape's.
    pub fn advance(&mut self, draw: &mut impl Draw) {
        if self.p < 1.0 && draw.unit() >= self.p {
            return;
        }
        let v = self.value;
        self.value = match self.shape {
            // Rounded after each step: node exporter reports CPU seconds as
            // integer ticks / 100, never with accumulated float error.
            Shape::Counter => {
                let ticks = draw.below((self.amp * 100.0) as u64) + 1;
                ((v * 100.0).round() + ticks as f64) / 100.0
            }
            Shape::Gauge => ((v + (draw.unit() - 0.5) * 2.0 * self.amp) * 100.0).round() / 100.0,
            Shape::Load => {
                (((v + (draw.unit() - 0.5) * 2.0 * self.amp) * 100.0).round() / 100.0).max(0.0)
            }
            Shape::Constant => v,
            Shape::IntCounter => v + (draw.below(self.amp as u64) + 1) as f64,
            Shape::Bytes { unit } => {
                let steps = draw.below(2 * self.amp as u64 + 1) as f64 - self.amp;
                (v + steps * unit).max(0.0)
            }
        };
    }

    /// Makes the series move every scrape (the worst case for
    /// compression): a constant then walks as a gauge of its profile.
    pub fn move_always(&mut self, profile: Profile) {
        self.p = 1.0;
        if self.shape == Shape::Constant {
            (self.shape, self.amp) = match profile {
                Profile::Node => (Shape::Gauge, 5.0),
                Profile::NodeRealistic => (Shape::Bytes { unit: 1024.0 }, 1.0),
            };
        }
    }
}

/// Per-series move probability and step of the realistic profile, by
/// metric name and the distinguishing label (mode, device, mountpoint).
/// Per CPU: idle, user and system always; softirq 0.3, iowait 0.2, irq,
/// nice and steal 0.02. Memory: MemFree, MemAvailable, Active, Dirty
/// 0.5–1, Cached, Inactive, Buffers, Slab 0.1–0.3, Writeback 0.02, totals
/// and swap never. Load averages 0.6–1. Filesystems: free space 0.05–0.2,
/// free inodes 0.05, sizes never. Network: eth0 always, lo 0.3, eth1 0.02.
pub fn realistic(name: &str, which: &str) -> (f64, f64) {
    match (name, which) {
        ("node_cpu_seconds_total", "idle") => (1.0, 15.0),
        ("node_cpu_seconds_total", "user") => (1.0, 0.5),
        ("node_cpu_seconds_total", "system") => (1.0, 0.2),
        ("node_cpu_seconds_total", "softirq") => (0.3, 0.02),
        ("node_cpu_seconds_total", "iowait") => (0.2, 0.05),
        ("node_cpu_seconds_total", _) => (0.02, 0.01),
        ("node_memory_MemFree_bytes" | "node_memory_MemAvailable_bytes", _) => (1.0, 64.0),
        ("node_memory_Active_bytes" | "node_memory_Dirty_bytes", _) => (0.5, 16.0),
        ("node_memory_Cached_bytes" | "node_memory_Inactive_bytes", _) => (0.3, 16.0),
        ("node_memory_Buffers_bytes" | "node_memory_Slab_bytes", _) => (0.1, 4.0),
        ("node_memory_Writeback_bytes", _) => (0.02, 4.0),
        ("node_load1", _) => (1.0, 0.1),
        ("node_load5", _) => (0.8, 0.03),
        ("node_load15", _) => (0.6, 0.01),
        ("node_filesystem_avail_bytes", "/var") => (0.2, 8.0),
        ("node_filesystem_avail_bytes", _) => (0.05, 8.0),
        ("node_filesystem_files_free", _) => (0.05, 4.0),
        (n, "eth0") if n.contains("bytes") => (1.0, 200_000.0),
        (_, "eth0") => (1.0, 300.0),
        (n, "lo") if n.contains("bytes") => (0.3, 5_000.0),
        (_, "lo") => (0.3, 40.0),
        (n, "eth1") if n.contains("bytes") => (0.02, 2_000.0),
        (_, "eth1") => (0.02, 10.0),
        _ => (0.0, 0.0),
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
/// `10.a.b.c:9100`, job `node`) moving as `profile` says, with first
/// values drawn from `draw`.
pub fn host_series(host: usize, profile: Profile, draw: &mut impl Draw) -> Vec<HostSeries> {
    let instance = format!(
        "10.{}.{}.{}:9100",
        host / 65536 % 256,
        host / 256 % 256,
        host % 256
    );
    let realistic_profile = profile == Profile::NodeRealistic;
    let mut out = Vec::with_capacity(100);
    // `which` is the label that tells the series of a metric apart.
    let mut push = |name: &str, extra: &[(&str, &str)], which: &str, shape, value| {
        let (p, amp) = match profile {
            Profile::Node => match shape {
                Shape::Counter => (1.0, 10.0),
                Shape::Gauge | Shape::Load => (1.0, 5.0),
                Shape::Constant => (0.0, 0.0),
                Shape::IntCounter => (1.0, 100_000.0),
                Shape::Bytes { .. } => (1.0, 32.0),
            },
            Profile::NodeRealistic => realistic(name, which),
        };
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
            p,
            amp,
            value,
        });
    };
    let page = Shape::Bytes { unit: 4096.0 };
    for cpu in 0..8 {
        let cpu = cpu.to_string();
        for mode in CPU_MODES {
            // Two decimals, as node exporter reports them.
            let v = (draw.unit() * 1e8).round() / 100.0;
            let extra = [("cpu", cpu.as_str()), ("mode", mode)];
            push("node_cpu_seconds_total", &extra, mode, Shape::Counter, v);
        }
    }
    for m in MEMORY {
        let fixed = m.ends_with("Total") || (realistic_profile && m == "SwapFree");
        let shape = if fixed { Shape::Constant } else { page };
        let v = (draw.below(16 << 20) * 4096) as f64;
        push(&format!("node_memory_{m}_bytes"), &[], m, shape, v);
    }
    for l in LOADS {
        let v = draw.unit() * 4.0;
        if realistic_profile {
            push(l, &[], l, Shape::Load, (v * 100.0).round() / 100.0);
        } else {
            push(l, &[], l, Shape::Gauge, v);
        }
    }
    for (dev, mount) in FILESYSTEMS {
        for m in FILESYSTEM_METRICS {
            let shape = if m.contains("size") {
                Shape::Constant
            } else if m.contains("files") && realistic_profile {
                Shape::Bytes { unit: 1.0 }
            } else {
                page
            };
            let v = (draw.below(1 << 28) * 4096) as f64;
            let extra = [("device", dev), ("mountpoint", mount), ("fstype", "ext4")];
            push(m, &extra, mount, shape, v);
        }
    }
    for dev in NET_DEVICES {
        for m in NET_METRICS {
            let v = draw.below(1_000_000_000) as f64;
            push(m, &[("device", dev)], dev, Shape::IntCounter, v);
        }
    }
    out.truncate(100);
    out
}

#[cfg(test)]
#[path = "synthetic_host_tests.rs"]
mod tests;
