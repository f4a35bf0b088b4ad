//! `hourglass snapshot`: the admin API's snapshot of a stopped data
//! directory, written to `<data-dir>/snapshots/<name>/` (or `--output`),
//! which opens as a `--data-dir` as it is.

use std::path::PathBuf;

/// Flags of `hourglass snapshot`.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// The data directory (no server may hold it).
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Where to write the snapshot (must not exist); default
    /// `<data-dir>/snapshots/<time>-<random>`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Partitions only: leave out what is still in the WAL.
    #[arg(long)]
    skip_head: bool,
}

/// Runs `hourglass snapshot`; prints the snapshot's directory.
pub fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    if !args.data_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.data_dir.display());
    }
    let _lock = crate::data_dir::DataDir::open(&args.data_dir)?;
    let dst = match args.output {
        Some(p) => p,
        None => {
            let dir = args.data_dir.join("snapshots");
            std::fs::create_dir_all(&dir)?;
            dir.join(hourglass_storage::snapshot_name())
        }
    };
    let started = std::time::Instant::now();
    let s = hourglass_storage::snapshot_offline(&args.data_dir, &dst, args.skip_head)?;
    println!(
        "snapshot {}: {} partitions ({} files linked), {} WAL files ({} bytes copied) in {:.2}s",
        s.dir.display(),
        s.partitions,
        s.linked_files,
        s.wal_files,
        s.copied_bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
