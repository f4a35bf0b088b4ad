//! `hourglass verify [--repair]`: checks every checksum of every file the
//! server reads (WAL segments and checkpoint, partitions: the chunks
//! file, each chunk, the index sections, the downsampled series; the
//! tombstones file; the compaction journal; the Pushgateway groups file;
//! the targets registry; and the same in each `snapshots/<name>`), names
//! each problem with its file and byte offset,
//! and exits non-zero if anything is damaged. Read only and safe beside a
//! running server.
//!
//! `--repair` takes the data directory's lock (refusing while a server
//! holds it) and moves damaged pieces aside under the names the server
//! itself uses, never deleting a byte: a partition to `<name>.corrupt`,
//! the groups file to `pushgateway.corrupt`, the registry to
//! `targets.registry.corrupt`, the tombstones file to `tombstones.corrupt`; the WAL goes through its own recovery,
//! which cuts a torn tail and keeps a copy of each damaged file aside.
//! The server then starts with everything else.
//!
//! A torn WAL tail (the last record cut short by a crash) is a normal end
//! of the log: reported, exit status 0.

use super::progress::Progress;
use hourglass_storage::partition::{self, PartitionCheck};
use hourglass_wal::{FindingKind, WalCheck};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Flags of `hourglass verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Move damaged pieces aside (never deleting them) so the server
    /// starts with the rest; refused while a server holds the directory.
    #[arg(long)]
    repair: bool,
}

/// A damaged piece and how it is set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damaged {
    /// A WAL directory: its own recovery sets damage aside.
    Wal(PathBuf),
    /// A partition directory.
    Partition(PathBuf),
    /// A single file, renamed to the path given.
    File {
        /// The damaged file.
        path: PathBuf,
        /// Where it goes.
        aside: PathBuf,
    },
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// The report, one line per file or finding.
    pub text: String,
    /// Damaged files found (a torn WAL tail does not count).
    pub damaged: usize,
    /// The damaged pieces, for `--repair`.
    pub pieces: Vec<Damaged>,
    /// Bytes read.
    pub bytes: u64,
    /// Partitions checked.
    pub partitions: u64,
    /// Chunks checked.
    pub chunks: u64,
    /// Samples decoded.
    pub samples: u64,
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

fn partition_report(v: &mut Verdict, dir: &Path, c: &PartitionCheck) {
    v.bytes += c.bytes;
    v.partitions += 1;
    v.chunks += c.chunks;
    v.samples += c.samples;
    if !c.is_damaged() {
        return;
    }
    v.damaged += 1;
    v.pieces.push(Damaged::Partition(dir.to_path_buf()));
    for p in &c.problems {
        let _ = writeln!(
            v.text,
            "DAMAGED: partition {} at byte {}: {}",
            dir.join(p.file).display(),
            p.offset,
            p.reason
        );
    }
    if c.more_problems > 0 {
        let _ = writeln!(
            v.text,
            "DAMAGED: partition {}: {} more problems",
            dir.display(),
            c.more_problems
        );
    }
}

fn parts_report(v: &mut Verdict, parts: &Path) -> std::io::Result<()> {
    let dirs = crate::data_dir::partition_dirs(parts)?;
    let mut live = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".corrupt") {
            let _ = writeln!(v.text, "kept aside earlier: {}", dir.display());
        } else if !name.starts_with('.') {
            live.push(dir);
        }
    }
    let mut progress = Progress::new("partitions", live.len() as u64);
    let before = v.damaged;
    for dir in &live {
        let c = partition::check(dir);
        partition_report(v, dir, &c);
        progress.step();
    }
    progress.finish();
    let damaged = v.damaged - before;
    let _ = writeln!(
        v.text,
        "partitions: {} intact, {damaged} damaged",
        live.len() - damaged
    );
    Ok(())
}

/// A file checker: the items a file holds, or the byte offset and reason
/// of its first problem.
type FileCheck = fn(&[u8]) -> Result<usize, (u64, String)>;

/// Checks one single-file store (`name` for the report) with `check`,
/// which returns the items it holds or the offset and reason of a problem.
fn file_report(
    v: &mut Verdict,
    name: &str,
    path: &Path,
    aside: PathBuf,
    check: FileCheck,
) -> std::io::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if aside.exists() {
                let _ = writeln!(v.text, "kept aside earlier: {}", aside.display());
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    v.bytes += bytes.len() as u64;
    match check(&bytes) {
        Ok(n) => {
            let _ = writeln!(v.text, "{name}: {n} entries, intact");
        }
        Err((offset, reason)) => {
            let _ = writeln!(
                v.text,
                "DAMAGED: {name} {} at byte {offset}: {reason}",
                path.display()
            );
            v.damaged += 1;
            v.pieces.push(Damaged::File {
                path: path.to_path_buf(),
                aside,
            });
        }
    }
    Ok(())
}

fn tombstones_check(bytes: &[u8]) -> Result<usize, (u64, String)> {
    hourglass_storage::tombstones::decode(bytes)
        .map(|t| t.len())
        .map_err(|e| (e.offset as u64, e.reason))
}

/// The compaction journal exists only while a swap is under way: a valid
/// one is finished (or undone) at the next open, a torn one was never
/// committed and is dropped. Neither is damage.
fn journal_report(v: &mut Verdict, parts: &Path) -> std::io::Result<()> {
    let path = parts.join(hourglass_storage::compact::JOURNAL);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    v.bytes += bytes.len() as u64;
    let _ = match hourglass_storage::compact::check_journal(&bytes) {
        Ok((inputs, output)) => writeln!(
            v.text,
            "compaction journal {}: an interrupted swap of {} partitions into {}, finished at the next open",
            path.display(),
            inputs.len(),
            output.as_deref().unwrap_or("nothing")
        ),
        Err((offset, reason)) => writeln!(
            v.text,
            "TORN: compaction journal {} at byte {offset}: {reason} (never committed; dropped at the next open)",
            path.display()
        ),
    };
    Ok(())
}

/// Each `snapshots/<name>` is a data directory of its own: checked the
/// same way, its lines prefixed with its name.
fn snapshots_report(v: &mut Verdict, data_dir: &Path) -> anyhow::Result<()> {
    let dir = data_dir.join("snapshots");
    let Ok(snaps) = crate::data_dir::subdirs(&dir) else {
        return Ok(());
    };
    for s in snaps {
        let sub = check_one(&s)?;
        let name = s.file_name().map(|n| n.to_string_lossy().into_owned());
        for line in sub.text.lines() {
            let _ = writeln!(v.text, "snapshot {}: {line}", name.as_deref().unwrap_or(""));
        }
        v.damaged += sub.damaged;
        v.pieces.extend(sub.pieces);
        v.bytes += sub.bytes;
        v.partitions += sub.partitions;
        v.chunks += sub.chunks;
        v.samples += sub.samples;
    }
    Ok(())
}

fn registry_check(bytes: &[u8]) -> Result<usize, (u64, String)> {
    use crate::scrape::registry::file::{RegistryFileError as E, decode};
    decode(bytes).map(|t| t.len()).map_err(|e| {
        let offset = match &e {
            E::NotRegistry | E::Io { .. } => 0,
            E::Version(_) => 4,
            E::Length { .. } => 5,
            E::Checksum { .. } => 9,
            E::Payload(_) => 13,
        };
        (offset, e.to_string())
    })
}

/// Checks `data_dir` and its snapshots; `Err` only when it cannot be
/// read at all.
pub fn check(data_dir: &Path) -> anyhow::Result<Verdict> {
    let mut v = check_one(data_dir)?;
    snapshots_report(&mut v, data_dir)?;
    Ok(v)
}

/// Checks one data directory (not its snapshots).
fn check_one(data_dir: &Path) -> anyhow::Result<Verdict> {
    let mut v = Verdict::default();
    let wal_dir = data_dir.join("wal");
    if wal_dir.is_dir() {
        let wal = hourglass_wal::verify(&wal_dir)?;
        let damaged = wal_report(&mut v.text, &wal);
        v.bytes += crate::data_dir::dir_bytes(&wal_dir);
        if damaged > 0 {
            v.damaged += damaged;
            v.pieces.push(Damaged::Wal(wal_dir.clone()));
        }
    } else {
        let _ = writeln!(v.text, "WAL: none");
    }
    parts_report(&mut v, &data_dir.join("parts"))?;
    journal_report(&mut v, &data_dir.join("parts"))?;
    let tombstones = data_dir.join("tombstones");
    let tombstones_aside = tombstones.with_extension("corrupt");
    file_report(
        &mut v,
        "tombstones",
        &tombstones,
        tombstones_aside,
        tombstones_check,
    )?;
    let groups = crate::push::groups_file(data_dir);
    let groups_aside = groups.with_extension("corrupt");
    file_report(
        &mut v,
        "pushgateway groups",
        &groups,
        groups_aside,
        crate::push::check_groups_file,
    )?;
    let registry = data_dir.join(crate::scrape::registry::FILE_NAME);
    let registry_aside = registry.with_extension("registry.corrupt");
    file_report(
        &mut v,
        "targets registry",
        &registry,
        registry_aside,
        registry_check,
    )?;
    Ok(v)
}

/// A free name for `path` set aside: `base`, else `base.1`, `base.2`, …
fn free_name(base: PathBuf) -> PathBuf {
    if !base.exists() {
        return base;
    }
    (1u32..)
        .map(|i| PathBuf::from(format!("{}.{i}", base.display())))
        .find(|p| !p.exists())
        .unwrap_or(base)
}

/// Sets every damaged piece aside; the report of what was done.
pub fn repair(data_dir: &Path, pieces: &[Damaged]) -> anyhow::Result<String> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Damaged::Wal(dir) => {
                let wal = hourglass_wal::Wal::open(dir, Default::default())?;
                let report = wal.recovery_report().clone();
                wal.close()?;
                for d in &report.damage {
                    let kept = d
                        .kept_aside
                        .as_ref()
                        .map_or_else(|| "no copy".to_string(), |p| p.display().to_string());
                    let _ = writeln!(
                        out,
                        "repaired: WAL {} at byte {}: replay skips {} bytes (copy kept as {kept})",
                        d.file.display(),
                        d.offset,
                        d.bytes
                    );
                }
                if let Some(c) = &report.corruption {
                    let _ = writeln!(
                        out,
                        "repaired: WAL segment {} cut at byte {}, the rest kept aside: {:?}",
                        c.segment, c.offset, c.kept_aside
                    );
                }
            }
            Damaged::Partition(dir) => {
                let aside = free_name(PathBuf::from(format!("{}.corrupt", dir.display())));
                std::fs::rename(dir, &aside)?;
                let _ = writeln!(out, "moved aside: {} -> {}", dir.display(), aside.display());
            }
            Damaged::File { path, aside } => {
                let aside = free_name(aside.clone());
                std::fs::rename(path, &aside)?;
                let _ = writeln!(
                    out,
                    "moved aside: {} -> {}",
                    path.display(),
                    aside.display()
                );
            }
        }
    }
    if let Ok(d) = std::fs::File::open(data_dir.join("parts")) {
        d.sync_all()?;
    }
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(out)
}

/// Runs `hourglass verify`: exit status 1 when anything is damaged (and,
/// with `--repair`, when anything could not be set aside).
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    if !args.data_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.data_dir.display());
    }
    // Held until the end: no server starts on a directory being repaired.
    let _lock = if args.repair {
        Some(crate::data_dir::DataDir::open(&args.data_dir)?)
    } else {
        None
    };
    let started = Instant::now();
    let v = check(&args.data_dir)?;
    print!("{}", v.text);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "summary: {} partitions, {} chunks, {} samples, {} bytes read in {secs:.2}s ({:.1} MB/s); {} damaged",
        v.partitions,
        v.chunks,
        v.samples,
        v.bytes,
        v.bytes as f64 / 1e6 / secs.max(1e-9),
        v.damaged
    );
    if v.damaged == 0 {
        println!("no damage found");
        return Ok(());
    }
    if !args.repair {
        anyhow::bail!("{} damaged files in {}", v.damaged, args.data_dir.display());
    }
    print!("{}", repair(&args.data_dir, &v.pieces)?);
    println!(
        "repair done: {} damaged pieces set aside; the server starts with the rest",
        v.pieces.len()
    );
    Ok(())
}
