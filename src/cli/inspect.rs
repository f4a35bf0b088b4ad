//! `hourglass inspect`: what is on disk, read without taking the lock or
//! replaying anything, so it is safe beside a running server.

use crate::data_dir::dir_bytes;
use hourglass_storage::partition::Partition;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Flags of `hourglass inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The data directory.
    #[arg(long, env = "HOURGLASS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Also where the partitions' bytes go: chunk headers, time fields,
    /// value fields and XOR streams by encoding, indexes, other files.
    #[arg(long)]
    bytes: bool,
}

fn hour_text(ms: i64) -> String {
    hourglass_storage::calendar::format_rfc3339_ms(ms)
}

/// Builds the report, with the partitions' byte anatomy when `bytes_too`;
/// `Err` only when the directory cannot be read.
pub fn report(data_dir: &Path, bytes_too: bool) -> std::io::Result<String> {
    let mut out = String::new();
    let parts_dir = data_dir.join("parts");
    let dirs = crate::data_dir::partition_dirs(&parts_dir)?;
    let _ = writeln!(
        out,
        "{:<28} {:<24} {:>10} {:>12} {:>12} {:>8}",
        "PARTITION", "HOUR", "SERIES", "SAMPLES", "BYTES", "B/SAMPLE"
    );
    let (mut series, mut samples, mut bytes) = (0u64, 0u64, 0u64);
    let mut anatomy = bytes_too.then(Anatomy::default);
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let b = dir_bytes(dir);
        match Partition::open(dir) {
            Ok(p) => {
                let m = p.meta();
                let per = if m.samples > 0 {
                    b as f64 / m.samples as f64
                } else {
                    0.0
                };
                let _ = writeln!(
                    out,
                    "{name:<28} {:<24} {:>10} {:>12} {:>12} {per:>8.3}",
                    hour_text(m.hour_start_ms),
                    m.series,
                    m.samples,
                    b
                );
                series += m.series;
                samples += m.samples;
                bytes += b;
                if let Some(a) = &mut anatomy {
                    a.add(&p, dir);
                }
            }
            Err(e) => {
                let _ = writeln!(out, "{name:<28} UNREADABLE: {e}");
            }
        }
    }
    let per = if samples > 0 {
        bytes as f64 / samples as f64
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "{:<28} {:<24} {series:>10} {samples:>12} {bytes:>12} {per:>8.3}",
        format!("total ({} partitions)", dirs.len()),
        ""
    );
    if let Some(a) = &anatomy {
        a.write(&mut out, samples);
    }
    let wal_dir = data_dir.join("wal");
    let mut segments = 0;
    let mut wal_bytes = 0;
    let mut checkpoints = Vec::new();
    let mut kept_aside = 0;
    if let Ok(rd) = std::fs::read_dir(&wal_dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".corrupt") {
                kept_aside += 1;
            } else if name.starts_with("checkpoint.") {
                checkpoints.push(name);
            } else if let Ok(m) = e.metadata()
                && m.is_file()
            {
                segments += 1;
                wal_bytes += m.len();
            }
        }
    }
    checkpoints.sort();
    let _ = writeln!(
        out,
        "WAL: {segments} files, {wal_bytes} bytes; checkpoint: {}",
        checkpoints.last().map_or("none", String::as_str)
    );
    if kept_aside > 0 {
        let _ = writeln!(
            out,
            "WAL: {kept_aside} damaged files kept aside (*.corrupt); `hourglass verify` checks every file"
        );
    }
    Ok(out)
}

/// Runs `hourglass inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    if !args.data_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.data_dir.display());
    }
    print!("{}", report(&args.data_dir, args.bytes)?);
    Ok(())
}

/// Where the partitions' bytes go, summed.
#[derive(Default)]
struct Anatomy {
    chunks: hourglass_storage::chunk::anatomy::Anatomy,
    histogram_bytes: u64,
    index_bytes: u64,
    /// meta.json, downsampled series, the chunks file's own header and CRC.
    other_bytes: u64,
    /// Partitions whose chunks did not check (counted as other).
    unreadable: usize,
}

impl Anatomy {
    fn add(&mut self, p: &Partition, dir: &Path) {
        let index = std::fs::metadata(dir.join("index")).map_or(0, |m| m.len());
        let before = self.chunks.bytes() + self.histogram_bytes;
        match p.anatomy() {
            Ok((a, h)) => {
                self.chunks.add(&a);
                self.histogram_bytes += h;
            }
            Err(_) => self.unreadable += 1,
        }
        let counted = self.chunks.bytes() + self.histogram_bytes - before;
        self.index_bytes += index;
        self.other_bytes += dir_bytes(dir).saturating_sub(index + counted);
    }

    fn write(&self, out: &mut String, samples: u64) {
        let per = |b: u64| b as f64 / samples.max(1) as f64;
        let c = &self.chunks;
        let _ = writeln!(
            out,
            "partition bytes: {} chunks (XOR {}, packed {}, grid {}), {} samples",
            c.chunks.iter().sum::<u64>(),
            c.chunks[0],
            c.chunks[1],
            c.chunks[2],
            c.samples
        );
        for (what, b) in [
            (
                "chunk headers (framing, CRC, first sample, widths)",
                c.header_bytes,
            ),
            ("time fields (grid)", c.time_bytes),
            ("value fields (packed, grid)", c.value_bytes),
            ("XOR streams (time and value)", c.xor_bytes),
            ("histogram chunks", self.histogram_bytes),
            ("indexes", self.index_bytes),
            (
                "other (meta.json, downsampled, file headers)",
                self.other_bytes,
            ),
        ] {
            let _ = writeln!(out, "  {what:<48} {b:>12} {:>8.3} B/sample", per(b));
        }
        if self.unreadable > 0 {
            let _ = writeln!(
                out,
                "  {} partitions with damaged chunks (counted as other)",
                self.unreadable
            );
        }
    }
}
