//! `hourglass bench ingest`: a remote-write load generator.
//!
//! It builds node-exporter-like traffic (per host: CPU seconds by core and
//! mode, memory gauges, load averages, filesystem and network counters;
//! `profile`), one sample per series per request as Prometheus sends it.
//! By default every request is encoded and compressed before the clock
//! starts; `--on-the-fly` builds each scrape while the previous one is
//! sent, `--write-stream` keeps the requests in a file (`stream`) and
//! `--replay` sends such a file, so that several systems get the same
//! stream in bounded memory. Each series belongs to one sender, so
//! per-series order is kept. It reports samples/s and the request latency
//! distribution, against any remote-write URL (Hourglass, or Prometheus
//! with `--web.enable-remote-write-receiver`).

pub mod profile;
mod send;
pub mod stream;

use anyhow::{Context, bail};
use profile::{Config, Generator, Profile, Scrape};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
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
    /// Every series moves every scrape: the constant ones (sizes, totals)
    /// too, the worst case for compression.
    #[arg(long)]
    all_moving: bool,
    /// How the series move (see `profile`'s values).
    #[arg(long, value_enum, default_value_t = Profile::Node)]
    profile: Profile,
    /// Build each scrape's requests while the previous scrape is sent
    /// (bounded memory; the generator's CPU then runs beside the target)
    /// instead of all of them before the clock starts.
    #[arg(long)]
    on_the_fly: bool,
    /// Write the generated stream to FILE (a header naming the dataset,
    /// then each scrape's compressed requests, checksummed) and send
    /// nothing. Needs `--start-ms` or takes now minus the run's span.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["replay", "on_the_fly"])]
    write_stream: Option<PathBuf>,
    /// Send the stream in FILE (written by `--write-stream`) instead of
    /// generating one; the generator's flags are then ignored, the senders
    /// are the stream's.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

/// Runs the benchmark and prints its figures.
pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.samples_per_request == 0 || args.scrapes == 0 {
        bail!("--concurrency, --samples-per-request and --scrapes must be positive");
    }
    let start_ms = args.start_ms.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        now - args.scrapes as i64 * 15_000
    });
    let cfg = Config {
        profile: args.profile,
        series: args.series,
        scrapes: args.scrapes,
        start_ms,
        jitter_ms: args.jitter_ms,
        all_moving: args.all_moving,
        senders: args.concurrency,
        samples_per_request: args.samples_per_request,
        protocol: args.protocol,
    };
    if let Some(path) = &args.write_stream {
        return write_stream(cfg, path);
    }
    let target = send::parse_url(&args.url)?;
    let mut plan = send::Plan {
        target: &target,
        protocol: args.protocol,
        senders: 0,
        lockstep: !args.free_running,
        rate: args.rate,
    };
    let outcome = if let Some(path) = &args.replay {
        let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
        let reader = stream::StreamReader::new(BufReader::with_capacity(1 << 20, file))
            .with_context(|| format!("read {}", path.display()))?;
        eprintln!(
            "replaying {}: {}",
            path.display(),
            reader.header().description
        );
        plan.senders = reader.header().senders;
        send::send(&plan, reader.map(|s| s.map_err(anyhow::Error::from)))?
    } else {
        let generator = Generator::new(cfg);
        plan.senders = generator.senders();
        if args.on_the_fly {
            send::send(&plan, generator.map(Ok))?
        } else {
            let scrapes = build(generator);
            send::send(&plan, scrapes.into_iter().map(Ok))?
        }
    };
    report(outcome);
    Ok(())
}

/// Every scrape's requests, built before the clock starts.
fn build(mut generator: Generator) -> Vec<Scrape> {
    let series = generator.series();
    eprintln!("building requests: {series} series ...");
    let t = Instant::now();
    let scrapes: Vec<Scrape> = generator.by_ref().collect();
    let requests: usize = scrapes.iter().flatten().map(Vec::len).sum();
    let wire: usize = scrapes
        .iter()
        .flatten()
        .flatten()
        .map(|r| r.body.len())
        .sum();
    eprintln!(
        "built {requests} requests, {} samples over {series} series in {:.1} s \
         ({:.1} MB protobuf, {:.1} MB on the wire)",
        series * scrapes.len(),
        t.elapsed().as_secs_f64(),
        generator.raw_bytes as f64 / 1e6,
        wire as f64 / 1e6
    );
    scrapes
}

fn write_stream(cfg: Config, path: &Path) -> anyhow::Result<()> {
    let t = Instant::now();
    let description = cfg.describe();
    let mut generator = Generator::new(cfg);
    let header = stream::Header {
        senders: generator.senders(),
        description,
    };
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut w = stream::StreamWriter::new(BufWriter::with_capacity(1 << 20, file), &header)?;
    let mut scrapes = 0usize;
    for scrape in generator.by_ref() {
        w.append(&scrape)?;
        scrapes += 1;
    }
    let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    let bytes = file.metadata()?.len();
    println!(
        "wrote {}: {scrapes} scrapes, {} samples, {:.1} MB protobuf, {:.1} MB in the file, {:.1} s",
        path.display(),
        generator.series() * scrapes,
        generator.raw_bytes as f64 / 1e6,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn report(outcome: send::Outcome) {
    let mut all = outcome.latencies;
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "samples={} series={} requests={} seconds={:.2} \
         samples_per_second={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} non_2xx={}",
        outcome.samples,
        outcome.series,
        all.len(),
        outcome.seconds,
        outcome.samples as f64 / outcome.seconds,
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(all.last()),
        outcome.failures
    );
}
