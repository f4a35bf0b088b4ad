//! Opening a partition: every byte is checked before it is served.

use super::PartitionError;
use super::meta::Meta;
use super::writer::{CHUNKS_MAGIC, INDEX_MAGIC, VERSION};
use crate::chunk_handle::{ChunkData, ChunkMeta};
use crate::encoding::{VarintError, read_uvarint, unzigzag};
use crate::index::MemPostings;
use crate::model::labels::{Label, Labels};
use crate::model::matcher::Matcher;
use crate::model::refs::{PostingId, SeriesOrd};
use memmap2::Mmap;
use roaring::RoaringBitmap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One series of a partition: labels and chunk ranges in `chunks`.
#[derive(Debug)]
pub(super) struct SeriesEntry {
    pub(super) labels: Labels,
    /// `(min_t, max_t, start, end)`.
    pub(super) chunks: Vec<(i64, i64, usize, usize)>,
}

/// An open, verified partition. Chunks stay in the mmapped file.
#[derive(Debug)]
pub struct Partition {
    dir: PathBuf,
    meta: Meta,
    chunks: Arc<Mmap>,
    series: Vec<SeriesEntry>,
    postings: MemPostings<SeriesOrd>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    /// Offset of `b` in its file, for error messages.
    base: usize,
    file: &'static str,
    dir: &'a str,
}

impl<'a> Cursor<'a> {
    fn corrupt(&self, reason: impl Into<String>) -> PartitionError {
        PartitionError::Corrupt {
            dir: self.dir.to_string(),
            file: self.file,
            offset: self.base + self.pos,
            reason: reason.into(),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], PartitionError> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.corrupt("ends early"))?;
        self.pos += n;
        Ok(s)
    }

    fn uvarint(&mut self) -> Result<u64, PartitionError> {
        read_uvarint(self.b, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => self.corrupt("ends early"),
            VarintError::Overflow => self.corrupt("varint overflow"),
        })
    }

    /// A count bounded by the bytes left (each item takes ≥ 1 byte).
    fn count(&mut self) -> Result<usize, PartitionError> {
        let n = self.uvarint()?;
        if n > (self.b.len() - self.pos) as u64 {
            return Err(self.corrupt("count larger than the section"));
        }
        Ok(n as usize)
    }

    fn index(&mut self, len: usize) -> Result<usize, PartitionError> {
        let i = self.uvarint()?;
        if i >= len as u64 {
            return Err(self.corrupt(format!("reference {i} out of range {len}")));
        }
        Ok(i as usize)
    }

    fn u32(&mut self) -> Result<u32, PartitionError> {
        let b = self.bytes(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// `len | payload | crc32`, checked.
    fn section(&mut self) -> Result<Cursor<'a>, PartitionError> {
        let len = self.u32()? as usize;
        let start = self.pos;
        let payload = self.bytes(len)?;
        let stored = self.u32()?;
        let computed = crc32fast::hash(payload);
        if stored != computed {
            return Err(self.corrupt(format!(
                "section checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
        Ok(Cursor {
            b: payload,
            pos: 0,
            base: self.base + start,
            file: self.file,
            dir: self.dir,
        })
    }
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
        let dir = dir.as_ref().to_path_buf();
        let dname = dir.display().to_string();
        let corrupt = |file: &'static str, offset: usize, reason: String| PartitionError::Corrupt {
            dir: dname.clone(),
            file,
            offset,
            reason,
        };
        let meta_bytes = std::fs::read(dir.join("meta.json")).map_err(io(&dir))?;
        let meta: Meta = serde_json::from_slice(&meta_bytes)
            .map_err(|e| corrupt("meta.json", e.column(), e.to_string()))?;
        if meta.version != u32::from(VERSION) {
            return Err(corrupt(
                "meta.json",
                0,
                format!("unknown version {}", meta.version),
            ));
        }

        let file = File::open(dir.join("chunks")).map_err(io(&dir))?;
        // SAFETY: partitions are immutable once renamed into place and we
        // never write to them; see storage/UNSAFE.md.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(io(&dir))?;
        let body = map
            .len()
            .checked_sub(4)
            .filter(|&n| n >= 8)
            .ok_or_else(|| corrupt("chunks", 0, "too short".into()))?;
        if map.get(..4) != Some(&CHUNKS_MAGIC[..]) || map.get(4) != Some(&VERSION) {
            return Err(corrupt("chunks", 0, "bad magic or version".into()));
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&map[body..]);
        let (stored, computed) = (u32::from_le_bytes(crc), crc32fast::hash(&map[..body]));
        if stored != computed {
            return Err(corrupt(
                "chunks",
                body,
                format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }

        let index = std::fs::read(dir.join("index")).map_err(io(&dir))?;
        let (series, postings) = parse_index(&dname, &meta, &index, body)?;

        Ok(Partition {
            dir,
            meta,
            chunks: Arc::new(map),
            series,
            postings,
        })
    }

    /// What `meta.json` says.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Series in storage order (metric, source, labels) with their chunk
    /// count, for `hourglass inspect`.
    pub fn series(&self) -> impl Iterator<Item = (&Labels, usize)> {
        self.series.iter().map(|s| (&s.labels, s.chunks.len()))
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
                .chunks
                .iter()
                .filter(|c| c.1 >= mint && c.0 <= maxt)
                .map(|&(min_t, max_t, start, end)| ChunkMeta {
                    min_t,
                    max_t,
                    data: ChunkData::Mapped {
                        file: Arc::clone(&self.chunks),
                        start,
                        end,
                    },
                })
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
            .filter(|s| s.chunks.iter().any(|c| c.1 >= mint && c.0 <= maxt))
            .map(|s| &s.labels)
            .collect()
    }

    /// The partition's postings (for label names and values).
    pub(crate) fn postings(&self) -> &MemPostings<SeriesOrd> {
        &self.postings
    }
}

/// Parses and checks the index against the meta and the chunks file's body
/// length (bytes between its header and its CRC).
pub(super) fn parse_index(
    dname: &str,
    meta: &Meta,
    index: &[u8],
    body: usize,
) -> Result<(Vec<SeriesEntry>, MemPostings<SeriesOrd>), PartitionError> {
    let mut c = Cursor {
        b: index,
        pos: 0,
        base: 0,
        file: "index",
        dir: dname,
    };
    if c.bytes(4)? != INDEX_MAGIC || c.bytes(4)?.first() != Some(&VERSION) {
        return Err(c.corrupt("bad magic or version"));
    }
    let mut sym = c.section()?;
    let mut ser = c.section()?;
    let mut post = c.section()?;
    if c.pos != index.len() {
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
    let mut series = Vec::with_capacity(n);
    // Chunks follow the 8-byte header back to back, in index order.
    let mut next_chunk = 8usize;
    for _ in 0..n {
        let nl = ser.count()?;
        let mut pairs = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = Arc::clone(&symbols[ser.index(symbols.len())?]);
            let value = Arc::clone(&symbols[ser.index(symbols.len())?]);
            pairs.push(Label { name, value });
        }
        if pairs.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(ser.corrupt("labels not sorted"));
        }
        let nc = ser.count()?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev_max = i64::MIN;
        for _ in 0..nc {
            let rel = unzigzag(ser.uvarint()?);
            let min_t = meta
                .hour_start_ms
                .checked_add(rel)
                .ok_or_else(|| ser.corrupt("chunk time overflows"))?;
            let max_t = min_t
                .checked_add_unsigned(ser.uvarint()?)
                .ok_or_else(|| ser.corrupt("chunk time range overflows"))?;
            let start = next_chunk;
            let len = ser.uvarint()? as usize;
            let Some(end) = start.checked_add(len).filter(|&e| e <= body) else {
                return Err(ser.corrupt("chunk outside the chunks file"));
            };
            next_chunk = end;
            if !chunks.is_empty() && min_t <= prev_max {
                return Err(ser.corrupt("chunks overlap or are unsorted"));
            }
            prev_max = max_t;
            chunks.push((min_t, max_t, start, end));
        }
        series.push(SeriesEntry {
            labels: Labels::from_sorted(pairs),
            chunks,
        });
    }

    if next_chunk != body {
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

/// Fuzz body for the partition reader (the index and meta parsers; chunk
/// bytes are covered by the chunk decoder's target). Never panics.
#[doc(hidden)]
pub fn fuzz_index(meta_json: &[u8], index: &[u8], chunks_body_len: usize) {
    let Ok(meta) = serde_json::from_slice::<Meta>(meta_json) else {
        return;
    };
    let _ = parse_index("fuzz", &meta, index, chunks_body_len);
}
