//! Prometheus remote write: the snappy block envelope and the protobuf
//! payloads.

mod bounds;
pub mod histogram;
mod labels;
pub mod v1;
pub mod v2;

pub use bounds::{Allowance, Bounds, DecodeError};

/// Why a body could not be decompressed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnappyError {
    /// The body announces more bytes than we accept.
    #[error("snappy body decompresses to {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Announced decompressed length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a snappy block (remote write forbids the framed format).
    #[error("body is not snappy block-compressed: {0}")]
    Invalid(String),
}

/// The length a snappy block announces it decompresses to, so it can be
/// reserved before [`decompress_into`] allocates it.
pub fn decompressed_len(body: &[u8]) -> Result<usize, SnappyError> {
    snap::raw::decompress_len(body).map_err(|e| SnappyError::Invalid(e.to_string()))
}

/// Decompresses a snappy block, refusing to allocate more than `max` bytes.
pub fn decompress(body: &[u8], max: usize) -> Result<Vec<u8>, SnappyError> {
    let mut out = Vec::new();
    decompress_into(body, max, &mut out)?;
    Ok(out)
}

/// Like [`decompress`], into a buffer the caller reuses: a fresh buffer per
/// request made the kernel zero new pages for every request.
pub fn decompress_into(body: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), SnappyError> {
    let len = decompressed_len(body)?;
    if len > max {
        return Err(SnappyError::TooLarge { len, max });
    }
    // Room for `len` bytes, zeroed only where it grows: the decoder
    // writes each byte it reports, and the rest is cut.
    out.resize(len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(|e| SnappyError::Invalid(e.to_string()))?;
    out.truncate(n);
    Ok(())
}

/// Compresses a body for sending (load generator, tests).
pub fn compress(body: &[u8]) -> Vec<u8> {
    // The encoder only fails on inputs over 4 GiB, which we never build.
    snap::raw::Encoder::new()
        .compress_vec(body)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let body = b"remote write remote write remote write".repeat(10);
        let c = compress(&body);
        assert_eq!(decompress(&c, 1 << 20).unwrap(), body);
        assert!(matches!(
            decompress(&c, 10),
            Err(SnappyError::TooLarge { .. })
        ));
        assert!(matches!(
            decompress(b"\xff\xff\xff\xff\xff", 1 << 20),
            Err(SnappyError::Invalid(_))
        ));
    }
}
