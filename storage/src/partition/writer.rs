//! Writing a partition: encode, temp dir, fsync, rename — every file
//! operation through the `Fs` seam.

use super::meta::Meta;
use super::{PartitionError, hour_name};
use crate::chunk::Chunk;
use crate::encoding::{put_uvarint, put_zvarint};
use crate::index::MemPostings;
use crate::model::histogram::FloatHistogram;
use crate::model::labels::{Labels, METRIC_NAME};
use crate::model::refs::{PostingId, SeriesOrd};
use hourglass_wal::fs::Fs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One series' chunks for the partition, sorted and disjoint.
#[derive(Debug, Clone)]
pub(crate) struct PartSeries {
    pub(crate) labels: Labels,
    /// `(min_t, max_t, chunk)`.
    pub(crate) chunks: Vec<(i64, i64, Arc<Chunk>)>,
    /// Native histogram samples, sorted by time (written as histogram
    /// chunks, partition version 3).
    pub(crate) histograms: Vec<(i64, FloatHistogram)>,
}

/// Most samples in one histogram chunk of a partition.
const MAX_HISTOGRAM_CHUNK: usize = 1024;

pub(crate) const CHUNKS_MAGIC: &[u8; 4] = b"HGCK";
pub(crate) const INDEX_MAGIC: &[u8; 4] = b"HGIX";
/// The chunks file's layout version (unchanged by partition version 2).
pub(crate) const CHUNKS_VERSION: u8 = 1;
/// Version 1: the index is three sections after the header.
pub(crate) const VERSION_1: u8 = 1;
/// Version 2: the sections may be zstd-compressed; meta has `span_ms`.
pub(crate) const VERSION: u8 = 2;
/// Version 3: version 2 plus histogram chunks per series; written only for
/// partitions holding native histograms.
pub(crate) const VERSION_3: u8 = 3;
/// Version 4: version 3's layout, and float chunks may use the grid
/// encoding (`0x03`); written for compacted partitions that use it, so a
/// binary that cannot decode it quarantines the partition at open instead
/// of failing its queries.
pub(crate) const VERSION_4: u8 = 4;
/// Version 5: version 4, and float chunks may use the sparse grid encoding
/// (`0x04`) or its gap-list form (`0x05`), for the same reason.
pub(crate) const VERSION_5: u8 = 5;
/// Version 6: version 5, and float chunks may use the grid encodings with
/// mixed-radix columns (`0x06`–`0x08`), for the same reason.
pub(crate) const VERSION_6: u8 = 6;
/// Index version 2 codec bytes.
pub(crate) const CODEC_NONE: u8 = 0;
pub(crate) const CODEC_ZSTD: u8 = 1;

/// A partition's three files, encoded, with what `meta.json` says.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) chunks: Vec<u8>,
    pub(crate) index: Vec<u8>,
    pub(crate) meta: Meta,
    /// The `downsampled` file, when the partition holds downsampled series.
    pub(crate) downsampled: Option<Vec<u8>>,
}

impl Encoded {
    /// Adds the `downsampled` file (`crate::downsample::DsWriter`);
    /// `meta.json`'s time range grows to cover its series.
    pub(crate) fn with_downsampled(mut self, ds: Option<crate::downsample::DsEncoded>) -> Encoded {
        let Some(ds) = ds else {
            return self;
        };
        let raw = self.meta.chunks > 0;
        self.meta.min_t = if raw {
            self.meta.min_t.min(ds.min_t)
        } else {
            ds.min_t
        };
        self.meta.max_t = if raw {
            self.meta.max_t.max(ds.max_t)
        } else {
            ds.max_t
        };
        self.downsampled = Some(ds.bytes);
        self
    }
}

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

fn write_synced(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let f = fs.create(path)?;
    f.write_all(bytes)?;
    f.sync()
}

/// The first free directory name starting with `base` under `parts`.
pub(crate) fn free_name(fs: &dyn Fs, parts: &Path, base: &str) -> String {
    let taken = |n: &str| {
        fs.exists(&parts.join(n))
            || fs.exists(&parts.join(format!("{n}.corrupt")))
            || fs.exists(&parts.join(format!(".tmp-{n}")))
    };
    if !taken(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_string())
}

/// The index's three sections as partition version 2 wants them:
/// zstd-compressed when that is smaller.
fn index_v2(sections: &[u8], version: u8) -> Vec<u8> {
    let packed = zstd::bulk::compress(sections, 3)
        .ok()
        .filter(|z| z.len() < sections.len());
    let (codec, body) = match &packed {
        Some(z) => (CODEC_ZSTD, z.as_slice()),
        None => (CODEC_NONE, sections),
    };
    let mut index = Vec::with_capacity(body.len() + 16);
    index.extend_from_slice(INDEX_MAGIC);
    index.extend_from_slice(&[version, codec, 0, 0]);
    index.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    index.extend_from_slice(body);
    let crc = crc32fast::hash(&index);
    index.extend_from_slice(&crc.to_le_bytes());
    index
}

/// Encodes `series` (any order; series without chunks are left out) as a
/// partition covering `[start_ms, start_ms + span_ms)` at compaction
/// `level`.
pub(crate) fn encode(
    start_ms: i64,
    span_ms: i64,
    level: u32,
    mut series: Vec<PartSeries>,
    source_label: &str,
) -> Result<Encoded, PartitionError> {
    series.retain(|s| !s.chunks.is_empty() || !s.histograms.is_empty());
    let uses = |encoding: u8| {
        series
            .iter()
            .flat_map(|s| &s.chunks)
            .any(|c| c.2.as_bytes().first() == Some(&encoding))
    };
    let version = if [
        crate::chunk::ENCODING_GRID_RADIX,
        crate::chunk::ENCODING_SPARSE_GRID_RADIX,
        crate::chunk::ENCODING_SPARSE_GAPS_RADIX,
    ]
    .into_iter()
    .any(uses)
    {
        VERSION_6
    } else if uses(crate::chunk::ENCODING_SPARSE_GRID) || uses(crate::chunk::ENCODING_SPARSE_GAPS) {
        VERSION_5
    } else if uses(crate::chunk::ENCODING_GRID) {
        VERSION_4
    } else if series.iter().any(|s| !s.histograms.is_empty()) {
        VERSION_3
    } else {
        VERSION
    };
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

    let body_len: usize = series
        .iter()
        .flat_map(|s| s.chunks.iter())
        .map(|c| c.2.as_bytes().len())
        .sum();
    let mut chunks = Vec::with_capacity(12 + body_len);
    chunks.extend_from_slice(CHUNKS_MAGIC);
    chunks.extend_from_slice(&[CHUNKS_VERSION, 0, 0, 0]);
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
            // Times relative to the span's start; offsets implicit (chunks
            // are laid out in index order, back to back).
            put_zvarint(&mut ser_sec, lo.wrapping_sub(start_ms));
            put_uvarint(&mut ser_sec, hi.wrapping_sub(*lo) as u64);
            put_uvarint(&mut ser_sec, c.as_bytes().len() as u64);
            chunks.extend_from_slice(c.as_bytes());
            min_t = min_t.min(*lo);
            max_t = max_t.max(*hi);
            samples += c.num_samples() as u64;
            nchunks += 1;
        }
        if version >= VERSION_3 {
            put_uvarint(
                &mut ser_sec,
                s.histograms.len().div_ceil(MAX_HISTOGRAM_CHUNK) as u64,
            );
            for run in s.histograms.chunks(MAX_HISTOGRAM_CHUNK) {
                let (Some(lo), Some(hi)) = (run.first(), run.last()) else {
                    continue;
                };
                let bytes =
                    crate::chunk::histogram::encode(run).map_err(|e| PartitionError::Io {
                        dir: hour_name(start_ms),
                        source: std::io::Error::other(e),
                    })?;
                put_zvarint(&mut ser_sec, lo.0.wrapping_sub(start_ms));
                put_uvarint(&mut ser_sec, hi.0.wrapping_sub(lo.0) as u64);
                put_uvarint(&mut ser_sec, bytes.len() as u64);
                chunks.extend_from_slice(&bytes);
                min_t = min_t.min(lo.0);
                max_t = max_t.max(hi.0);
                samples += run.len() as u64;
                nchunks += 1;
            }
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
        bm.serialize_into(&mut post_sec)
            .map_err(|source| PartitionError::Io {
                dir: hour_name(start_ms),
                source,
            })?;
    }

    let mut sections = Vec::with_capacity(sym_sec.len() + ser_sec.len() + post_sec.len() + 24);
    put_section(&mut sections, &sym_sec);
    put_section(&mut sections, &ser_sec);
    put_section(&mut sections, &post_sec);

    let meta = Meta {
        version: u32::from(version),
        hour_start_ms: start_ms,
        span_ms,
        min_t: if nchunks == 0 { start_ms } else { min_t },
        max_t: if nchunks == 0 { start_ms } else { max_t },
        series: series.len() as u64,
        samples,
        chunks: nchunks,
        level,
        source_label: source_label.to_string(),
    };
    Ok(Encoded {
        chunks,
        index: index_v2(&sections, version),
        meta,
        downsampled: None,
    })
}

/// Writes `enc` into `parts/.tmp-<name>/`, every file and the directory
/// fsynced; nothing is visible under `name` yet.
pub(crate) fn write_tmp(
    fs: &dyn Fs,
    parts: &Path,
    name: &str,
    enc: &Encoded,
) -> Result<PathBuf, PartitionError> {
    fs.create_dir_all(parts).map_err(io(parts))?;
    let meta_json = serde_json::to_vec_pretty(&enc.meta).map_err(|e| PartitionError::Io {
        dir: parts.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    let tmp = parts.join(format!(".tmp-{name}"));
    if fs.exists(&tmp) {
        fs.remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    let written = (|| {
        fs.create_dir_all(&tmp)?;
        write_synced(fs, &tmp.join("chunks"), &enc.chunks)?;
        write_synced(fs, &tmp.join("index"), &enc.index)?;
        if let Some(d) = &enc.downsampled {
            write_synced(fs, &tmp.join(crate::downsample::FILE), d)?;
        }
        write_synced(fs, &tmp.join("meta.json"), &meta_json)?;
        fs.sync_dir(&tmp)
    })();
    if let Err(e) = written {
        // A full disk must not keep the half-written copy either.
        let _ = fs.remove_dir_all(&tmp);
        return Err(io(&tmp)(e));
    }
    Ok(tmp)
}

/// Makes a written temp directory visible as `parts/<name>` (rename, then
/// `parts/` fsynced).
pub(crate) fn publish(
    fs: &dyn Fs,
    parts: &Path,
    tmp: &Path,
    name: &str,
) -> Result<PathBuf, PartitionError> {
    let dst = parts.join(name);
    fs.rename(tmp, &dst).map_err(io(&dst))?;
    fs.sync_dir(parts).map_err(io(parts))?;
    Ok(dst)
}

/// Writes `series` (any order) as a partition for the hour starting at
/// `hour_start_ms` and returns its directory. Nothing is visible under
/// its final name until every byte is durable.
pub(crate) fn write_partition(
    fs: &dyn Fs,
    parts: &Path,
    hour_start_ms: i64,
    series: Vec<PartSeries>,
    source_label: &str,
) -> Result<PathBuf, PartitionError> {
    let enc = encode(hour_start_ms, super::HOUR_MS, 0, series, source_label)?;
    let name = free_name(fs, parts, &hour_name(hour_start_ms));
    let tmp = write_tmp(fs, parts, &name, &enc)?;
    publish(fs, parts, &tmp, &name)
}
