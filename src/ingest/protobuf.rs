//! A minimal protobuf wire-format reader and writer over byte slices.
//!
//! Enough for the hot decode paths (remote write) without generated code:
//! strings come back borrowed from the input, nothing is allocated.

use hourglass_storage::encoding::{VarintError, put_uvarint, read_uvarint};
use std::fmt;

/// Wire types of the protobuf encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// varint
    Varint,
    /// 64-bit fixed
    Fixed64,
    /// length-delimited
    Len,
    /// 32-bit fixed
    Fixed32,
}

/// Bytes that are not valid protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// Byte offset in the message being read.
    pub offset: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid protobuf at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for WireError {}

/// Reads fields one after another.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` within the outermost message, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole message.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    fn err(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.base + self.pos,
            what,
        }
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads a base-128 varint.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // Keys and lengths are nearly always one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Result<u64, WireError> {
        read_uvarint(self.buf, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => self.err("truncated varint"),
            VarintError::Overflow => self.err("varint overflows 64 bits"),
        })
    }

    /// Reads the next field key: field number and wire type; `None` at the
    /// end of the message.
    #[inline]
    pub fn key(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        if self.is_empty() {
            return Ok(None);
        }
        let at = self.pos;
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| self.err("field number too large"))?;
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            _ => {
                self.pos = at;
                return Err(self.err("unsupported wire type"));
            }
        };
        if field == 0 {
            self.pos = at;
            return Err(self.err("field number 0"));
        }
        Ok(Some((field, wire)))
    }

    /// Reads a length-delimited field's bytes.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.err("length too large"))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("length runs past the end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A reader over an embedded message, keeping offsets absolute.
    pub fn message(&mut self) -> Result<Reader<'a>, WireError> {
        let bytes = self.bytes()?;
        let start = self.pos - bytes.len();
        Ok(Reader {
            buf: bytes,
            pos: 0,
            base: self.base + start,
        })
    }

    /// A reader over `range` of this reader's bytes, keeping offsets
    /// absolute; `None` when the range is not within them.
    pub fn part(&self, range: std::ops::Range<usize>) -> Option<Reader<'a>> {
        let base = self.base + range.start;
        let buf = self.buf.get(range)?;
        Some(Reader { buf, pos: 0, base })
    }

    /// The absolute offset of position `pos` of this reader.
    pub fn absolute(&self, pos: usize) -> usize {
        self.base + pos
    }

    /// How many bytes were read.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes this reader reads, whole.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The absolute offset of `sub`, a slice of this reader's bytes.
    pub fn offset_of(&self, sub: &[u8]) -> usize {
        self.base + (sub.as_ptr() as usize).saturating_sub(self.buf.as_ptr() as usize)
    }

    /// Reads a UTF-8 string field.
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        let at = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| WireError {
            offset: self.base + at,
            what: "string is not valid UTF-8",
        })
    }

    /// Reads an 8-byte little-endian value.
    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let end = self.pos.saturating_add(8);
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.err("truncated fixed64"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        self.pos = end;
        Ok(u64::from_le_bytes(a))
    }

    /// Skips a field's value: a length is checked against the bytes left,
    /// and groups (wire types 3 and 4) are refused by [`Reader::key`].
    pub fn skip(&mut self, wire: WireType) -> Result<(), WireError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Len => self.bytes().map(drop),
            WireType::Fixed32 => {
                let end = self.pos.saturating_add(4);
                if end > self.buf.len() {
                    return Err(self.err("truncated fixed32"));
                }
                self.pos = end;
                Ok(())
            }
        }
    }

    /// Reads a repeated scalar field whose elements have wire type
    /// `scalar`: one element when `w` is `scalar`, every element of the
    /// packed run when `w` is `Len`, each handed to `each` with the reader
    /// positioned on it. `Ok(false)`, reading nothing, for any other `w`.
    #[inline]
    pub fn repeated<E: From<WireError>>(
        &mut self,
        w: WireType,
        scalar: WireType,
        mut each: impl FnMut(&mut Reader<'a>) -> Result<(), E>,
    ) -> Result<bool, E> {
        if w == WireType::Len {
            let mut packed = self.message()?;
            while !packed.is_empty() {
                each(&mut packed)?;
            }
        } else if w == scalar {
            each(self)?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// Fails unless the field has the expected wire type.
    #[inline]
    pub fn expect(&self, got: WireType, want: WireType) -> Result<(), WireError> {
        if got == want {
            Ok(())
        } else {
            Err(self.err("field has the wrong wire type"))
        }
    }
}

/// Appends protobuf fields to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    /// The encoded bytes.
    pub buf: Vec<u8>,
}

impl Writer {
    /// Appends a varint.
    pub fn varint(&mut self, v: u64) {
        put_uvarint(&mut self.buf, v);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// A varint field.
    pub fn uint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.varint(v);
    }

    /// A fixed64 (double) field.
    pub fn double(&mut self, field: u32, v: f64) {
        self.key(field, 1);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// A length-delimited field.
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// An embedded message built by `f`.
    pub fn message(&mut self, field: u32, f: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        f(&mut inner);
        self.bytes(field, &inner.buf);
    }
}
