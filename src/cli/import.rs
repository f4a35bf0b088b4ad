//! `hourglass import`: JSON lines (as `hourglass export` and
//! VictoriaMetrics write them), text exposition format 0.0.4 or OpenMetrics
//! 1.0 with timestamps into storage, old hours straight into sealed
//! partitions.

use crate::data_dir::DataDir;
use crate::ingest::jsonl_histogram::{Line, parse_any_line};
use crate::ingest::text::{self, Entry};
use anyhow::{Context, bail};
use hourglass_storage::HeadOptions;
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

/// Bad lines and refused series printed; the rest are counted.
const MAX_REPORTED: u64 = 20;

/// What went wrong, reported by line number: the first [`MAX_REPORTED`]
/// of each kind printed, all counted.
#[derive(Debug, Default)]
struct Report {
    bad_lines: u64,
    refused_series: u64,
    refused_batches: u64,
}

impl Report {
    fn bad_line(&mut self, msg: impl std::fmt::Display) {
        self.bad_lines += 1;
        if self.bad_lines <= MAX_REPORTED {
            eprintln!("{msg}");
        }
    }

    fn refused_series(&mut self, msg: impl std::fmt::Display) {
        self.refused_series += 1;
        if self.refused_series <= MAX_REPORTED {
            eprintln!("refused series: {msg}");
        }
    }

    fn refused_samples(&mut self, why: &hourglass_storage::Rejected) {
        self.refused_batches += 1;
        if self.refused_batches <= MAX_REPORTED {
            eprintln!("refused samples by reason: {why}");
        }
    }

    /// Says how many were not printed.
    fn finish(&self) {
        if self.bad_lines > MAX_REPORTED {
            eprintln!(
                "... and {} more unreadable lines",
                self.bad_lines - MAX_REPORTED
            );
        }
        if self.refused_series > MAX_REPORTED {
            eprintln!(
                "... and {} more refused series",
                self.refused_series - MAX_REPORTED
            );
        }
    }
}

/// Parses one block of text-format lines with `parser` (which carries the
/// line numbers and family context over from the previous block); samples
/// go into `batch`, grouped by series; every bad line is reported and
/// skipped.
fn text_block(parser: &mut text::Parser<'_>, batch: &mut WriteBatch, report: &mut Report) {
    let mut by_series: HashMap<Vec<(String, String)>, Vec<Sample>> = HashMap::new();
    while let Some(entry) = parser.next() {
        match entry {
            Ok(Entry::Sample(s)) => {
                let Some(t) = s.timestamp_ms else {
                    report.bad_line(format_args!(
                        "line {}: sample has no timestamp; import needs one",
                        parser.line()
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
                report.bad_line(&e);
                parser.recover();
            }
        }
    }
    for (key, mut samples) in by_series {
        samples.sort_by_key(|s| s.t);
        batch.push(Labels::from_pairs(key), samples);
    }
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
    let started = std::time::Instant::now();
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
    let mut input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.input)
                .with_context(|| format!("cannot open {}", args.input))?,
        ))
    };
    let (mut lines, mut stored, mut refused) = (0u64, 0u64, 0u64);
    let mut report = Report::default();
    let mut format = args.format;
    let mut text_buf = String::new();
    let mut text_count = 0usize;
    // Carries line numbers and the family context from block to block.
    let mut text_ctx: Option<text::Parser<'static>> = None;
    let mut since_persist = 0usize;
    let mut batch = WriteBatch::new();
    let flush = |batch: &mut WriteBatch,
                 stored: &mut u64,
                 refused: &mut u64,
                 report: &mut Report|
     -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let stats = storage.append(batch)?;
        *stored += stats.appended + stats.duplicates;
        *refused += stats.rejected.total();
        if stats.rejected.total() > 0 {
            report.refused_samples(&stats.rejected);
        }
        for e in &stats.invalid_series {
            report.refused_series(e);
        }
        *batch = WriteBatch::new();
        Ok(())
    };
    let mut raw = Vec::new();
    let mut n = 0usize;
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw).context("reading input")? == 0 {
            break;
        }
        n += 1;
        let line = match std::str::from_utf8(&raw) {
            Ok(l) => l.trim_end_matches(['\n', '\r']),
            Err(e) => {
                lines += 1;
                report.bad_line(format_args!(
                    "line {n}: invalid UTF-8 after byte {}",
                    e.valid_up_to()
                ));
                // Keeps the text parser's line numbers in step.
                if matches!(format, Format::Text | Format::Openmetrics | Format::AnyText) {
                    text_buf.push('\n');
                    text_count += 1;
                }
                continue;
            }
        };
        if format == Format::Auto && !line.trim().is_empty() {
            format = if line.trim_start().starts_with('{') {
                Format::Jsonl
            } else {
                Format::AnyText
            };
            if format == Format::AnyText {
                // Lines before this one were blank.
                text_buf.extend(std::iter::repeat_n('\n', n - 1));
                text_count = n - 1;
            }
        }
        if matches!(format, Format::Text | Format::Openmetrics | Format::AnyText) {
            text_buf.push_str(line);
            text_buf.push('\n');
            text_count += 1;
            lines += 1;
            if text_count >= TEXT_BLOCK_LINES {
                let mut parser = text_parser(&mut format, text_ctx.as_ref(), &text_buf);
                text_block(&mut parser, &mut batch, &mut report);
                text_ctx = Some(parser.resume(""));
                text_buf.clear();
                text_count = 0;
                since_persist += batch.num_samples();
                flush(&mut batch, &mut stored, &mut refused, &mut report)?;
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
        match parse_any_line(line) {
            Ok(Line::Floats(labels, mut samples)) => {
                samples.sort_by_key(|s| s.t);
                since_persist += samples.len();
                batch.push(labels, samples);
            }
            Ok(Line::Histograms(labels, mut samples)) => {
                samples.sort_by_key(|s| s.0);
                since_persist += samples.len();
                batch.push_histograms(labels, samples);
            }
            Err(e) => report.bad_line(format_args!("line {n}: {e}")),
        }
        if batch.num_samples() >= BATCH_SAMPLES {
            flush(&mut batch, &mut stored, &mut refused, &mut report)?;
        }
        if since_persist >= PERSIST_EVERY_SAMPLES {
            flush(&mut batch, &mut stored, &mut refused, &mut report)?;
            storage.persist()?;
            since_persist = 0;
        }
    }
    if text_count > 0 {
        let mut parser = text_parser(&mut format, text_ctx.as_ref(), &text_buf);
        text_block(&mut parser, &mut batch, &mut report);
    }
    flush(&mut batch, &mut stored, &mut refused, &mut report)?;
    let persisted = storage.persist()?;
    storage.close()?;
    report.finish();
    let bad_lines = report.bad_lines;
    let source = match args.input.as_str() {
        "-" => "stdin".to_string(),
        path => std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned()),
    };
    let healthy = bad_lines == 0 && refused == 0;
    let event = crate::events::emit::append_offline(
        data.path(),
        &crate::events::emit::Batch {
            source: &source,
            method: crate::events::Method::BatchUpload,
            samples: stored,
            duration: started.elapsed(),
            health: crate::events::model::Health::from_ok(healthy),
            summary: crate::events::Summary::default(),
            errors: bad_lines + refused,
        },
    );
    if let Err(e) = event {
        eprintln!("warning: the import's event was not recorded: {e}");
    }
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

/// The parser for the next block: the first one decides the dialect.
fn text_parser<'b>(
    format: &mut Format,
    ctx: Option<&text::Parser<'static>>,
    block: &'b str,
) -> text::Parser<'b> {
    match ctx {
        Some(ctx) => ctx.resume(block),
        None if openmetrics(format, block) => text::parse_openmetrics(block),
        None => text::parse(block),
    }
}
