//! `hourglass export`: series matching selectors, as JSON lines.

use super::selection::SelectionArgs;
use crate::data_dir::DataDir;
use crate::ingest::jsonl::series_line;
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
    /// The series and range to export (`--match` is required).
    #[command(flatten)]
    selection: SelectionArgs,
    /// Output file (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Runs `hourglass export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let sel = args.selection.parse(true)?;
    let (start, end) = (sel.start, sel.end);
    let data = DataDir::open(&args.data_dir)?;
    let storage = Storage::open(data.path(), hourglass_storage::Options::default())
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    let mut found: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    let mut histograms = 0usize;
    {
        let q = storage.querier(start, end);
        for set in &sel.sets {
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
