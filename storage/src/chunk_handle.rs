//! Chunk handles: where a chunk's bytes are (owned by the head, or in a
//! mapped partition file) with its time range, so a reader can skip whole
//! chunks and decode only the ones it needs.

use crate::chunk::{Chunk, ChunkError, ChunkView};
use crate::model::sample::Sample;
use std::sync::Arc;

/// Where a chunk's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum ChunkData {
    /// Sealed in memory (the head), shared with it.
    Owned(Chunk),
    /// Copied for one reader alone (the head's open chunk): its bytes
    /// count as the reader's own memory.
    Copied(Chunk),
    /// A range of a partition's chunks file, CRC checked on decode.
    Mapped {
        file: Arc<crate::part_bytes::PartBytes>,
        start: usize,
        end: usize,
    },
}

/// A chunk handle with its time range, so whole chunks can be skipped.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMeta {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: ChunkData,
}

impl ChunkMeta {
    /// The chunk for decoding, checking the CRC of mapped bytes first
    /// (owned chunks were sealed in this process).
    pub(crate) fn view(&self) -> Result<ChunkView<'_>, ChunkError> {
        match &self.data {
            ChunkData::Owned(chunk) | ChunkData::Copied(chunk) => Ok(chunk.view()),
            ChunkData::Mapped { file, start, end } => file
                .get(*start..*end)
                .map_or(Err(ChunkError::TooShort { len: 0 }), ChunkView::parse),
        }
    }

    /// Appends the chunk's samples in `[from, to]` to `out`, or nothing
    /// and the error.
    pub(crate) fn decode_range_into(
        &self,
        from: i64,
        to: i64,
        out: &mut Vec<Sample>,
    ) -> Result<(), ChunkError> {
        self.view()?.decode_range_into(from, to, out)
    }

    /// Samples the chunk's header claims (0 if it cannot be read).
    pub(crate) fn num_samples(&self) -> usize {
        match &self.data {
            ChunkData::Owned(c) | ChunkData::Copied(c) => c.num_samples(),
            ChunkData::Mapped { file, start, .. } => file
                .get(start + 1..start + 3)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
        }
    }
}

impl ChunkMeta {
    /// Appends the chunk's samples to `out`.
    pub(crate) fn decode_into(&self, out: &mut Vec<Sample>) -> Result<(), ChunkError> {
        self.view()?.decode_into(out)
    }
}
