//! `hourglass bench ingest`: a remote-write load generator.
//!
//! It builds node-exporter-like traffic (per host: CPU seconds by core and
//! mode, memory gauges, load averages, filesystem and network counters),
//! one sample per series per request as Prometheus sends it, every request
//! encoded and compressed before the clock starts. Each series belongs to
//! one sender, so per-series order is kept. It reports samples/s and the
//! request latency distribution, against any remote-write URL (Hourglass,
//! or Prometheus with `--web.enable-remote-write-receiver`).

use crate::ingest::protobuf::Writer;
use crate::ingest::remote_write::{compress, v1, v2};
use anyhow::{Context, bail};
use hourglass_storage::Sample;
use hourglass_storage::synthetic_host::{Draw, HostSeries, Shape, host_series};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Flags of `hourglass bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Remote-write endpoint (plain http).
    #[arg(long, default_value = "http://127.0.0.1:9201/api/v1/write")]
    url: String,
    /// Active series (rounded to whole hosts of 100 series).
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Samples per series: scrapes 15 s apart.
    #[arg(long, default_value_t = 20)]
    scrapes: usize,
    /// Samples per request.
    #[arg(long, default_value_t = 2000)]
    samples_per_request: usize,
    /// Concurrent senders, each with its own connection and series.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Timestamp jitter in ms around the 15 s grid (0: scrape-aligned).
    #[arg(long, default_value_t = 0)]
    jitter_ms: i64,
    /// Cap on samples/s over all senders (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Remote-write protocol version: 1 or 2.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    protocol: u8,
    /// Let senders run ahead of each other instead of moving from scrape
    /// to scrape together (as a scraper's shards do). Prometheus refuses
    /// samples more than about an hour behind its newest.
    #[arg(long)]
    free_running: bool,
    /// First scrape time, Unix ms (default: now minus the run's span).
    #[arg(long)]
    start_ms: Option<i64>,
    /// Every series moves: the constant ones (info-like gauges) random-walk
    /// too, the worst case for compression.
    #[arg(long)]
    all_moving: bool,
}

/// The generator's random numbers from `fastrand`.
struct Fast<'a>(&'a mut fastrand::Rng);

impl Draw for Fast<'_> {
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }

    fn unit(&mut self) -> f64 {
        self.0.f64()
    }
}

/// A parsed `http://host:port/path`.
struct Target {
    host_port: String,
    path: String,
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok(Target {
        host_port: host_port.to_string(),
        path: path.to_string(),
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    content_type: &'static str,
}

impl Conn {
    fn open(t: &Target, protocol: u8) -> anyhow::Result<Conn> {
        let s =
            TcpStream::connect(&t.host_port).with_context(|| format!("connect {}", t.host_port))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            content_type: if protocol == 2 {
                "application/x-protobuf;proto=io.prometheus.write.v2.Request"
            } else {
                "application/x-protobuf"
            },
        })
    }

    /// POSTs a remote-write body; returns the status code.
    fn post(&mut self, t: &Target, body: &[u8]) -> anyhow::Result<u16> {
        write!(
            self.writer,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\n\
             Content-Encoding: snappy\r\nUser-Agent: hourglass-bench\r\n\
             Content-Length: {}\r\n\r\n",
            t.path,
            t.host_port,
            self.content_type,
            body.len()
        )?;
        self.writer.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut skip = vec![0u8; n + 2];
                self.reader.read_exact(&mut skip)?;
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut skip = vec![0u8; len];
            self.reader.read_exact(&mut skip)?;
        }
        Ok(status)
    }
}

/// Runs the benchmark and prints its figures.
pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.samples_per_request == 0 || args.scrapes == 0 {
        bail!("--concurrency, --samples-per-request and --scrapes must be positive");
    }
    let target = Arc::new(parse_url(&args.url)?);
    let hosts = args.series.div_ceil(100).max(1);
    let start = args.start_ms.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        now - args.scrapes as i64 * 15_000
    });

    eprintln!(
        "building requests: {hosts} hosts, {} scrapes ...",
        args.scrapes
    );
    let t_build = Instant::now();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let mut per_sender: Vec<Vec<HostSeries>> = (0..args.concurrency).map(|_| Vec::new()).collect();
    // Spread series evenly, as a scraper's shards do by series hash: an
    // uneven split leaves senders idle at every lockstep barrier and makes
    // the busiest sender set the pace.
    let mut next = 0usize;
    for h in 0..hosts {
        for mut s in host_series(h, &mut Fast(&mut rng)) {
            if args.all_moving && matches!(s.shape, Shape::Constant) {
                s.shape = Shape::Gauge;
            }
            per_sender[next % args.concurrency].push(s);
            next += 1;
        }
    }
    let series_total: usize = per_sender.iter().map(Vec::len).sum();
    per_sender.retain(|s| !s.is_empty());
    let mut plans: Vec<Vec<(Vec<u8>, usize, usize)>> = Vec::with_capacity(per_sender.len());
    let mut raw_bytes = 0usize;
    for series in &mut per_sender {
        let mut reqs = Vec::new();
        for k in 0..args.scrapes {
            for group in series.chunks_mut(args.samples_per_request) {
                let mut w = Writer::default();
                let mut e2 = v2::Encoder::new();
                for s in group.iter_mut() {
                    s.advance(&mut Fast(&mut rng));
                    let jitter = if args.jitter_ms > 0 {
                        rng.u64(..2 * args.jitter_ms as u64 + 1) as i64 - args.jitter_ms
                    } else {
                        0
                    };
                    let t = start + k as i64 * 15_000 + jitter;
                    let labels = s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                    if args.protocol == 2 {
                        e2.series(labels, &[(Sample::new(t, s.value), 0)], None);
                    } else {
                        v1::encode_series(&mut w, labels, &[Sample::new(t, s.value)]);
                    }
                }
                let raw = if args.protocol == 2 {
                    e2.finish()
                } else {
                    w.buf
                };
                raw_bytes += raw.len();
                reqs.push((compress(&raw), group.len(), k));
            }
        }
        plans.push(reqs);
    }
    let requests: usize = plans.iter().map(Vec::len).sum();
    let wire_bytes: usize = plans.iter().flatten().map(|(b, _, _)| b.len()).sum();
    let barrier = Arc::new(std::sync::Barrier::new(plans.len()));
    let lockstep = !args.free_running;
    let samples_total = series_total * args.scrapes;
    eprintln!(
        "built {requests} requests, {samples_total} samples over {series_total} series in {:.1} s \
         ({:.1} MB protobuf, {:.1} MB on the wire)",
        t_build.elapsed().as_secs_f64(),
        raw_bytes as f64 / 1e6,
        wire_bytes as f64 / 1e6
    );

    let failures = Arc::new(AtomicU64::new(0));
    // Each sender's share of the rate is its share of the samples.
    let sender_rates: Vec<Option<f64>> = plans
        .iter()
        .map(|reqs| {
            let mine: usize = reqs.iter().map(|(_, n, _)| n).sum();
            (args.rate > 0).then(|| args.rate as f64 * mine as f64 / samples_total.max(1) as f64)
        })
        .collect();
    let protocol = args.protocol;
    let t0 = Instant::now();
    let latencies: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .into_iter()
            .zip(sender_rates)
            .map(|(reqs, per_sender_rate)| {
                let target = Arc::clone(&target);
                let failures = Arc::clone(&failures);
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut conn = Conn::open(&target, protocol)?;
                    let mut lat = Vec::with_capacity(reqs.len());
                    let started = Instant::now();
                    let mut sent = 0usize;
                    let mut scrape = 0usize;
                    for (body, n, k) in reqs {
                        // Shards of a scraper move from scrape to scrape together.
                        if lockstep && k != scrape {
                            barrier.wait();
                            scrape = k;
                        }
                        if let Some(rate) = per_sender_rate {
                            let due = Duration::from_secs_f64(sent as f64 / rate);
                            if let Some(wait) = due.checked_sub(started.elapsed()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let t = Instant::now();
                        let status = match conn.post(&target, &body) {
                            Ok(s) => s,
                            Err(_) => {
                                conn = Conn::open(&target, protocol)?;
                                conn.post(&target, &body)?
                            }
                        };
                        lat.push(t.elapsed());
                        if !(200..300).contains(&status) {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        sent += n;
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("sender panicked")))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let elapsed = t0.elapsed().as_secs_f64();
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "samples={samples_total} series={series_total} requests={} seconds={elapsed:.2} \
         samples_per_second={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} non_2xx={}",
        all.len(),
        samples_total as f64 / elapsed,
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(all.last()),
        failures.load(Ordering::Relaxed)
    );
    Ok(())
}
