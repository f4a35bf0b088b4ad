//! `hourglass import`: JSON lines (as `hourglass export` and
//! VictoriaMetrics write them) into storage, old hours straight into
//! sealed partitions.

use crate::data_dir::DataDir;
use crate::ingest::jsonl::parse_line;
use anyhow::{Context, bail};
use hourglass_storage::head::HeadOptions;
use hourglass_storage::{Options, Storage, WriteBatch};
use std::io::BufRead;
use std::path::PathBuf;

/// Flags of `hourglass import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The data directory (locked while importing: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Input file of JSON lines, or `-` for standard input.
    input: String,
}

/// Samples per storage append.
const BATCH_SAMPLES: usize = 20_000;
/// Seal finished hours this often, so a long backfill does not pile up in
/// memory.
const PERSIST_EVERY_SAMPLES: usize = 2_000_000;

/// Runs `hourglass import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let data = DataDir::open(&args.data_dir)?;
    // Backfills are old by nature: keep everything they bring.
    let opts = Options {
        head: HeadOptions {
            retention_ms: None,
            ..HeadOptions::default()
        },
        ..Options::default()
    };
    let storage = Storage::open(data.path(), opts)
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    let input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.input)
                .with_context(|| format!("cannot open {}", args.input))?,
        ))
    };
    let (mut lines, mut bad_lines, mut stored, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let mut since_persist = 0usize;
    let mut batch = WriteBatch::new();
    let flush =
        |batch: &mut WriteBatch, stored: &mut u64, refused: &mut u64| -> anyhow::Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let stats = storage.append(batch)?;
            *stored += stats.appended + stats.duplicates;
            *refused += stats.rejected.total();
            for e in stats.invalid_series.iter().take(3) {
                eprintln!("refused series: {e}");
            }
            *batch = WriteBatch::new();
            Ok(())
        };
    for (n, line) in input.lines().enumerate() {
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        match parse_line(&line) {
            Ok((labels, mut samples)) => {
                samples.sort_by_key(|s| s.t);
                since_persist += samples.len();
                batch.push(labels, samples);
            }
            Err(e) => {
                bad_lines += 1;
                if bad_lines <= 10 {
                    eprintln!("line {}: {e}", n + 1);
                }
            }
        }
        if batch.num_samples() >= BATCH_SAMPLES {
            flush(&mut batch, &mut stored, &mut refused)?;
        }
        if since_persist >= PERSIST_EVERY_SAMPLES {
            flush(&mut batch, &mut stored, &mut refused)?;
            storage.persist()?;
            since_persist = 0;
        }
    }
    flush(&mut batch, &mut stored, &mut refused)?;
    let persisted = storage.persist()?;
    storage.close()?;
    eprintln!(
        "imported {lines} lines: {stored} samples stored, {refused} refused, {bad_lines} unreadable lines; \
         {} partitions written",
        persisted.partitions.len()
    );
    if bad_lines > 0 || refused > 0 {
        bail!("{bad_lines} lines could not be read and {refused} samples were refused");
    }
    Ok(())
}
