//! Checking a partition without serving it, for `hourglass verify`: every
//! checksum (the chunks file's, each chunk's, each index section's) and
//! every bound the reader checks, with each problem's file and byte
//! offset. Where [`super::Partition::open`] stops at the first problem,
//! this goes on, so a damaged chunks file still names its damaged chunks.

use super::PartitionError;
use super::meta::Meta;
use super::reader::parse_index;
use super::writer::{
    CHUNKS_MAGIC, CHUNKS_VERSION, VERSION, VERSION_1, VERSION_3, VERSION_4, VERSION_5, VERSION_6,
};
use crate::chunk::ChunkView;
use crate::model::sample::Sample;
use std::path::Path;

/// Most problems listed per partition; the rest are only counted.
pub const MAX_PROBLEMS: usize = 100;

/// One problem in a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file inside the partition directory.
    pub file: &'static str,
    /// Byte offset in it.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// What checking a partition found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionCheck {
    /// Problems, in file order, at most [`MAX_PROBLEMS`].
    pub problems: Vec<Problem>,
    /// Problems beyond the listed ones.
    pub more_problems: u64,
    /// Series in the index (when it could be read).
    pub series: u64,
    /// Chunks whose checksum and encoding were checked.
    pub chunks: u64,
    /// Samples decoded from them.
    pub samples: u64,
    /// Bytes read (meta, chunks and index files).
    pub bytes: u64,
}

impl PartitionCheck {
    /// True when anything is wrong.
    pub fn is_damaged(&self) -> bool {
        !self.problems.is_empty()
    }

    fn problem(&mut self, file: &'static str, offset: u64, reason: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                file,
                offset,
                reason: reason.into(),
            });
        } else {
            self.more_problems += 1;
        }
    }
}

fn read(c: &mut PartitionCheck, dir: &Path, file: &'static str) -> Option<Vec<u8>> {
    match std::fs::read(dir.join(file)) {
        Ok(b) => {
            c.bytes += b.len() as u64;
            Some(b)
        }
        Err(e) => {
            c.problem(file, 0, format!("cannot be read: {e}"));
            None
        }
    }
}

/// Checks the partition in `dir` (read only; never fails: what cannot be
/// read is a problem of the result).
pub fn check(dir: &Path) -> PartitionCheck {
    let mut c = PartitionCheck::default();
    let meta_bytes = read(&mut c, dir, "meta.json");
    let chunks = read(&mut c, dir, "chunks");
    let index = read(&mut c, dir, "index");
    let ds = crate::downsample::FILE;
    if dir.join(ds).exists()
        && let Some(b) = read(&mut c, dir, ds)
        && let Err(e) = crate::downsample::check(&b)
    {
        c.problem(ds, e.offset as u64, e.reason);
    }
    let meta = meta_bytes.and_then(|b| match serde_json::from_slice::<Meta>(&b) {
        Ok(m)
            if [
                VERSION_1, VERSION, VERSION_3, VERSION_4, VERSION_5, VERSION_6,
            ]
            .map(u32::from)
            .contains(&m.version) =>
        {
            Some(m)
        }
        Ok(m) => {
            c.problem("meta.json", 0, format!("unknown version {}", m.version));
            None
        }
        Err(e) => {
            c.problem("meta.json", e.column() as u64, e.to_string());
            None
        }
    });

    // The chunks file: header, whole-file checksum.
    let body = chunks.as_deref().and_then(|b| {
        let Some(body) = b.len().checked_sub(4).filter(|&n| n >= 8) else {
            c.problem("chunks", 0, format!("too short: {} bytes", b.len()));
            return None;
        };
        if b.get(..4) != Some(&CHUNKS_MAGIC[..]) || b.get(4) != Some(&CHUNKS_VERSION) {
            c.problem("chunks", 0, "bad magic or version");
        }
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[body..]);
        let (stored, computed) = (u32::from_le_bytes(crc), crc32fast::hash(&b[..body]));
        if stored != computed {
            c.problem(
                "chunks",
                body as u64,
                format!("file checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            );
        }
        Some(body)
    });

    let (Some(meta), Some(index)) = (meta, index) else {
        return c;
    };
    // Without a readable chunks file the index is still checked, against
    // its own claim of where the chunks end.
    let body_len = body.unwrap_or(usize::MAX);
    let series = match parse_index(&dir.display().to_string(), &meta, &index, body_len) {
        Ok((series, _)) => series,
        Err(PartitionError::Corrupt {
            file,
            offset,
            reason,
            ..
        }) => {
            // Against a missing chunks file, the index's own end is no news.
            if body.is_some() || reason != "chunks file holds bytes no series uses" {
                c.problem(file, offset as u64, reason);
            }
            return c;
        }
        Err(e) => {
            c.problem("index", 0, e.to_string());
            return c;
        }
    };
    c.series = series.len() as u64;
    let Some(chunks) = chunks else {
        return c;
    };
    // Each chunk's own checksum and encoding: where a damaged chunks file
    // is damaged, series by series.
    let mut buf: Vec<Sample> = Vec::new();
    for s in series.iter() {
        let floats = s.floats.map(|r| (r, "chunk"));
        for ((_, _, start, end), what) in floats.chain(s.hists.map(|r| (r, "histogram chunk"))) {
            let Some(bytes) = chunks.get(start..end) else {
                c.problem("chunks", start as u64, "chunk outside the file");
                continue;
            };
            let decoded = if what == "chunk" {
                buf.clear();
                ChunkView::parse(bytes)
                    .and_then(|v| v.decode_into(&mut buf))
                    .map(|()| buf.len())
            } else {
                crate::chunk::histogram::decode(bytes).map(|h| h.len())
            };
            match decoded {
                Ok(n) => {
                    c.chunks += 1;
                    c.samples += n as u64;
                }
                Err(e) => c.problem(
                    "chunks",
                    start as u64,
                    format!("{what} of {}: {e}", s.labels),
                ),
            }
        }
    }
    c
}
