//! An open `downsampled` file: version 5's directory in memory (every
//! series' labels, time span and resolutions), its blocks left in the
//! mapped file and decoded when a select or a compaction asks for one of
//! their series ([`DsCursor`]); files of versions 1 to 4 decoded whole.
//! Layout in `FORMAT.md`.

use super::blocks::{BLOCK_HEAD, FOOTER, HEADER, VERSION_5, header, last_t, res_range};
use super::format::{Cur, FormatError, MAGIC, VERSION_2, VERSION_4, err, parse_body, unpack};
use super::interval::{DsSeries, Interval};
use crate::encoding::unzigzag;
use crate::model::labels::{Label, Labels};
use crate::part_bytes::PartBytes;
use std::collections::HashMap;
use std::sync::Arc;

/// One series of a `downsampled` file as its directory states it: what a
/// select or a compaction looks at before decoding its intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsEntry {
    /// The series' labels.
    pub labels: Labels,
    /// The first sample summarized.
    pub first_t: i64,
    /// The newest interval's `last_t` (`first_t` without intervals).
    pub last_t: i64,
    /// The finest and coarsest interval length, ms (0 without intervals).
    pub res_min: i64,
    /// See `res_min`.
    pub res_max: i64,
}

impl DsEntry {
    fn of(s: &DsSeries) -> DsEntry {
        let (res_min, res_max) = res_range(&s.iv);
        DsEntry {
            labels: s.labels.clone(),
            first_t: s.first.t,
            last_t: last_t(s),
            res_min,
            res_max,
        }
    }
}

#[derive(Debug)]
enum Store {
    /// Version 5: the file's bytes and each block's `(start, end, first
    /// entry)`; `verify` false only for the fuzz body.
    Blocks {
        bytes: PartBytes,
        blocks: Vec<(usize, usize, usize)>,
        verify: bool,
    },
    /// Versions 1 to 4: every series decoded at open.
    Decoded(Vec<DsSeries>),
}

/// An open `downsampled` file: the directory in memory, the series
/// decoded on demand.
#[derive(Debug)]
pub struct DsFile {
    entries: Vec<DsEntry>,
    store: Store,
    resident: usize,
}

impl Default for DsFile {
    fn default() -> Self {
        DsFile::decoded(Vec::new())
    }
}

impl DsFile {
    fn decoded(series: Vec<DsSeries>) -> DsFile {
        let entries: Vec<DsEntry> = series.iter().map(DsEntry::of).collect();
        let ivs: usize = series.iter().map(|s| s.iv.capacity()).sum();
        let resident = entries_bytes(&entries, entries.capacity())
            + series.capacity() * std::mem::size_of::<DsSeries>()
            + ivs * std::mem::size_of::<Interval>();
        DsFile {
            entries,
            store: Store::Decoded(series),
            resident,
        }
    }

    /// Opens a file: version 5 reads and checks its directory only (and
    /// the file's checksum unless `crc_checked`: a mapped file's is taken
    /// by reads); versions 1 to 4 are decoded whole.
    pub(crate) fn open(bytes: PartBytes, crc_checked: bool) -> Result<DsFile, FormatError> {
        if bytes.get(..4) != Some(&MAGIC[..]) || bytes.get(4) != Some(&VERSION_5) {
            return Ok(DsFile::decoded(super::format::decode_single(&bytes)?));
        }
        open_v5(bytes, crc_checked, true)
    }

    /// Every series' directory entry, sorted by labels.
    pub fn entries(&self) -> &[DsEntry] {
        &self.entries
    }

    /// Bytes this open file holds in memory: the directory (labels with
    /// their strings shared within the file), the block table, and for
    /// versions 1 to 4 every decoded interval; a mapped file's pages are
    /// not counted (the page cache holds them), read bytes are.
    pub fn resident_bytes(&self) -> usize {
        self.resident
    }

    /// Every series decoded (tests, tools, verify).
    pub fn all(&self) -> Result<Vec<DsSeries>, FormatError> {
        let mut c = DsCursor::new(self);
        (0..self.entries.len())
            .map(|i| c.series(i).cloned())
            .collect()
    }

    /// The series of block `b` decoded and checked against the directory.
    fn block(&self, b: usize) -> Result<Vec<DsSeries>, FormatError> {
        let Store::Blocks {
            bytes,
            blocks,
            verify,
        } = &self.store
        else {
            return Err(err(0, "no blocks"));
        };
        let &(start, end, first) = blocks.get(b).ok_or_else(|| err(0, "no such block"))?;
        let upto = blocks.get(b + 1).map_or(self.entries.len(), |x| x.2);
        let blk = bytes
            .get(start..end)
            .filter(|x| x.len() >= BLOCK_HEAD + 4)
            .ok_or_else(|| err(start, "block out of bounds"))?;
        let (head, crc) = blk.split_at(blk.len() - 4);
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = crc32fast::hash(head);
        if *verify && stored != computed {
            return Err(err(
                end - 4,
                format!(
                    "block {b}: checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                ),
            ));
        }
        let version = head[1];
        if version != VERSION_4 && version != VERSION_2 {
            return Err(err(start + 1, format!("block {b}: bad body version")));
        }
        let raw_len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
        let body = unpack(head[0], raw_len, &head[BLOCK_HEAD..], start)?;
        let series = parse_body(version, &body).map_err(|e| {
            err(
                start,
                format!("block {b}, body byte {}: {}", e.offset, e.reason),
            )
        })?;
        let want = self.entries.get(first..upto).unwrap_or_default();
        if series.len() != want.len() || series.iter().zip(want).any(|(s, e)| DsEntry::of(s) != *e)
        {
            return Err(err(
                start,
                format!("block {b} disagrees with the directory"),
            ));
        }
        Ok(series)
    }

    /// The block holding entry `i`.
    fn block_of(&self, i: usize) -> usize {
        match &self.store {
            Store::Blocks { blocks, .. } => blocks.partition_point(|b| b.2 <= i).saturating_sub(1),
            Store::Decoded(_) => i,
        }
    }
}

/// Bytes of the entries (room for `capacity`) with their labels; each
/// distinct string once.
fn entries_bytes(entries: &[DsEntry], capacity: usize) -> usize {
    let mut strings: HashMap<*const u8, usize> = HashMap::new();
    let mut n = capacity * std::mem::size_of::<DsEntry>();
    for e in entries {
        n += 16 + e.labels.len() * std::mem::size_of::<Label>();
        for l in e.labels.iter() {
            for s in [&l.name, &l.value] {
                strings.insert(s.as_ptr(), 16 + s.len());
            }
        }
    }
    n + strings.values().sum::<usize>()
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Opens a version 5 file: footer, checksums (when `verify`), directory,
/// and that the blocks tile the bytes before it.
fn open_v5(bytes: PartBytes, crc_checked: bool, verify: bool) -> Result<DsFile, FormatError> {
    let b: &[u8] = &bytes;
    let len = b.len();
    if len < HEADER + FOOTER {
        return Err(err(0, "too short"));
    }
    if verify && !crc_checked {
        let (stored, computed) = (u32_at(b, len - 4), crc32fast::hash(&b[..len - 4]));
        if stored != computed {
            return Err(err(
                len - 4,
                format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
    }
    if b[..4] != MAGIC[..] || b[4] != VERSION_5 || b[5..8] != [0, 0, 0] {
        return Err(err(0, "bad magic, version or header"));
    }
    let foot = len - FOOTER;
    let (dir_len, raw_len) = (u32_at(b, foot) as usize, u32_at(b, foot + 4) as usize);
    if b[foot + 9..foot + 12] != [0, 0, 0] {
        return Err(err(foot + 9, "bad footer"));
    }
    let dir_start = foot
        .checked_sub(dir_len)
        .filter(|&s| s >= HEADER)
        .ok_or_else(|| err(foot, "directory length out of bounds"))?;
    let (stored, computed) = (
        u32_at(b, foot + 12),
        crc32fast::hash(&b[dir_start..foot + 12]),
    );
    if verify && stored != computed {
        return Err(err(
            foot + 12,
            format!(
                "directory checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        ));
    }
    let raw = unpack(b[foot + 8], raw_len, &b[dir_start..foot], dir_start)?;
    let (entries, blocks) = parse_directory(&raw, dir_start)?;
    let mut resident = entries_bytes(&entries, entries.capacity())
        + blocks.capacity() * std::mem::size_of::<(usize, usize, usize)>();
    if let PartBytes::Owned(v) = &bytes {
        resident += v.capacity();
    }
    Ok(DsFile {
        entries,
        store: Store::Blocks {
            bytes,
            blocks,
            verify,
        },
        resident,
    })
}

type Directory = (Vec<DsEntry>, Vec<(usize, usize, usize)>);

/// Parses the directory: per block its length and series; checks the
/// series are sorted and the blocks end where the directory starts.
/// Offsets in errors are the directory's (decompressed) bytes.
fn parse_directory(raw: &[u8], dir_start: usize) -> Result<Directory, FormatError> {
    let mut c = Cur { b: raw, pos: 0 };
    let nb = c.uvarint()?;
    if nb > raw.len() as u64 {
        return Err(err(0, "more blocks than the directory holds"));
    }
    let mut strings: HashMap<&str, Arc<str>> = HashMap::new();
    let mut entries: Vec<DsEntry> = Vec::new();
    let mut blocks = Vec::new();
    let mut at = HEADER;
    for k in 0..nb {
        let here = c.pos;
        let (len, n) = (c.uvarint()?, c.uvarint()?);
        // Each entry takes at least 5 bytes of the directory.
        if n == 0 || n > (raw.len() - c.pos) as u64 {
            return Err(err(here, format!("block {k}: bad series count")));
        }
        let end = usize::try_from(len)
            .ok()
            .filter(|&l| l >= BLOCK_HEAD + 4)
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= dir_start)
            .ok_or_else(|| err(here, format!("block {k}: length out of bounds")))?;
        blocks.push((at, end, entries.len()));
        for _ in 0..n {
            let e = entry(&mut c, &mut strings)?;
            if entries.last().is_some_and(|p| p.labels >= e.labels) {
                return Err(err(here, "series not sorted by labels"));
            }
            entries.push(e);
        }
        at = end;
    }
    if at != dir_start {
        return Err(err(0, "blocks do not reach the directory"));
    }
    if c.pos != raw.len() {
        return Err(err(c.pos, "trailing bytes in the directory"));
    }
    Ok((entries, blocks))
}

/// One directory entry; label strings shared through `strings`.
fn entry<'a>(
    c: &mut Cur<'a>,
    strings: &mut HashMap<&'a str, Arc<str>>,
) -> Result<DsEntry, FormatError> {
    let labels = c
        .labels(|s| Arc::clone(strings.entry(s).or_insert_with(|| Arc::from(s))))?
        .into_iter()
        .map(|(name, value)| Label { name, value })
        .collect();
    let first_t = unzigzag(c.uvarint()?);
    let last_t = first_t.wrapping_add(unzigzag(c.uvarint()?));
    let res_min = unzigzag(c.uvarint()?);
    let res_max = res_min.wrapping_add(unzigzag(c.uvarint()?));
    Ok(DsEntry {
        labels: Labels::from_sorted(labels),
        first_t,
        last_t,
        res_min,
        res_max,
    })
}

/// Reads series of a file in order, decoding each block once while its
/// series are asked for.
pub(crate) struct DsCursor<'a> {
    file: &'a DsFile,
    block: Option<(usize, Vec<DsSeries>)>,
}

impl<'a> DsCursor<'a> {
    pub(crate) fn new(file: &'a DsFile) -> DsCursor<'a> {
        DsCursor { file, block: None }
    }

    /// Series `i` (an index into [`DsFile::entries`]).
    pub(crate) fn series(&mut self, i: usize) -> Result<&DsSeries, FormatError> {
        let file = self.file;
        let blocks = match &file.store {
            Store::Decoded(v) => return v.get(i).ok_or_else(|| err(0, "no such series")),
            Store::Blocks { blocks, .. } => blocks,
        };
        let b = file.block_of(i);
        if self.block.as_ref().is_none_or(|c| c.0 != b) {
            self.block = Some((b, file.block(b)?));
        }
        let first = blocks.get(b).map_or(0, |x| x.2);
        self.block
            .as_ref()
            .and_then(|(_, v)| v.get(i.wrapping_sub(first)))
            .ok_or_else(|| err(0, "no such series"))
    }
}

/// Every series of version 5 bytes, each checksum checked.
pub(crate) fn decode_all(b: &[u8]) -> Result<Vec<DsSeries>, FormatError> {
    open_v5(PartBytes::Owned(b.to_vec()), false, true)?.all()
}

/// Checks every byte of a file (any version), holding at most one block
/// decoded at a time.
pub(crate) fn check(b: &[u8]) -> Result<(), FormatError> {
    if b.get(4) != Some(&VERSION_5) {
        return super::format::decode_single(b).map(|_| ());
    }
    let f = open_v5(PartBytes::Owned(b.to_vec()), false, true)?;
    if let Store::Blocks { blocks, .. } = &f.store {
        for k in 0..blocks.len() {
            f.block(k)?;
        }
    }
    Ok(())
}

/// `bytes` after a version 5 header, opened with no checksum checked
/// (the fuzz body).
pub(super) fn open_unverified(bytes: &[u8]) -> Result<DsFile, FormatError> {
    let mut b = header();
    b.extend_from_slice(bytes);
    open_v5(PartBytes::Owned(b), false, false)
}

/// Opens the `downsampled` file at `path`: mapped from the OS file system
/// (its checksum taken by reads, so its pages stay out of the process),
/// else read through `fs`. The outer error is I/O, the inner damage.
pub(crate) fn open_file(
    fs: &dyn hourglass_wal::fs::Fs,
    path: &std::path::Path,
) -> std::io::Result<(Result<DsFile, FormatError>, usize)> {
    if !fs.os_paths() {
        let b = fs.read(path)?;
        let len = b.len();
        return Ok((DsFile::open(PartBytes::Owned(b), false), len));
    }
    let mut file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if len < HEADER + FOOTER {
        return Ok((DsFile::open(PartBytes::Owned(fs.read(path)?), false), len));
    }
    // SAFETY: partitions are immutable once renamed into place and we
    // never write to them; see storage/UNSAFE.md.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    let (_, computed, stored) = crate::part_bytes::check_file(&mut file, len - 4)?;
    let checked = stored == computed.to_le_bytes();
    Ok((DsFile::open(PartBytes::Mapped(map), checked), len))
}
