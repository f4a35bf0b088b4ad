//! `hourglass delete`: deletes the samples of the series the selectors
//! pick in `[--start, --end]` from a stopped data directory, then compacts
//! so their bytes and label values leave the disk.

use super::compact::{compact_with_progress, open_offline};
use super::selection::SelectionArgs;
use hourglass_storage::compact::CompactOptions;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `hourglass delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The data directory (locked while deleting: stop the server first).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// The series and range to delete (`--match` is required).
    #[command(flatten)]
    selection: SelectionArgs,
    /// Merge the hours of UTC days that ended this long before the newest
    /// sample into day partitions while compacting; `0` keeps hours.
    #[arg(long, default_value = "2d", value_parser = parse_duration)]
    compact_days_after: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    hourglass_query::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// Runs `hourglass delete`.
pub fn run(args: DeleteArgs) -> anyhow::Result<()> {
    let sel = args.selection.parse(true)?;
    let (data, storage) = open_offline(&args.data_dir, None, Duration::ZERO)?;
    let n = storage.delete_series(&sel.sets, sel.start, sel.end)?;
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
