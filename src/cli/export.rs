//! `hourglass export`: series matching selectors, as JSON lines.

use crate::data_dir::DataDir;
use crate::ingest::jsonl::series_line;
use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS, parse_time};
use anyhow::{Context, bail};
use hourglass_storage::{Labels, Querier, Sample, Storage};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// Flags of `hourglass export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The data directory (locked while exporting: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Series selector, e.g. `up{job="node"}`; repeat for several.
    #[arg(long = "match", required = true, value_name = "SELECTOR")]
    matches: Vec<String>,
    /// Start: Unix seconds or RFC 3339 (default: the beginning).
    #[arg(long)]
    start: Option<String>,
    /// End: Unix seconds or RFC 3339 (default: the end).
    #[arg(long)]
    end: Option<String>,
    /// Output file (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn time_arg(name: &str, v: Option<&str>, default: i64) -> anyhow::Result<i64> {
    v.map_or(Ok(default), |s| {
        parse_time(s).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    })
}

/// Runs `hourglass export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let start = time_arg("start", args.start.as_deref(), MIN_TIME_MS)?;
    let end = time_arg("end", args.end.as_deref(), MAX_TIME_MS)?;
    if end < start {
        bail!("--end is before --start");
    }
    let sets = args
        .matches
        .iter()
        .map(|m| {
            crate::api::params::parse_selector(m).map_err(|e| anyhow::anyhow!("--match {m:?}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let data = DataDir::open(&args.data_dir)?;
    let storage = Storage::open(data.path(), hourglass_storage::Options::default())
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    let mut found: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut histograms = 0usize;
    {
        let q = storage.querier(start, end);
        for set in &sets {
            for series in q.select(set, start, end)? {
                if found.contains_key(&series.labels) {
                    continue;
                }
                // The JSON-lines format carries float samples only.
                histograms += series.histograms.len();
                let mut it = series.samples;
                let samples: Vec<Sample> = it.by_ref().collect();
                if let Some(e) = it.error() {
                    bail!("reading {}: {e}", series.labels);
                }
                if !samples.is_empty() {
                    found.insert(series.labels, samples);
                }
            }
        }
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut samples = 0;
    for (labels, s) in &found {
        writeln!(out, "{}", series_line(labels, s))?;
        samples += s.len();
    }
    out.flush()?;
    storage.close()?;
    eprintln!("exported {} series, {samples} samples", found.len());
    if histograms > 0 {
        eprintln!(
            "left out {histograms} native histogram samples: the JSON-lines format carries floats only"
        );
    }
    Ok(())
}
