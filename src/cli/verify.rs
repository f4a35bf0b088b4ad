//! `hourglass verify`: checks every file storage would read (WAL segments,
//! the WAL checkpoint, partitions) without changing any, names each damaged
//! one, and exits non-zero if any is. Safe beside a running server.
//!
//! A torn WAL tail (the last record cut short by a crash) is a normal end
//! of the log: reported, exit status 0.

use hourglass_storage::partition::Partition;
use hourglass_wal::{FindingKind, WalCheck};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Flags of `hourglass verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The report, one line per file or finding.
    pub text: String,
    /// Damaged files found (a torn WAL tail does not count).
    pub damaged: usize,
}

fn wal_report(out: &mut String, check: &WalCheck) -> usize {
    let _ = writeln!(
        out,
        "WAL: {} segments, {} records",
        check.segments, check.records
    );
    if let Some((dir, records)) = &check.checkpoint {
        let _ = writeln!(out, "WAL checkpoint {}: {records} records", dir.display());
    }
    for f in &check.findings {
        let what = match f.kind {
            FindingKind::TornTail => "TORN TAIL (normal end after a crash)",
            FindingKind::Damage => "DAMAGED",
            FindingKind::Corruption => "CORRUPT (the log ends here)",
        };
        let records = f.records.map_or_else(
            || "records lost unknown".to_string(),
            |n| format!("{n} records lost"),
        );
        let _ = writeln!(
            out,
            "{what}: {} at byte {}: {} ({} bytes, {records})",
            f.file.display(),
            f.offset,
            f.reason,
            f.bytes
        );
    }
    for p in &check.kept_aside {
        let _ = writeln!(out, "kept aside earlier: {}", p.display());
    }
    check
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::TornTail)
        .map(|f| &f.file)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn parts_report(out: &mut String, parts: &Path) -> std::io::Result<usize> {
    let dirs = crate::data_dir::partition_dirs(parts)?;
    let mut damaged = 0;
    let mut ok = 0;
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".corrupt") {
            let _ = writeln!(out, "kept aside earlier: {}", dir.display());
            continue;
        }
        if name.starts_with(".tmp-") {
            continue;
        }
        match Partition::open(&dir) {
            Ok(_) => ok += 1,
            Err(e) => {
                damaged += 1;
                let _ = writeln!(out, "DAMAGED: partition {}: {e}", dir.display());
            }
        }
    }
    let _ = writeln!(out, "partitions: {ok} intact, {damaged} damaged");
    Ok(damaged)
}

/// Checks `data_dir`; `Err` only when it cannot be read at all.
pub fn check(data_dir: &Path) -> anyhow::Result<Verdict> {
    let mut v = Verdict::default();
    let wal_dir = data_dir.join("wal");
    if wal_dir.is_dir() {
        let wal = hourglass_wal::verify(&wal_dir)?;
        v.damaged += wal_report(&mut v.text, &wal);
    } else {
        let _ = writeln!(v.text, "WAL: none");
    }
    v.damaged += parts_report(&mut v.text, &data_dir.join("parts"))?;
    Ok(v)
}

/// Runs `hourglass verify`: exit status 1 when anything is damaged.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    if !args.data_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.data_dir.display());
    }
    let v = check(&args.data_dir)?;
    print!("{}", v.text);
    if v.damaged > 0 {
        anyhow::bail!("{} damaged files in {}", v.damaged, args.data_dir.display());
    }
    println!("no damage found");
    Ok(())
}
