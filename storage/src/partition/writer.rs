//! Writing a partition: temp dir, fsync, rename.

use super::meta::Meta;
use super::{PartitionError, hour_name};
use crate::chunk::Chunk;
use crate::encoding::{put_uvarint, put_zvarint};
use crate::index::MemPostings;
use crate::model::labels::{Labels, METRIC_NAME};
use crate::model::refs::{PostingId, SeriesOrd};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One series' chunks for the partition, sorted and disjoint.
#[derive(Debug, Clone)]
pub(crate) struct PartSeries {
    pub(crate) labels: Labels,
    /// `(min_t, max_t, chunk)`.
    pub(crate) chunks: Vec<(i64, i64, Arc<Chunk>)>,
}

pub(crate) const CHUNKS_MAGIC: &[u8; 4] = b"HGCK";
pub(crate) const INDEX_MAGIC: &[u8; 4] = b"HGIX";
pub(crate) const VERSION: u8 = 1;

fn put_section(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> PartitionError + '_ {
    move |source| PartitionError::Io {
        dir: dir.display().to_string(),
        source,
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The first free directory name for `hour_start_ms` under `parts`.
fn free_name(parts: &Path, hour_start_ms: i64) -> String {
    let base = hour_name(hour_start_ms);
    let taken = |n: &str| parts.join(n).exists() || parts.join(format!("{n}.corrupt")).exists();
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

/// Writes `series` (any order) as a partition for the hour starting at
/// `hour_start_ms` and returns its directory. Nothing is visible under
/// its final name until every byte is durable.
pub(crate) fn write_partition(
    parts: &Path,
    hour_start_ms: i64,
    mut series: Vec<PartSeries>,
    source_label: &str,
) -> Result<PathBuf, PartitionError> {
    fs::create_dir_all(parts).map_err(io(parts))?;
    series.retain(|s| !s.chunks.is_empty());
    // Grouped by (metric, source) so one metric of one source is one range.
    series.sort_by(|a, b| {
        let key = |s: &PartSeries| {
            (
                s.labels.get(METRIC_NAME).map(str::to_owned),
                s.labels.get(source_label).map(str::to_owned),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.labels.cmp(&b.labels))
    });

    // Symbols.
    let mut syms: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &series {
        for l in s.labels.iter() {
            syms.insert(&l.name, 0);
            syms.insert(&l.value, 0);
        }
    }
    let mut sym_sec = Vec::new();
    put_uvarint(&mut sym_sec, syms.len() as u64);
    for (i, (s, id)) in syms.iter_mut().enumerate() {
        *id = i as u64;
        put_uvarint(&mut sym_sec, s.len() as u64);
        sym_sec.extend_from_slice(s.as_bytes());
    }

    // Chunks and the series table.
    let mut chunks = Vec::with_capacity(64 + series.len() * 160);
    chunks.extend_from_slice(CHUNKS_MAGIC);
    chunks.extend_from_slice(&[VERSION, 0, 0, 0]);
    let mut ser_sec = Vec::new();
    put_uvarint(&mut ser_sec, series.len() as u64);
    let mut postings = MemPostings::<SeriesOrd>::new();
    let (mut min_t, mut max_t, mut samples, mut nchunks) = (i64::MAX, i64::MIN, 0u64, 0u64);
    for (ord, s) in series.iter().enumerate() {
        postings.add(SeriesOrd::from_raw(ord as u32), &s.labels);
        put_uvarint(&mut ser_sec, s.labels.len() as u64);
        for l in s.labels.iter() {
            put_uvarint(&mut ser_sec, syms.get(&*l.name).copied().unwrap_or(0));
            put_uvarint(&mut ser_sec, syms.get(&*l.value).copied().unwrap_or(0));
        }
        put_uvarint(&mut ser_sec, s.chunks.len() as u64);
        for (lo, hi, c) in &s.chunks {
            // Times relative to the hour; offsets implicit (chunks are laid
            // out in index order, back to back).
            let rel = lo.wrapping_sub(hour_start_ms);
            put_zvarint(&mut ser_sec, rel);
            put_uvarint(&mut ser_sec, hi.wrapping_sub(*lo) as u64);
            put_uvarint(&mut ser_sec, c.as_bytes().len() as u64);
            chunks.extend_from_slice(c.as_bytes());
            min_t = min_t.min(*lo);
            max_t = max_t.max(*hi);
            samples += c.num_samples() as u64;
            nchunks += 1;
        }
    }
    let crc = crc32fast::hash(&chunks);
    chunks.extend_from_slice(&crc.to_le_bytes());

    let mut post_sec = Vec::new();
    let pairs = postings.pairs();
    put_uvarint(&mut post_sec, pairs.len() as u64);
    for (n, v, bm) in pairs {
        put_uvarint(&mut post_sec, syms.get(n).copied().unwrap_or(0));
        put_uvarint(&mut post_sec, syms.get(v).copied().unwrap_or(0));
        put_uvarint(&mut post_sec, bm.serialized_size() as u64);
        bm.serialize_into(&mut post_sec).map_err(io(parts))?;
    }

    let mut index = Vec::with_capacity(sym_sec.len() + ser_sec.len() + post_sec.len() + 32);
    index.extend_from_slice(INDEX_MAGIC);
    index.extend_from_slice(&[VERSION, 0, 0, 0]);
    put_section(&mut index, &sym_sec);
    put_section(&mut index, &ser_sec);
    put_section(&mut index, &post_sec);

    let meta = Meta {
        version: u32::from(VERSION),
        hour_start_ms,
        min_t: if nchunks == 0 { hour_start_ms } else { min_t },
        max_t: if nchunks == 0 { hour_start_ms } else { max_t },
        series: series.len() as u64,
        samples,
        chunks: nchunks,
        level: 0,
        source_label: source_label.to_string(),
    };
    let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| PartitionError::Io {
        dir: parts.display().to_string(),
        source: std::io::Error::other(e),
    })?;

    let name = free_name(parts, hour_start_ms);
    let tmp = parts.join(format!(".tmp-{name}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    fs::create_dir(&tmp).map_err(io(&tmp))?;
    write_synced(&tmp.join("chunks"), &chunks).map_err(io(&tmp))?;
    write_synced(&tmp.join("index"), &index).map_err(io(&tmp))?;
    write_synced(&tmp.join("meta.json"), &meta_json).map_err(io(&tmp))?;
    File::open(&tmp)
        .and_then(|d| d.sync_all())
        .map_err(io(&tmp))?;
    let dst = parts.join(&name);
    fs::rename(&tmp, &dst).map_err(io(&dst))?;
    File::open(parts)
        .and_then(|d| d.sync_all())
        .map_err(io(parts))?;
    Ok(dst)
}
