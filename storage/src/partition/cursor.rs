//! A bounds-checked reader over a partition file's bytes: every read
//! names the file, the directory and the byte offset when it fails.

use super::PartitionError;
use crate::encoding::{VarintError, read_uvarint};

pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
    /// Offset of `b` in its file, for error messages.
    pub(super) base: usize,
    pub(super) file: &'static str,
    pub(super) dir: &'a str,
}

impl<'a> Cursor<'a> {
    pub(super) fn corrupt(&self, reason: impl Into<String>) -> PartitionError {
        PartitionError::Corrupt {
            dir: self.dir.to_string(),
            file: self.file,
            offset: self.base + self.pos,
            reason: reason.into(),
        }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], PartitionError> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.corrupt("ends early"))?;
        self.pos += n;
        Ok(s)
    }

    pub(super) fn uvarint(&mut self) -> Result<u64, PartitionError> {
        read_uvarint(self.b, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => self.corrupt("ends early"),
            VarintError::Overflow => self.corrupt("varint overflow"),
        })
    }

    /// A count bounded by the bytes left (each item takes ≥ 1 byte).
    pub(super) fn count(&mut self) -> Result<usize, PartitionError> {
        let n = self.uvarint()?;
        if n > (self.b.len() - self.pos) as u64 {
            return Err(self.corrupt("count larger than the section"));
        }
        Ok(n as usize)
    }

    pub(super) fn index(&mut self, len: usize) -> Result<usize, PartitionError> {
        let i = self.uvarint()?;
        if i >= len as u64 {
            return Err(self.corrupt(format!("reference {i} out of range {len}")));
        }
        Ok(i as usize)
    }

    pub(super) fn u32(&mut self) -> Result<u32, PartitionError> {
        let b = self.bytes(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// `len | payload | crc32`, checked.
    pub(super) fn section(&mut self) -> Result<Cursor<'a>, PartitionError> {
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
