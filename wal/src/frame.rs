//! Record framing: how one record (or one fragment of it) sits in a segment.
//!
//! ```text
//! offset  size  field
//! 0       4     payload length, u32 little-endian
//! 4       1     fragment type: 1 full, 2 first, 3 middle, 4 last
//! 5       4     CRC32 (IEEE) of the payload
//! 9       4     CRC32 (IEEE) of bytes 0..9 (the header check)
//! 13      len   payload
//! ```
//!
//! The header has its own checksum so that a damaged length is never
//! trusted: without it, a flipped bit in a length near the end of the log
//! would look like a torn tail and acknowledged records would be cut.

use crc32fast::Hasher;

/// Bytes before each payload.
pub(crate) const FRAME_HEADER_LEN: usize = 13;

/// Which part of a record a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragmentType {
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

impl FragmentType {
    fn from_byte(b: u8) -> Option<FragmentType> {
        match b {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }
}

/// What the bytes at some offset hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A whole, verified frame of `total` bytes.
    Frame {
        kind: FragmentType,
        payload: &'a [u8],
        total: usize,
    },
    /// Fewer bytes than the frame needs: what a write cut short leaves.
    Incomplete,
    /// Nothing but zero bytes: what a file system that extended the file
    /// before a crash leaves.
    Zeros,
    /// Bytes that no write of ours produced.
    Corrupt(&'static str),
}

/// Appends one frame to `buf`.
pub(crate) fn encode(buf: &mut Vec<u8>, kind: FragmentType, payload: &[u8]) {
    let start = buf.len();
    // Callers bound payloads by the segment size, which fits in u32.
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.push(kind as u8);
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_crc = crc32fast::hash(&buf[start..start + 9]);
    buf.extend_from_slice(&header_crc.to_le_bytes());
    buf.extend_from_slice(payload);
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// Decodes the frame at the start of `buf` (which is non-empty).
pub(crate) fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < FRAME_HEADER_LEN {
        return if buf.iter().all(|&b| b == 0) {
            Decoded::Zeros
        } else {
            Decoded::Incomplete
        };
    }
    let mut h = Hasher::new();
    h.update(&buf[..9]);
    if h.finalize() != u32_at(buf, 9) {
        return if buf.iter().all(|&b| b == 0) {
            Decoded::Zeros
        } else {
            Decoded::Corrupt("frame header checksum mismatch")
        };
    }
    let Some(kind) = FragmentType::from_byte(buf[4]) else {
        return Decoded::Corrupt("unknown fragment type");
    };
    let len = u32_at(buf, 0) as usize;
    let Some(payload) = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return Decoded::Incomplete;
    };
    if crc32fast::hash(payload) != u32_at(buf, 5) {
        return Decoded::Corrupt("payload checksum mismatch");
    }
    Decoded::Frame {
        kind,
        payload,
        total: FRAME_HEADER_LEN + len,
    }
}

/// The first offset at or after `from` where a whole, verified frame
/// starts: where reading picks up again after damage. A random match needs
/// both checksums to agree by chance (about 1 in 2^64).
pub(crate) fn resync(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len().saturating_sub(FRAME_HEADER_LEN - 1))
        .find(|&at| matches!(decode(&buf[at..]), Decoded::Frame { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_truncation() {
        let mut buf = Vec::new();
        encode(&mut buf, FragmentType::First, b"hello");
        assert_eq!(
            decode(&buf),
            Decoded::Frame {
                kind: FragmentType::First,
                payload: b"hello",
                total: 18
            }
        );
        for cut in 1..buf.len() {
            assert_eq!(decode(&buf[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let mut clean = Vec::new();
        encode(&mut clean, FragmentType::Full, b"some payload bytes");
        for byte in 0..clean.len() {
            for bit in 0..8 {
                let mut b = clean.clone();
                b[byte] ^= 1 << bit;
                assert!(
                    !matches!(decode(&b), Decoded::Frame { .. }),
                    "flip at {byte}.{bit} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn resync_finds_the_next_whole_frame_after_damage() {
        let mut buf = Vec::new();
        encode(&mut buf, FragmentType::Full, b"first record");
        let second = buf.len();
        encode(&mut buf, FragmentType::Full, b"second record");
        for byte in 0..second {
            let mut b = buf.clone();
            b[byte] ^= 0x40;
            assert_eq!(resync(&b, 1), Some(second), "flip at {byte}");
        }
        assert_eq!(resync(&buf[..second + 5], 1), None);
    }

    #[test]
    fn zero_fill_is_recognised() {
        assert_eq!(decode(&[0u8; 40]), Decoded::Zeros);
        assert_eq!(decode(&[0u8; 5]), Decoded::Zeros);
    }
}
