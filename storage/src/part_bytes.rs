//! A partition's chunks file in memory: mapped from the OS file system, or
//! read into a buffer (another `Fs`, as in crash tests).

use memmap2::Mmap;
use std::ops::Deref;

/// The bytes of a partition's chunks file.
#[derive(Debug)]
pub(crate) enum PartBytes {
    /// Mapped from the OS file system.
    Mapped(Mmap),
    /// Read into memory.
    Owned(Vec<u8>),
}

impl Deref for PartBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            PartBytes::Mapped(m) => m,
            PartBytes::Owned(v) => v,
        }
    }
}

/// CRC-32 of the first `len` bytes of `f`, read in blocks: a mapped file's
/// checksum taken without faulting its pages into the process.
pub(crate) fn crc_of_file(f: &mut std::fs::File, len: usize) -> std::io::Result<u32> {
    use std::io::Read;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; (1 << 18).min(len.max(1))];
    let mut left = len;
    while left > 0 {
        let n = buf.len().min(left);
        f.read_exact(&mut buf[..n])?;
        h.update(&buf[..n]);
        left -= n;
    }
    Ok(h.finalize())
}
