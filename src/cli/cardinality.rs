//! `hourglass cardinality`: which metrics, labels and sources hold the
//! series of a time range on a stopped data directory, counted from the
//! partitions' indexes and the head (the WAL replayed), with the series
//! each hour brought (churn). The same counts as `GET /api/v1/status/tsdb`.

use super::progress::Progress;
use super::selection::SelectionArgs;
use crate::data_dir::DataDir;
use anyhow::{Context, bail};
use hourglass_storage::calendar::format_rfc3339_ms;
use hourglass_storage::{CardinalityQuery, HistoryCardinality, Storage};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Flags of `hourglass cardinality`.
#[derive(Debug, clap::Args)]
pub struct CardinalityArgs {
    /// The data directory (locked meanwhile: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// The range to count, and with `--match` only the series it picks.
    #[command(flatten)]
    selection: SelectionArgs,
    /// Also count series per value of this label.
    #[arg(long)]
    focus_label: Option<String>,
    /// Entries per list.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    limit: u64,
    /// The label series are grouped by after the metric (as `serve`).
    #[arg(long, default_value = "job")]
    source_label: String,
}

fn list(out: &mut String, title: &str, items: &[(String, u64)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    for (name, n) in items {
        let _ = writeln!(out, "  {n:>10}  {name}");
    }
}

/// The report as text.
pub fn report(c: &HistoryCardinality, focus: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "series: {}  label pairs: {} ({} distinct)  partitions read: {}",
        c.total_series, c.total_label_value_pairs, c.distinct_label_value_pairs, c.partitions_read
    );
    list(&mut out, "series by metric", &c.by_metric);
    list(&mut out, "series by label name", &c.by_label_name);
    list(
        &mut out,
        "values by label name",
        &c.value_count_by_label_name,
    );
    list(&mut out, "series by label pair", &c.by_label_value_pair);
    list(&mut out, "series by source", &c.by_source);
    if let Some(f) = focus {
        list(
            &mut out,
            &format!("series by value of {f}"),
            &c.by_focus_label_value,
        );
    }
    if !c.new_series_by_hour.is_empty() {
        let _ = writeln!(out, "\nnew series by hour:");
        for (hour, n) in &c.new_series_by_hour {
            let _ = writeln!(out, "  {n:>10}  {}", format_rfc3339_ms(*hour));
        }
    }
    out
}

/// Runs `hourglass cardinality`.
pub fn run(args: CardinalityArgs) -> anyhow::Result<()> {
    let sel = args.selection.parse(false)?;
    let (mint, maxt, match_sets) = (sel.start, sel.end, sel.sets);
    if !args.data_dir.is_dir() {
        bail!("{} is not a directory", args.data_dir.display());
    }
    let data = DataDir::open(&args.data_dir)?;
    let started = std::time::Instant::now();
    let opts = hourglass_storage::Options {
        source_label: Some(args.source_label.clone()),
        ..Default::default()
    };
    let storage = Storage::open(data.path(), opts)
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    let opened = started.elapsed().as_secs_f64();
    let query = CardinalityQuery {
        match_sets,
        mint,
        maxt,
        focus_label: args.focus_label.clone(),
        top: usize::try_from(args.limit).unwrap_or(10),
    };
    let mut progress = Progress::new("partitions", 0);
    let c = storage.cardinality_over(&query, &mut |done, total| progress.set(done, total));
    progress.finish();
    print!("{}", report(&c, args.focus_label.as_deref()));
    println!(
        "summary: {} partitions, {} series in {:.2}s (storage opened in {opened:.2}s)",
        c.partitions_read,
        c.total_series,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
