//! Opening a partition: every byte is checked before it is served.

use super::PartitionError;
use super::cursor::Cursor;
use super::meta::Meta;
use super::series_table::{ChunkRange, Ranges, SeriesTable};
use super::writer::{
    CHUNKS_MAGIC, CHUNKS_VERSION, CODEC_NONE, CODEC_ZSTD, INDEX_MAGIC, VERSION, VERSION_1,
    VERSION_3, VERSION_4, VERSION_5, VERSION_6,
};
use crate::chunk::ChunkError;
use crate::chunk_handle::{ChunkData, ChunkMeta};
use crate::downsample::DsFile;
use crate::encoding::unzigzag;
use crate::histogram_iter::HistPiece;
use crate::index::MemPostings;
use crate::model::histogram::FloatHistogram;
use crate::model::labels::{Label, Labels};
use crate::model::matcher::Matcher;
use crate::model::refs::{PostingId, SeriesOrd};
use crate::part_bytes::PartBytes;
use hourglass_wal::fs::{Fs, StdFs};
use memmap2::Mmap;
use roaring::RoaringBitmap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A series' labels with its histogram samples (partly still in chunks).
pub(crate) type SeriesHistograms = (Labels, Vec<HistPiece>);

/// An open, verified partition. Chunks stay in the mmapped file.
#[derive(Debug)]
pub struct Partition {
    dir: PathBuf,
    meta: Meta,
    chunks: Arc<PartBytes>,
    /// Bytes of its three files.
    bytes: u64,
    series: SeriesTable,
    postings: MemPostings<SeriesOrd>,
    /// Downsampled series (`downsampled` file): its directory, the
    /// series decoded when read.
    downsampled: DsFile,
}

fn io(dir: &Path) -> impl Fn(std::io::Error) -> PartitionError + '_ {
    move |source| PartitionError::Io {
        dir: dir.display().to_string(),
        source,
    }
}

impl Partition {
    /// Opens and verifies a partition: meta, index sections and the chunks
    /// file's checksum, and every reference's bounds.
    pub fn open(dir: impl AsRef<Path>) -> Result<Partition, PartitionError> {
        Self::open_with(&StdFs, dir)
    }

    /// Like [`Partition::open`], reading through `fs` (mapping the chunks
    /// file when `fs` is the OS's).
    pub fn open_with(fs: &dyn Fs, dir: impl AsRef<Path>) -> Result<Partition, PartitionError> {
        let dir = dir.as_ref().to_path_buf();
        let dname = dir.display().to_string();
        let corrupt = |file: &'static str, offset: usize, reason: String| PartitionError::Corrupt {
            dir: dname.clone(),
            file,
            offset,
            reason,
        };
        let meta_bytes = fs.read(&dir.join("meta.json")).map_err(io(&dir))?;
        let meta: Meta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| corrupt("meta.json", e.column(), e.to_string()))?;
        check_meta(&meta).map_err(|r| corrupt("meta.json", 0, r))?;

        let (map, mut file) = if fs.os_paths() {
            let file = File::open(dir.join("chunks")).map_err(io(&dir))?;
            // SAFETY: partitions are immutable once renamed into place and we
            // never write to them; see storage/UNSAFE.md.
            #[allow(unsafe_code)]
            let map = unsafe { Mmap::map(&file) }.map_err(io(&dir))?;
            (PartBytes::Mapped(map), Some(file))
        } else {
            let owned = fs.read(&dir.join("chunks")).map_err(io(&dir))?;
            (PartBytes::Owned(owned), None)
        };
        let body = map
            .len()
            .checked_sub(4)
            .filter(|&n| n >= 8)
            .ok_or_else(|| corrupt("chunks", 0, "too short".into()))?;
        // A mapped file is checked through reads: summing the mapping would
        // make every page of every partition resident in this process
        // (RSS grew by each hour's chunks); queries map in what they read.
        let (head, computed, crc) = match file.as_mut() {
            Some(f) => crate::part_bytes::check_file(f, body).map_err(io(&dir))?,
            None => {
                let mut head = [0u8; 8];
                head.copy_from_slice(&map[..8]);
                let mut crc = [0u8; 4];
                crc.copy_from_slice(&map[body..]);
                (head, crc32fast::hash(&map[..body]), crc)
            }
        };
        if head[..4] != CHUNKS_MAGIC[..] || head[4] != CHUNKS_VERSION {
            return Err(corrupt("chunks", 0, "bad magic or version".into()));
        }
        let stored = u32::from_le_bytes(crc);
        if stored != computed {
            return Err(corrupt(
                "chunks",
                body,
                format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }

        let index = fs.read(&dir.join("index")).map_err(io(&dir))?;
        let (series, postings) = parse_index(&dname, &meta, &index, body)?;
        let ds_path = dir.join(crate::downsample::FILE);
        let (downsampled, ds_len) = if fs.exists(&ds_path) {
            let (d, len) = crate::downsample::open_file(fs, &ds_path).map_err(io(&dir))?;
            let d = d.map_err(|e| corrupt(crate::downsample::FILE, e.offset, e.reason.clone()))?;
            (d, len)
        } else {
            (DsFile::default(), 0)
        };

        Ok(Partition {
            dir,
            meta,
            bytes: (meta_bytes.len() + index.len() + map.len() + ds_len) as u64,
            chunks: Arc::new(map),
            series,
            postings,
            downsampled,
        })
    }

    /// What `meta.json` says.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Bytes of its files on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Each series with the time range of its samples.
    /// Downsampled series included.
    pub(crate) fn series_spans(&self) -> impl Iterator<Item = (&Labels, i64, i64)> {
        let raw = self.series.iter().filter_map(|s| {
            let lo = [s.floats.min_t(), s.hists.min_t()]
                .into_iter()
                .flatten()
                .min()?;
            let hi = [s.floats.max_t(), s.hists.max_t()]
                .into_iter()
                .flatten()
                .max()?;
            Some((s.labels, lo, hi))
        });
        let ds = self
            .downsampled
            .entries()
            .iter()
            .filter(|e| e.res_max > 0)
            .map(|e| (&e.labels, e.first_t, e.last_t));
        raw.chain(ds)
    }

    /// Where its chunk bytes go (`hourglass inspect --bytes`): its float
    /// chunks' anatomy, each chunk checked, and its histogram chunks' bytes.
    pub fn anatomy(&self) -> Result<(crate::chunk::anatomy::Anatomy, u64), ChunkError> {
        let mut a = crate::chunk::anatomy::Anatomy::default();
        let mut histogram_bytes = 0;
        for s in self.series.iter() {
            for (_, _, start, end) in s.floats {
                let bytes = self
                    .chunks
                    .get(start..end)
                    .ok_or(ChunkError::TooShort { len: 0 })?;
                a.add_chunk(bytes)?;
            }
            histogram_bytes += s.hists.map(|c| (c.3 - c.2) as u64).sum::<u64>();
        }
        Ok((a, histogram_bytes))
    }

    /// Its downsampled series: the directory in memory, each series
    /// decoded when read.
    pub fn downsampled(&self) -> &DsFile {
        &self.downsampled
    }

    /// A float chunk of the chunks file, (min_t, max_t, start, end).
    fn mapped(&self, (min_t, max_t, start, end): ChunkRange) -> ChunkMeta {
        ChunkMeta {
            min_t,
            max_t,
            data: ChunkData::Mapped {
                file: Arc::clone(&self.chunks),
                start,
                end,
            },
        }
    }

    /// How many series it holds.
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    /// The `i`-th series in storage order with all its chunks.
    pub(crate) fn series_at(&self, i: usize) -> Option<(&Labels, Vec<ChunkMeta>)> {
        let s = self.series.get(i)?;
        let chunks = s.floats.map(|c| self.mapped(c)).collect();
        Some((s.labels, chunks))
    }

    /// The `i`-th series' histogram samples (compaction reads them).
    pub(crate) fn histograms_at(&self, i: usize) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
        let Some(s) = self.series.get(i) else {
            return Ok(Vec::new());
        };
        self.decode_histograms(s.hists, i64::MIN, i64::MAX)
    }

    /// Samples of histogram chunks `hchunks` in `[mint, maxt]`.
    fn decode_histograms(
        &self,
        hchunks: Ranges<'_>,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(i64, FloatHistogram)>, ChunkError> {
        let mut out = Vec::new();
        for (lo, hi, start, end) in hchunks {
            if hi < mint || lo > maxt {
                continue;
            }
            let bytes = self
                .chunks
                .get(start..end)
                .ok_or(ChunkError::TooShort { len: 0 })?;
            crate::chunk::histogram::decode_range_into(bytes, mint, maxt, &mut out)?;
        }
        Ok(out)
    }

    /// The samples of histogram chunks `hchunks` in `[mint, maxt]`: chunks
    /// wholly inside left for the reader to decode, the others decoded now
    /// (so an empty answer is known to be empty).
    fn histogram_pieces(
        &self,
        hchunks: Ranges<'_>,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<HistPiece>, ChunkError> {
        let mut pieces: Vec<HistPiece> = Vec::new();
        for (lo, hi, start, end) in hchunks {
            if hi < mint || lo > maxt {
                continue;
            }
            if lo >= mint && hi <= maxt && end > start {
                match pieces.last_mut() {
                    Some(HistPiece::Chunks { ranges, .. }) => ranges.push((start, end)),
                    _ => pieces.push(HistPiece::Chunks {
                        file: Arc::clone(&self.chunks),
                        ranges: vec![(start, end)],
                    }),
                }
                continue;
            }
            let bytes = self
                .chunks
                .get(start..end)
                .ok_or(ChunkError::TooShort { len: 0 })?;
            let mut v = Vec::new();
            crate::chunk::histogram::decode_range_into(bytes, mint, maxt, &mut v)?;
            if !v.is_empty() {
                pieces.push(HistPiece::Decoded(v));
            }
        }
        Ok(pieces)
    }

    /// Histogram samples in `[mint, maxt]` of the series matching
    /// `matchers` (none before version 3).
    pub(crate) fn select_histograms(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesHistograms>, (Labels, ChunkError)> {
        if self.meta.version < u32::from(VERSION_3)
            || self.meta.max_t < mint
            || self.meta.min_t > maxt
        {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for id in self.postings.select(matchers).iter() {
            let Some(s) = self.series.get(SeriesOrd::from_raw(id).index()) else {
                continue;
            };
            if s.hists.is_empty() {
                continue;
            }
            let pieces = self
                .histogram_pieces(s.hists, mint, maxt)
                .map_err(|e| (s.labels.clone(), e))?;
            if !pieces.is_empty() {
                out.push((s.labels.clone(), pieces));
            }
        }
        Ok(out)
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Series in storage order (metric, source, labels) with their chunk
    /// count, for `hourglass inspect`.
    pub fn series(&self) -> impl Iterator<Item = (&Labels, usize)> {
        self.series.iter().map(|s| (s.labels, s.floats.len()))
    }

    /// Series matching `matchers` with chunks overlapping `[mint, maxt]`.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<(Labels, Vec<ChunkMeta>)> {
        if self.meta.max_t < mint || self.meta.min_t > maxt {
            return Vec::new();
        }
        let mut out = Vec::new();
        for id in self.postings.select(matchers).iter() {
            let Some(s) = self.series.get(SeriesOrd::from_raw(id).index()) else {
                continue;
            };
            let chunks: Vec<ChunkMeta> = s
                .floats
                .filter(|c| c.1 >= mint && c.0 <= maxt)
                .map(|c| self.mapped(c))
                .collect();
            if !chunks.is_empty() {
                out.push((s.labels.clone(), chunks));
            }
        }
        out
    }

    /// Labels of the series matching `matchers` (all when empty) with a
    /// chunk overlapping `[mint, maxt]`, in storage order: what
    /// cardinality over history counts.
    pub(crate) fn labels_in(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<&Labels> {
        if self.meta.max_t < mint || self.meta.min_t > maxt {
            return Vec::new();
        }
        self.postings
            .select(matchers)
            .iter()
            .filter_map(|id| self.series.get(SeriesOrd::from_raw(id).index()))
            .filter(|s| {
                s.floats
                    .clone()
                    .chain(s.hists.clone())
                    .any(|c| c.1 >= mint && c.0 <= maxt)
            })
            .map(|s| s.labels)
            .collect()
    }

    /// The partition's postings (for label names and values).
    pub(crate) fn postings(&self) -> &MemPostings<SeriesOrd> {
        &self.postings
    }
}

/// Checks the fields of `meta.json` the reader relies on.
fn check_meta(meta: &Meta) -> Result<(), String> {
    if ![
        VERSION_1, VERSION, VERSION_3, VERSION_4, VERSION_5, VERSION_6,
    ]
    .map(u32::from)
    .contains(&meta.version)
    {
        return Err(format!("unknown version {}", meta.version));
    }
    if meta.span_ms <= 0 || meta.span_ms > super::DAY_MS {
        return Err(format!("span {} ms out of range", meta.span_ms));
    }
    Ok(())
}

/// Parses and checks the index against the meta and the chunks file's body
/// length (bytes between its header and its CRC).
pub(super) fn parse_index(
    dname: &str,
    meta: &Meta,
    index: &[u8],
    body: usize,
) -> Result<(SeriesTable, MemPostings<SeriesOrd>), PartitionError> {
    let mut c = Cursor {
        b: index,
        pos: 0,
        base: 0,
        file: "index",
        dir: dname,
    };
    if c.bytes(4)? != INDEX_MAGIC {
        return Err(c.corrupt("bad magic"));
    }
    let head = c.bytes(4)?;
    let version = head.first().copied();
    if version != Some(u8::try_from(meta.version).unwrap_or(0)) {
        return Err(c.corrupt("index version differs from meta.json's"));
    }
    let unpacked;
    let mut c = match (version, head.get(1).copied()) {
        (Some(VERSION_1), _) => c,
        (Some(VERSION | VERSION_3 | VERSION_4 | VERSION_5 | VERSION_6), Some(codec)) => {
            let body_end = index
                .len()
                .checked_sub(4)
                .filter(|&n| n >= 12)
                .ok_or_else(|| c.corrupt("too short"))?;
            let raw_len = c.u32()? as usize;
            let mut crc = [0u8; 4];
            crc.copy_from_slice(&index[body_end..]);
            let (stored, computed) = (u32::from_le_bytes(crc), crc32fast::hash(&index[..body_end]));
            if stored != computed {
                c.pos = body_end;
                return Err(c.corrupt(format!(
                    "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )));
            }
            let body = &index[12..body_end];
            unpacked = match codec {
                CODEC_NONE => body.to_vec(),
                CODEC_ZSTD => {
                    // Bounded: zstd cannot expand beyond its best ratio, so a
                    // claimed length far past it is damage, not data.
                    let cap = raw_len.min(body.len().saturating_mul(1024).saturating_add(1 << 16));
                    zstd::bulk::decompress(body, cap)
                        .map_err(|e| c.corrupt(format!("zstd: {e}")))?
                }
                other => return Err(c.corrupt(format!("unknown index codec {other}"))),
            };
            if unpacked.len() != raw_len {
                return Err(c.corrupt("decompressed length differs from the header's"));
            }
            Cursor {
                b: &unpacked,
                pos: 0,
                base: 0,
                file: "index (decompressed)",
                dir: dname,
            }
        }
        _ => return Err(c.corrupt("unknown version")),
    };
    let mut sym = c.section()?;
    let mut ser = c.section()?;
    let mut post = c.section()?;
    if c.pos != c.b.len() {
        return Err(c.corrupt("trailing bytes"));
    }

    let n = sym.count()?;
    let mut symbols: Vec<Arc<str>> = Vec::with_capacity(n);
    for _ in 0..n {
        let len = sym.count()?;
        let at = sym.pos;
        let s = std::str::from_utf8(sym.bytes(len)?).map_err(|_| {
            sym.pos = at;
            sym.corrupt("symbol is not UTF-8")
        })?;
        symbols.push(Arc::from(s));
    }

    let n = ser.count()?;
    let mut series = SeriesTable::with_capacity(n);
    let mut pairs = Vec::new();
    for _ in 0..n {
        let nl = ser.count()?;
        pairs.clear();
        for _ in 0..nl {
            let name = Arc::clone(&symbols[ser.index(symbols.len())?]);
            let value = Arc::clone(&symbols[ser.index(symbols.len())?]);
            pairs.push(Label { name, value });
        }
        if pairs.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(ser.corrupt("labels not sorted"));
        }
        series
            .push_series(crate::index::share_labels(&pairs))
            .map_err(|_| ser.corrupt("more chunks than a partition holds"))?;
        chunk_ranges(&mut ser, meta, &mut series, body)?;
        series.end_floats();
        if version.is_some_and(|v| v >= VERSION_3) {
            chunk_ranges(&mut ser, meta, &mut series, body)?;
        }
    }
    series.shrink_to_fit();

    if series.next_start() != body {
        return Err(ser.corrupt("chunks file holds bytes no series uses"));
    }
    let n = post.count()?;
    let mut postings = MemPostings::<SeriesOrd>::new();
    for _ in 0..n {
        let name = Arc::clone(&symbols[post.index(symbols.len())?]);
        let value = Arc::clone(&symbols[post.index(symbols.len())?]);
        let len = post.count()?;
        let bytes = post.bytes(len)?;
        let bm = RoaringBitmap::deserialize_from(bytes)
            .map_err(|e| post.corrupt(format!("bad postings: {e}")))?;
        if bm.max().is_some_and(|m| m as usize >= series.len()) {
            return Err(post.corrupt("postings name a series beyond the table"));
        }
        postings.insert_bitmap(name, value, bm);
    }

    Ok((series, postings))
}

/// One list of chunk ranges of the series last pushed to `series`:
/// sorted, disjoint, back to back in the chunks file after the chunks
/// before.
fn chunk_ranges(
    ser: &mut Cursor<'_>,
    meta: &Meta,
    series: &mut SeriesTable,
    body: usize,
) -> Result<(), PartitionError> {
    let nc = ser.count()?;
    let mut prev_max = i64::MIN;
    for k in 0..nc {
        let rel = unzigzag(ser.uvarint()?);
        let min_t = meta
            .hour_start_ms
            .checked_add(rel)
            .ok_or_else(|| ser.corrupt("chunk time overflows"))?;
        let max_t = min_t
            .checked_add_unsigned(ser.uvarint()?)
            .ok_or_else(|| ser.corrupt("chunk time range overflows"))?;
        let start = series.next_start();
        let len = ser.uvarint()? as usize;
        let Some(end) = start.checked_add(len).filter(|&e| e <= body) else {
            return Err(ser.corrupt("chunk outside the chunks file"));
        };
        if k > 0 && min_t <= prev_max {
            return Err(ser.corrupt("chunks overlap or are unsorted"));
        }
        prev_max = max_t;
        series.push_chunk(min_t, max_t, end);
    }
    Ok(())
}

/// Fuzz body for the partition reader (the index and meta parsers; chunk
/// bytes are covered by the chunk decoder's target). Never panics.
#[doc(hidden)]
pub fn fuzz_index(meta_json: &[u8], index: &[u8], chunks_body_len: usize) {
    let Ok(meta) = serde_json::from_slice::<Meta>(meta_json) else {
        return;
    };
    if check_meta(&meta).is_err() {
        return;
    }
    let _ = parse_index("fuzz", &meta, index, chunks_body_len);
}
