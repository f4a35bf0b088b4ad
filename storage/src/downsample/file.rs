//! A `downsampled` file whole, any version: encoding (version 5),
//! decoding every series at once (tests, tools), the byte accounting of
//! `hourglass inspect` and the benchmarks, and the fuzz body. A partition
//! opens the file lazily instead (`reader.rs`).

use super::blocks::{DsWriter, VERSION_5, empty_file};
use super::format::{
    FormatError, MAGIC, VERSION_1, decode_single, encode_bits, encode_single, seal,
};
use super::interval::DsSeries;
use super::reader::{decode_all, open_unverified};
use super::residuals::ColumnBits;
use crate::chunk;

/// Parses and checks `downsampled` bytes of any version, every series at
/// once, every checksum checked.
pub(super) fn decode(b: &[u8]) -> Result<Vec<DsSeries>, FormatError> {
    if b.get(..4) == Some(&MAGIC[..]) && b.get(4) == Some(&VERSION_5) {
        return decode_all(b);
    }
    decode_single(b)
}

/// Encodes the series (sorted by labels, each with intervals): version 5,
/// series in blocks (`blocks.rs`).
pub(super) fn encode(series: &[DsSeries]) -> Result<Vec<u8>, chunk::ChunkError> {
    let mut w = DsWriter::default();
    for s in series {
        w.push(s.clone());
    }
    Ok(w.finish().map_or_else(empty_file, |e| e.bytes))
}

/// A `downsampled` file of any version rewritten as version 4, which a
/// partition decodes whole at open (tests compare that path with
/// version 5's).
#[doc(hidden)]
pub fn rewrite_as_version_4(file: &[u8]) -> Result<Vec<u8>, FormatError> {
    Ok(encode_single(&decode(file)?))
}

/// Where the bytes of a `downsampled` file go if written now: the file's
/// bytes, the body's before zstd, the series headers' (labels, first
/// sample, first interval), and each column's bits.
#[doc(hidden)]
pub fn downsampled_bits(file: &[u8]) -> Option<(usize, usize, usize, ColumnBits)> {
    let series = decode(file).ok()?;
    let mut acct = ColumnBits::default();
    let (body, heads) = encode_bits(&series, &mut acct)?;
    Some((encode(&series).ok()?.len(), body.len(), heads, acct))
}

/// Fuzz body for `fuzz/fuzz_targets/downsampled_decode.rs`: decoding
/// never panics, and what decodes re-encodes to the same series; the
/// bytes after the first are also sealed (a good checksum) as a body of
/// the version the first byte names, so the body decoders see them.
#[doc(hidden)]
pub fn fuzz_downsampled(bytes: &[u8]) {
    round_trip(bytes);
    if let Some((&v, body)) = bytes.split_first() {
        match v % VERSION_5 {
            4 => fuzz_unverified(body),
            k => round_trip(&seal(VERSION_1 + k, body)),
        }
    }
}

fn round_trip(bytes: &[u8]) {
    if let Ok(s) = decode(bytes)
        && let Ok(b) = encode(&s)
    {
        assert_eq!(decode(&b).ok(), Some(s), "decoded series re-encode exactly");
    }
}

/// Fuzz body: `bytes` as a version 5 file with no checksum checked (so
/// the parsers see the bytes); what decodes re-encodes to the same series.
pub(super) fn fuzz_unverified(bytes: &[u8]) {
    let Ok(f) = open_unverified(bytes) else {
        return;
    };
    if let Ok(all) = f.all()
        && let Ok(again) = encode(&all)
    {
        assert_eq!(
            decode_all(&again).ok(),
            Some(all),
            "decoded series re-encode exactly"
        );
    }
}
