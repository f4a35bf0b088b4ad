//! `hourglass import`: JSON lines (as `hourglass export` and
//! VictoriaMetrics write them), text exposition format 0.0.4 or OpenMetrics
//! 1.0 with timestamps into storage, old hours straight into sealed
//! partitions.

use crate::data_dir::DataDir;
use crate::ingest::jsonl::parse_line;
use crate::ingest::text::{self, Entry};
use anyhow::{Context, bail};
use hourglass_storage::head::HeadOptions;
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;

/// Flags of `hourglass import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The data directory (locked while importing: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Input format; `auto` takes a first line starting with `{` for JSON
    /// lines, else OpenMetrics when a `# EOF` line is among the first
    /// 100,000 lines, else text exposition.
    #[arg(long, value_enum, default_value = "auto")]
    format: Format,
    /// Input file, or `-` for standard input.
    input: String,
}

/// What the input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Decide from the first line.
    Auto,
    /// `{"metric":{…},"values":[…],"timestamps":[…]}` per line.
    Jsonl,
    /// Text exposition 0.0.4, every sample with a timestamp (ms).
    Text,
    /// OpenMetrics 1.0 text, every sample with a timestamp (seconds).
    Openmetrics,
    /// Text of either kind: settled on the first block.
    #[value(skip)]
    AnyText,
}

/// Lines of text exposition parsed at a time, so big files stream.
const TEXT_BLOCK_LINES: usize = 100_000;

/// Parses one block of text-format lines starting at line `first_line`;
/// samples go into `batch`, grouped by series; errors are returned with
/// their absolute line numbers.
fn text_block(
    block: &str,
    first_line: usize,
    openmetrics: bool,
    batch: &mut WriteBatch,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut by_series: HashMap<Vec<(String, String)>, Vec<Sample>> = HashMap::new();
    let mut parser = if openmetrics {
        text::parse_openmetrics(block)
    } else {
        text::parse(block)
    };
    while let Some(entry) = parser.next() {
        let line = first_line + parser.line().saturating_sub(1);
        match entry {
            Ok(Entry::Sample(s)) => {
                let Some(t) = s.timestamp_ms else {
                    errors.push(format!(
                        "line {line}: sample has no timestamp; import needs one"
                    ));
                    continue;
                };
                let mut key: Vec<(String, String)> = vec![("__name__".into(), s.name.into_owned())];
                key.extend(
                    s.labels
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
                by_series
                    .entry(key)
                    .or_default()
                    .push(Sample::new(t, s.value));
            }
            Ok(_) => {}
            Err(e) => {
                errors.push(format!(
                    "line {}, column {}: {}",
                    first_line + e.line - 1,
                    e.column,
                    e.kind
                ));
                break;
            }
        }
    }
    for (key, mut samples) in by_series {
        samples.sort_by_key(|s| s.t);
        batch.push(Labels::from_pairs(key), samples);
    }
    errors
}

/// Whether text is OpenMetrics; `auto` settles it on the first block.
fn openmetrics(format: &mut Format, first_block: &str) -> bool {
    if *format == Format::AnyText {
        let om = first_block.lines().any(|l| l.trim() == "# EOF");
        *format = if om {
            Format::Openmetrics
        } else {
            Format::Text
        };
    }
    *format == Format::Openmetrics
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
    let mut format = args.format;
    let mut text_buf = String::new();
    let (mut text_first, mut text_count) = (1usize, 0usize);
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
            if stats.rejected.total() > 0 {
                eprintln!("refused samples by reason: {}", stats.rejected);
            }
            for e in stats.invalid_series.iter().take(3) {
                eprintln!("refused series: {e}");
            }
            *batch = WriteBatch::new();
            Ok(())
        };
    for (n, line) in input.lines().enumerate() {
        let line = line.context("reading input")?;
        if format == Format::Auto && !line.trim().is_empty() {
            format = if line.trim_start().starts_with('{') {
                Format::Jsonl
            } else {
                Format::AnyText
            };
        }
        if matches!(format, Format::Text | Format::Openmetrics | Format::AnyText) {
            if text_count == 0 {
                text_first = n + 1;
            }
            text_buf.push_str(&line);
            text_buf.push('\n');
            text_count += 1;
            lines += 1;
            if text_count >= TEXT_BLOCK_LINES {
                let om = openmetrics(&mut format, &text_buf);
                for e in text_block(&text_buf, text_first, om, &mut batch) {
                    bad_lines += 1;
                    if bad_lines <= 10 {
                        eprintln!("{e}");
                    }
                }
                text_buf.clear();
                text_count = 0;
                since_persist += batch.num_samples();
                flush(&mut batch, &mut stored, &mut refused)?;
                if since_persist >= PERSIST_EVERY_SAMPLES {
                    storage.persist()?;
                    since_persist = 0;
                }
            }
            continue;
        }
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
    if text_count > 0 {
        let om = openmetrics(&mut format, &text_buf);
        for e in text_block(&text_buf, text_first, om, &mut batch) {
            bad_lines += 1;
            if bad_lines <= 10 {
                eprintln!("{e}");
            }
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
