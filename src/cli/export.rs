//! `hourglass export`: series matching selectors, as JSON lines (float
//! samples and native histograms on lines of their own).

use super::selection::SelectionArgs;
use crate::data_dir::DataDir;
use crate::ingest::jsonl::series_line;
use crate::ingest::jsonl_histogram::histogram_line;
use anyhow::{Context, bail};
use hourglass_storage::{FloatHistogram, Labels, Querier, Sample, Storage};
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

/// A series' float samples and native histogram samples.
type SeriesData = (Vec<Sample>, Vec<(i64, FloatHistogram)>);

/// Runs `hourglass export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let sel = args.selection.parse(true)?;
    let (start, end) = (sel.start, sel.end);
    let data = DataDir::open(&args.data_dir)?;
    let storage = Storage::open(data.path(), hourglass_storage::Options::default())
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    let mut found: BTreeMap<Labels, SeriesData> = BTreeMap::new();
    {
        let q = storage.querier(start, end);
        for set in &sel.sets {
            for series in q.select(set, start, end)? {
                if found.contains_key(&series.labels) {
                    continue;
                }
                let hists: Vec<(i64, FloatHistogram)> = match series.histograms.into_vec() {
                    Ok(h) => h,
                    Err(e) => bail!("reading {}: {e}", series.labels),
                };
                let mut it = series.samples;
                let samples: Vec<Sample> = it.by_ref().collect();
                if let Some(e) = it.error() {
                    bail!("reading {}: {e}", series.labels);
                }
                if !samples.is_empty() || !hists.is_empty() {
                    found.insert(series.labels, (samples, hists));
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
    let (mut samples, mut histograms) = (0, 0);
    for (labels, (s, h)) in &found {
        if !s.is_empty() {
            writeln!(out, "{}", series_line(labels, s))?;
        }
        if !h.is_empty() {
            writeln!(out, "{}", histogram_line(labels, h))?;
        }
        samples += s.len();
        histograms += h.len();
    }
    out.flush()?;
    storage.close()?;
    eprintln!(
        "exported {} series, {samples} samples, {histograms} native histogram samples",
        found.len()
    );
    Ok(())
}
