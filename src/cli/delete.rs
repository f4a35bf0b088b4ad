//! `hourglass delete`: deletes the samples of the series the selectors
//! pick in `[--start, --end]` from a stopped data directory, then compacts
//! so their bytes and label values leave the disk.

use super::compact::{compact_with_progress, open_offline};
use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS, parse_time};
use anyhow::bail;
use hourglass_storage::compact::CompactOptions;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `hourglass delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The data directory (locked while deleting: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Series selector, e.g. `{job="debug"}`; repeat for several.
    #[arg(long = "match", required = true, value_name = "SELECTOR")]
    matches: Vec<String>,
    /// Start: Unix seconds or RFC 3339 (default: the beginning).
    #[arg(long)]
    start: Option<String>,
    /// End: Unix seconds or RFC 3339 (default: the end).
    #[arg(long)]
    end: Option<String>,
    /// Merge the hours of UTC days that ended this long before the newest
    /// sample into day partitions while compacting; `0` keeps hours.
    #[arg(long, default_value = "2d", value_parser = parse_duration)]
    compact_days_after: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    hourglass_query::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn time_arg(name: &str, v: Option<&str>, default: i64) -> anyhow::Result<i64> {
    v.map_or(Ok(default), |s| {
        parse_time(s).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    })
}

/// Runs `hourglass delete`.
pub fn run(args: DeleteArgs) -> anyhow::Result<()> {
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
    let (data, storage) = open_offline(&args.data_dir, None, Duration::ZERO)?;
    let n = storage.delete_series(&sets, start, end)?;
    println!("series selected: {n}");
    let opts = CompactOptions {
        day_after_ms: (!args.compact_days_after.is_zero())
            .then(|| i64::try_from(args.compact_days_after.as_millis()).unwrap_or(i64::MAX)),
    };
    let text = compact_with_progress(&storage, &opts)?;
    let left = storage.tombstones().len();
    storage.close()?;
    drop(data);
    print!("{text}");
    if left > 0 {
        println!(
            "tombstones left: {left} (samples still in the WAL's hours; applied once persisted)"
        );
    }
    Ok(())
}
