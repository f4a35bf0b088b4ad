//! Segment files: naming and the header that opens each one.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "HGWL"
//! 4       1     format version (1)
//! 5       3     reserved, zero
//! 8       8     first LSN: the sequence number of the first record that
//!               starts in this segment (u64 little-endian)
//! 16      4     segment number, as in the file name (u32 little-endian)
//! 20      4     CRC32 (IEEE) of bytes 0..20
//! ```
//!
//! Frames follow the header back to back (see `frame.rs`).

/// Size of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
const MAGIC: &[u8; 4] = b"HGWL";
/// The segment format this code writes and reads.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// Decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub first_lsn: u64,
    pub number: u32,
}

impl SegmentHeader {
    pub(crate) fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[..4].copy_from_slice(MAGIC);
        b[4] = FORMAT_VERSION;
        b[8..16].copy_from_slice(&self.first_lsn.to_le_bytes());
        b[16..20].copy_from_slice(&self.number.to_le_bytes());
        let crc = crc32fast::hash(&b[..20]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and verifies a header; the error says what is wrong.
    pub(crate) fn decode(b: &[u8]) -> Result<SegmentHeader, &'static str> {
        let b = b
            .get(..SEGMENT_HEADER_LEN)
            .ok_or("segment header truncated")?;
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[20..24]);
        if crc32fast::hash(&b[..20]) != u32::from_le_bytes(crc) {
            return Err("segment header checksum mismatch");
        }
        if &b[..4] != MAGIC {
            return Err("not a WAL segment (bad magic)");
        }
        if b[4] != FORMAT_VERSION {
            return Err("unsupported segment format version");
        }
        let mut lsn = [0u8; 8];
        lsn.copy_from_slice(&b[8..16]);
        let mut num = [0u8; 4];
        num.copy_from_slice(&b[16..20]);
        Ok(SegmentHeader {
            first_lsn: u64::from_le_bytes(lsn),
            number: u32::from_le_bytes(num),
        })
    }
}

/// File name of segment `n`.
pub(crate) fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

/// The segment number of a file name, if it names a segment.
pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    if name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = SegmentHeader {
            first_lsn: 42,
            number: 7,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        for i in 0..b.len() {
            let mut d = b;
            d[i] ^= 0x10;
            assert!(SegmentHeader::decode(&d).is_err(), "flip at {i}");
        }
        assert!(SegmentHeader::decode(&b[..10]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(42), "00000042");
        assert_eq!(parse_segment_name("00000042"), Some(42));
        assert_eq!(parse_segment_name("00000042.corrupt"), None);
        assert_eq!(parse_segment_name("checkpoint.00000001"), None);
    }
}
