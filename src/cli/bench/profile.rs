//! The generated load: node-exporter-like hosts of 100 series
//! (`hourglass_storage::synthetic_host`), one sample per series per 15 s
//! scrape, built scrape by scrape into remote-write requests (encoded and
//! compressed) for each sender. The state is the series' current values,
//! so any number of scrapes runs in bounded memory.

use crate::ingest::protobuf::Writer;
use crate::ingest::remote_write::{compress, v1, v2};
use hourglass_storage::Sample;
use hourglass_storage::synthetic_host::{self, Draw, HostSeries, host_series};

/// How the series of a host move from scrape to scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Every series but the sizes and totals moves every scrape, by wide
    /// amounts (CPU seconds +0.01…10, network counters +1…100k, page-sized
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

impl From<Profile> for synthetic_host::Profile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::Node => Self::Node,
            Profile::NodeRealistic => Self::NodeRealistic,
        }
    }
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
    senders: Vec<Vec<HostSeries>>,
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
        let profile = cfg.profile.into();
        let senders_n = cfg.senders.max(1);
        let mut senders: Vec<Vec<HostSeries>> = (0..senders_n).map(|_| Vec::new()).collect();
        // Spread series evenly, as a scraper's shards do by series hash: an
        // uneven split leaves senders idle at every lockstep barrier and
        // makes the busiest sender set the pace.
        let mut next = 0usize;
        for h in 0..cfg.series.div_ceil(100).max(1) {
            for mut s in host_series(h, profile, &mut rng) {
                if cfg.all_moving {
                    s.move_always(profile);
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
                    s.advance(rng);
                    let jitter = if cfg.jitter_ms > 0 {
                        rng.below(2 * cfg.jitter_ms as u64 + 1) as i64 - cfg.jitter_ms
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
                s.advance(&mut g.rng);
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
}
