//! Small sealed files: a 4-byte magic, a version byte and three zero
//! bytes, a body of varints and length-prefixed strings, then the IEEE
//! CRC32 of everything before it, little-endian. The compaction journal
//! and the tombstones file are written this way; each names its own magic,
//! version and body (their FORMAT docs), and both read through [`Reader`],
//! so a torn or damaged file is refused with the same offsets and reasons.

use crate::encoding::{VarintError, put_uvarint, read_uvarint};

/// Why sealed bytes cannot be used: the byte offset and the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealedError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

const HEADER: usize = 8;
const TRAILER: usize = 4;

/// The header of a new sealed file; append the body, then [`seal`].
pub(crate) fn header(magic: &[u8; 4], version: u8, body_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body_hint + TRAILER);
    out.extend_from_slice(magic);
    out.extend_from_slice(&[version, 0, 0, 0]);
    out
}

/// Appends the checksum trailer.
pub(crate) fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Appends a length-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads the body of checked sealed bytes, front to back.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
}

fn err(offset: usize, reason: &'static str) -> SealedError {
    SealedError { offset, reason }
}

impl<'a> Reader<'a> {
    /// Checks length, magic, version and checksum, and reads from the
    /// first byte after the header.
    pub(crate) fn open(b: &'a [u8], magic: &[u8; 4], version: u8) -> Result<Self, SealedError> {
        let end = b
            .len()
            .checked_sub(TRAILER)
            .filter(|&n| n >= HEADER)
            .ok_or(err(0, "too short"))?;
        if &b[..4] != magic {
            return Err(err(0, "bad magic"));
        }
        if b[4] != version {
            return Err(err(4, "unknown version"));
        }
        let mut crc = [0u8; TRAILER];
        crc.copy_from_slice(&b[end..]);
        if u32::from_le_bytes(crc) != crc32fast::hash(&b[..end]) {
            return Err(err(end, "checksum mismatch"));
        }
        Ok(Reader {
            body: &b[..end],
            pos: HEADER,
        })
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// An error at the current offset.
    pub(crate) fn error(&self, reason: &'static str) -> SealedError {
        err(self.pos, reason)
    }

    /// The next byte.
    pub(crate) fn byte(&mut self) -> Result<u8, SealedError> {
        let b = *self.body.get(self.pos).ok_or(self.error("ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    /// The next varint.
    pub(crate) fn uvarint(&mut self) -> Result<u64, SealedError> {
        let at = self.pos;
        read_uvarint(self.body, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => err(at, "ends early"),
            VarintError::Overflow => err(at, "varint overflow"),
        })
    }

    /// The next varint as a count of at most `max` items.
    pub(crate) fn count(&mut self, max: usize, reason: &'static str) -> Result<usize, SealedError> {
        let at = self.pos;
        usize::try_from(self.uvarint()?)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(err(at, reason))
    }

    /// The next length-prefixed UTF-8 string.
    pub(crate) fn string(&mut self) -> Result<String, SealedError> {
        let at = self.pos;
        let len = usize::try_from(self.uvarint()?).map_err(|_| err(at, "string too long"))?;
        let s = self
            .body
            .get(self.pos..self.pos.saturating_add(len))
            .ok_or(err(at, "ends early"))?;
        self.pos += len;
        String::from_utf8(s.to_vec()).map_err(|_| err(at, "string is not UTF-8"))
    }

    /// Checks that the body has been read to its end.
    pub(crate) fn finish(self) -> Result<(), SealedError> {
        if self.pos != self.body.len() {
            return Err(self.error("trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = header(b"TEST", 3, 16);
        put_uvarint(&mut out, 2);
        put_str(&mut out, "héllo");
        out.push(7);
        seal(out)
    }

    #[test]
    fn sealed_bytes_read_back() {
        let b = sample();
        let mut r = Reader::open(&b, b"TEST", 3).unwrap();
        assert_eq!(r.count(2, "too many").unwrap(), 2);
        assert_eq!(r.string().unwrap(), "héllo");
        assert_eq!(r.byte().unwrap(), 7);
        assert_eq!(r.pos(), b.len() - TRAILER);
        r.finish().unwrap();
    }

    #[test]
    fn damage_is_refused_with_an_offset() {
        let b = sample();
        for cut in 0..b.len() {
            assert!(
                Reader::open(&b[..cut], b"TEST", 3).is_err(),
                "torn at {cut}"
            );
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x40;
            assert!(Reader::open(&d, b"TEST", 3).is_err(), "flipped byte {i}");
        }
        assert_eq!(
            Reader::open(&b, b"XXXX", 3).unwrap_err().reason,
            "bad magic"
        );
        assert_eq!(
            Reader::open(&b, b"TEST", 4).unwrap_err(),
            err(4, "unknown version")
        );
        let mut r = Reader::open(&b, b"TEST", 3).unwrap();
        assert_eq!(r.count(1, "too many").unwrap_err(), err(8, "too many"));
        let r = Reader::open(&b, b"TEST", 3).unwrap();
        assert_eq!(r.finish().unwrap_err(), err(8, "trailing bytes"));
    }
}
