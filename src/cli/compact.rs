//! `hourglass compact`: compaction of a stopped data directory (it takes
//! the directory's lock): each hour's partitions merged, old days merged
//! into day partitions, deletions, `[[retention]]` rules and
//! `[[downsample]]` tiers applied, with progress and a summary.

use super::progress::{Figures, Progress, summary};
use crate::config::Config;
use crate::data_dir::DataDir;
use anyhow::{Context, bail};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{Options, Storage};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flags of `hourglass compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The data directory (locked while compacting: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Merge the hours of UTC days that ended this long before the newest
    /// sample stored (capped at the wall clock) into day partitions; `0`
    /// keeps hours as hours.
    #[arg(long, default_value = "2d", value_parser = parse_duration)]
    compact_days_after: Duration,
    /// Configuration file whose `[[retention]]` rules and `[[downsample]]`
    /// tiers are applied.
    #[arg(long, env = "HOURGLASS_CONFIG")]
    config: Option<PathBuf>,
    /// Fallback retention for series no rule selects; `0` keeps them.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    retention: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    hourglass_query::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn millis(d: Duration) -> Option<i64> {
    (!d.is_zero()).then(|| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Opens a stopped data directory for an offline rewrite.
pub(crate) fn open_offline(
    dir: &Path,
    config: Option<&Path>,
    retention: Duration,
) -> anyhow::Result<(DataDir, Storage)> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let (rules, tiers) = match config {
        Some(p) => {
            let c = Config::load(p)?;
            (c.retention_rules()?, c.downsample_rules()?)
        }
        None => (Vec::new(), Vec::new()),
    };
    let data = DataDir::open(dir)?;
    let mut opts = Options {
        retention_rules: rules,
        ..Options::default()
    };
    opts.head.retention_ms = millis(retention);
    let storage = Storage::open(data.path(), opts)
        .with_context(|| format!("cannot open storage in {}", data.path().display()))?;
    storage.set_downsample_rules(tiers);
    Ok((data, storage))
}

/// Compacts with progress on standard error; returns the summary.
pub(crate) fn compact_with_progress(
    storage: &Storage,
    opts: &CompactOptions,
) -> anyhow::Result<String> {
    let t0 = Instant::now();
    // Finished hours still in the WAL become partitions first, so they
    // are compacted (and deletions applied to them) too.
    storage.persist()?;
    let before = Figures::of(storage);
    let mut bar = Progress::new("groups compacted", 0);
    let stats = storage.compact(opts, &mut |p| {
        bar.set_with(
            p.done as u64,
            p.total as u64,
            &format!(
                "({} samples, {} -> {} bytes)",
                p.so_far.counts.samples_in, p.so_far.bytes_in, p.so_far.bytes_out
            ),
        );
    })?;
    bar.finish();
    Ok(summary(
        &before,
        &Figures::of(storage),
        &stats,
        t0.elapsed(),
    ))
}

/// Runs `hourglass compact`.
pub fn run(args: CompactArgs) -> anyhow::Result<()> {
    let (data, storage) = open_offline(&args.data_dir, args.config.as_deref(), args.retention)?;
    let opts = CompactOptions {
        day_after_ms: millis(args.compact_days_after),
    };
    let text = compact_with_progress(&storage, &opts)?;
    storage.close()?;
    drop(data);
    print!("{text}");
    Ok(())
}
