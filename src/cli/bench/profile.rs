//! The generated load: node-exporter-like hosts of 100 series, one sample
//! per series per 15 s scrape, built scrape by scrape into remote-write
//! requests (encoded and compressed) for each sender. The state is the
//! series' current values, so any number of scrapes runs in bounded memory.

use crate::ingest::protobuf::Writer;
use crate::ingest::remote_write::{compress, v1, v2};
use hourglass_storage::Sample;

/// How the series of a host move from scrape to scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Every series but the sizes and totals moves every scrape, by wide
    /// amounts (CPU seconds +0…9.99, network counters +0…100k, page-sized
    /// memory steps ±32, load ±5): the hard case for compression.
    Node,
    /// A node exporter as it is on a mostly idle host: each series moves
    /// with its own probability per scrape and by realistic amounts. Per
    /// CPU: idle, user and system always; softirq 0.3, iowait 0.2, irq,
    /// nice and steal 0.02. Memory: MemFree, MemAvailable, Active, Dirty
    /// 0.5–1, Cached, Inactive, Buffers, Slab 0.1–0.3, Writeback 0.02,
    /// totals and swap never. Load averages 0.6–1. Filesystems: free space
    /// 0.05–0.2, free inodes 0.05, sizes never. Network: eth0 always, lo
    /// 0.3, eth1 0.02. `--all-moving` moves every series every scrape by
    /// the same realistic amounts.
    NodeRealistic,
}

/// How one series' value steps when it moves.
#[derive(Clone, Copy)]
enum Shape {
    /// A counter in hundredths (CPU seconds): + 0.01 … `amp`.
    Counter,
    /// A gauge walking ± `amp`.
    Gauge,
    /// A two-decimal gauge walking ± `amp`, never below 0 (load averages).
    Load,
    /// Never changes (unless every series moves: then a gauge).
    Constant,
    /// An integer counter (bytes, packets): + 1 … `amp`.
    IntCounter,
    /// A gauge of `unit`-sized steps (memory, disk space): ± `amp` units.
    Bytes { unit: f64 },
}

struct SeriesSpec {
    labels: Vec<(String, String)>,
    shape: Shape,
    /// Chance of moving at a scrape.
    p: f64,
    /// Step size of a move, in the shape's unit.
    amp: f64,
    value: f64,
}

/// What to generate.
pub struct Config {
    /// How the series move.
    pub profile: Profile,
    /// Series, rounded up to whole hosts of 100.
    pub series: usize,
    /// Samples per series, 15 s apart.
    pub scrapes: usize,
    /// The first scrape's time, Unix ms.
    pub start_ms: i64,
    /// Timestamp jitter around the grid, ± ms.
    pub jitter_ms: i64,
    /// Every series moves every scrape.
    pub all_moving: bool,
    /// Senders the series are split over.
    pub senders: usize,
    /// Most samples in one request.
    pub samples_per_request: usize,
    /// Remote-write protocol version, 1 or 2.
    pub protocol: u8,
}

impl Config {
    /// One line naming the dataset, kept in a stream file's header.
    pub fn describe(&self) -> String {
        format!(
            "profile={:?} series={} scrapes={} start_ms={} jitter_ms={} all_moving={} \
             senders={} samples_per_request={} protocol={}",
            self.profile,
            self.series,
            self.scrapes,
            self.start_ms,
            self.jitter_ms,
            self.all_moving,
            self.senders,
            self.samples_per_request,
            self.protocol
        )
    }
}

/// One remote-write request: the compressed body and its sample count.
pub struct Request {
    /// The protobuf, snappy-compressed.
    pub body: Vec<u8>,
    /// Samples it holds.
    pub samples: usize,
}

/// One scrape's requests, indexed by sender.
pub type Scrape = Vec<Vec<Request>>;

/// Builds the stream one scrape at a time.
pub struct Generator {
    senders: Vec<Vec<SeriesSpec>>,
    rng: fastrand::Rng,
    cfg: Config,
    next: usize,
    /// Protobuf bytes before compression, so far.
    pub raw_bytes: usize,
}

impl Generator {
    /// The series of `cfg` at their first values.
    pub fn new(cfg: Config) -> Generator {
        let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
        let senders_n = cfg.senders.max(1);
        let mut senders: Vec<Vec<SeriesSpec>> = (0..senders_n).map(|_| Vec::new()).collect();
        // Spread series evenly, as a scraper's shards do by series hash: an
        // uneven split leaves senders idle at every lockstep barrier and
        // makes the busiest sender set the pace.
        let mut next = 0usize;
        for h in 0..cfg.series.div_ceil(100).max(1) {
            for mut s in host_series(h, cfg.profile, &mut rng) {
                if cfg.all_moving {
                    s.p = 1.0;
                    if matches!(s.shape, Shape::Constant) {
                        (s.shape, s.amp) = match cfg.profile {
                            Profile::Node => (Shape::Gauge, 5.0),
                            Profile::NodeRealistic => (Shape::Bytes { unit: 1024.0 }, 1.0),
                        };
                    }
                }
                senders[next % senders_n].push(s);
                next += 1;
            }
        }
        senders.retain(|s| !s.is_empty());
        Generator {
            senders,
            rng,
            cfg,
            next: 0,
            raw_bytes: 0,
        }
    }

    /// Senders that have series.
    pub fn senders(&self) -> usize {
        self.senders.len()
    }

    /// Series over all senders.
    pub fn series(&self) -> usize {
        self.senders.iter().map(Vec::len).sum()
    }
}

impl Iterator for Generator {
    type Item = Scrape;

    fn next(&mut self) -> Option<Scrape> {
        if self.next >= self.cfg.scrapes {
            return None;
        }
        let k = self.next;
        self.next += 1;
        let cfg = &self.cfg;
        let rng = &mut self.rng;
        let mut scrape = Vec::with_capacity(self.senders.len());
        for series in &mut self.senders {
            let mut reqs = Vec::new();
            for group in series.chunks_mut(cfg.samples_per_request.max(1)) {
                let mut w = Writer::default();
                let mut e2 = v2::Encoder::new();
                for s in group.iter_mut() {
                    advance(s, rng);
                    let jitter = if cfg.jitter_ms > 0 {
                        rng.u64(..2 * cfg.jitter_ms as u64 + 1) as i64 - cfg.jitter_ms
                    } else {
                        0
                    };
                    let t = cfg.start_ms + k as i64 * 15_000 + jitter;
                    let labels = s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                    if cfg.protocol == 2 {
                        e2.series(labels, &[(Sample::new(t, s.value), 0)], None);
                    } else {
                        v1::encode_series(&mut w, labels, &[Sample::new(t, s.value)]);
                    }
                }
                let raw = if cfg.protocol == 2 {
                    e2.finish()
                } else {
                    w.buf
                };
                self.raw_bytes += raw.len();
                reqs.push(Request {
                    body: compress(&raw),
                    samples: group.len(),
                });
            }
            scrape.push(reqs);
        }
        Some(scrape)
    }
}

/// Per-series move probability and step of the realistic profile, by
/// metric name and the distinguishing label (mode, device, mountpoint).
fn realistic(name: &str, which: &str) -> (f64, f64) {
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

/// The 100 series of one node-exporter host.
fn host_series(host: usize, profile: Profile, rng: &mut fastrand::Rng) -> Vec<SeriesSpec> {
    let instance = format!(
        "10.{}.{}.{}:9100",
        host / 65536 % 256,
        host / 256 % 256,
        host % 256
    );
    let base = |name: &str| -> Vec<(String, String)> {
        vec![
            ("__name__".into(), name.into()),
            ("instance".into(), instance.clone()),
            ("job".into(), "node".into()),
        ]
    };
    let mut out = Vec::with_capacity(100);
    let mut push = |mut labels: Vec<(String, String)>, which: &str, shape: Shape, value: f64| {
        let (p, amp) = match profile {
            Profile::Node => match shape {
                Shape::Counter => (1.0, 10.0),
                Shape::Gauge | Shape::Load => (1.0, 5.0),
                Shape::Constant => (0.0, 0.0),
                Shape::IntCounter => (1.0, 100_000.0),
                Shape::Bytes { .. } => (1.0, 32.0),
            },
            Profile::NodeRealistic => realistic(&labels[0].1, which),
        };
        labels.sort();
        out.push(SeriesSpec {
            labels,
            shape,
            p,
            amp,
            value,
        });
    };
    let page = Shape::Bytes { unit: 4096.0 };
    for cpu in 0..8 {
        for mode in [
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
        ] {
            let mut l = base("node_cpu_seconds_total");
            l.push(("cpu".into(), cpu.to_string()));
            l.push(("mode".into(), mode.into()));
            // CPU seconds carry two decimals, as node exporter reports them.
            push(l, mode, Shape::Counter, (rng.f64() * 1e8).round() / 100.0);
        }
    }
    for m in [
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
    ] {
        let shape =
            if m.ends_with("Total") || (profile == Profile::NodeRealistic && m == "SwapFree") {
                Shape::Constant
            } else {
                page
            };
        push(
            base(&format!("node_memory_{m}_bytes")),
            m,
            shape,
            (rng.u64(..16 << 20) * 4096) as f64,
        );
    }
    for l in ["node_load1", "node_load5", "node_load15"] {
        let v = rng.f64() * 4.0;
        match profile {
            Profile::Node => push(base(l), l, Shape::Gauge, v),
            Profile::NodeRealistic => push(base(l), l, Shape::Load, (v * 100.0).round() / 100.0),
        }
    }
    for (dev, mount) in [("sda1", "/"), ("sda2", "/var"), ("sdb1", "/data")] {
        for m in [
            "node_filesystem_avail_bytes",
            "node_filesystem_size_bytes",
            "node_filesystem_files_free",
        ] {
            let mut l = base(m);
            l.push(("device".into(), dev.into()));
            l.push(("mountpoint".into(), mount.into()));
            l.push(("fstype".into(), "ext4".into()));
            let shape = if m.contains("size") {
                Shape::Constant
            } else if m.contains("files") && profile == Profile::NodeRealistic {
                Shape::Bytes { unit: 1.0 }
            } else {
                page
            };
            push(l, mount, shape, (rng.u64(..1 << 28) * 4096) as f64);
        }
    }
    for dev in ["eth0", "eth1", "lo"] {
        for m in [
            "node_network_receive_bytes_total",
            "node_network_transmit_bytes_total",
            "node_network_receive_packets_total",
            "node_network_transmit_packets_total",
        ] {
            let mut l = base(m);
            l.push(("device".into(), dev.into()));
            push(l, dev, Shape::IntCounter, rng.u64(..1_000_000_000) as f64);
        }
    }
    out.truncate(100);
    out
}

fn advance(s: &mut SeriesSpec, rng: &mut fastrand::Rng) {
    if s.p < 1.0 && rng.f64() >= s.p {
        return;
    }
    s.value = match s.shape {
        // Rounded after each step: node exporter reports CPU seconds as
        // integer ticks / 100, never with accumulated float error.
        Shape::Counter => {
            let ticks = rng.u64(..(s.amp * 100.0) as u64) + 1;
            ((s.value * 100.0).round() + ticks as f64) / 100.0
        }
        Shape::Gauge => ((s.value + (rng.f64() - 0.5) * 2.0 * s.amp) * 100.0).round() / 100.0,
        Shape::Load => {
            (((s.value + (rng.f64() - 0.5) * 2.0 * s.amp) * 100.0).round() / 100.0).max(0.0)
        }
        Shape::Constant => s.value,
        Shape::IntCounter => s.value + (rng.u64(..s.amp as u64) + 1) as f64,
        Shape::Bytes { unit } => {
            let steps = rng.u64(..2 * s.amp as u64 + 1) as f64 - s.amp;
            (s.value + steps * unit).max(0.0)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(profile: Profile, all_moving: bool) -> Config {
        Config {
            profile,
            series: 1000,
            scrapes: 40,
            start_ms: 1_700_000_000_000,
            jitter_ms: 0,
            all_moving,
            senders: 3,
            samples_per_request: 2000,
            protocol: 1,
        }
    }

    /// Share of (series, scrape) steps whose value changed.
    fn moved_share(cfg: Config) -> f64 {
        let mut g = Generator::new(cfg);
        let before: Vec<f64> = g.senders.iter().flatten().map(|s| s.value).collect();
        let (mut moved, mut prev) = (0usize, before);
        let mut steps = 0usize;
        for _ in 0..40 {
            for s in g.senders.iter_mut().flatten() {
                advance(s, &mut g.rng);
            }
            let now: Vec<f64> = g.senders.iter().flatten().map(|s| s.value).collect();
            moved += now.iter().zip(&prev).filter(|(a, b)| a != b).count();
            steps += now.len();
            prev = now;
        }
        moved as f64 / steps as f64
    }

    #[test]
    fn the_realistic_profile_is_mostly_idle_and_all_moving_moves_everything() {
        let node = moved_share(config(Profile::Node, false));
        let idle = moved_share(config(Profile::NodeRealistic, false));
        let moving = moved_share(config(Profile::NodeRealistic, true));
        println!("moved per scrape: node {node:.3}, realistic {idle:.3}, all moving {moving:.3}");
        assert!(node > 0.9, "{node}");
        assert!((0.3..0.6).contains(&idle), "{idle}");
        // Every series steps every scrape, though a gauge's step may be 0.
        assert!(moving > 0.95, "{moving}");
    }

    #[test]
    fn every_scrape_holds_each_series_once_split_over_the_senders() {
        let g = Generator::new(config(Profile::NodeRealistic, false));
        assert_eq!(g.series(), 1000);
        assert_eq!(g.senders(), 3);
        let scrapes: Vec<Scrape> = g.collect();
        assert_eq!(scrapes.len(), 40);
        for s in &scrapes {
            let n: usize = s.iter().flatten().map(|r| r.samples).sum();
            assert_eq!(n, 1000);
        }
    }

    #[test]
    fn counters_never_fall_and_keep_two_decimals() {
        let mut rng = fastrand::Rng::with_seed(7);
        for profile in [Profile::Node, Profile::NodeRealistic] {
            for mut s in host_series(3, profile, &mut rng) {
                if !matches!(s.shape, Shape::Counter) {
                    continue;
                }
                for _ in 0..200 {
                    let before = s.value;
                    advance(&mut s, &mut rng);
                    assert!(s.value >= before);
                    assert_eq!((s.value * 100.0).round() / 100.0, s.value);
                }
            }
        }
    }
}
