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

/// A mapped file's first eight bytes, the CRC-32 of its first `len`
/// bytes and the four bytes after them, all read through `f` from its
/// start: no page of the mapping is touched, and the page cache's large
/// folios would map in up to 2 MiB around any byte read through the map
/// (1 MiB each for the header and the stored CRC of every partition).
pub(crate) fn check_file(
    f: &mut std::fs::File,
    len: usize,
) -> std::io::Result<([u8; 8], u32, [u8; 4])> {
    use std::io::Read;
    let mut h = crc32fast::Hasher::new();
    let mut head = [0u8; 8];
    let mut buf = vec![0u8; (1 << 18).min(len.max(1))];
    let mut left = len;
    let mut first = true;
    while left > 0 {
        let n = buf.len().min(left);
        f.read_exact(&mut buf[..n])?;
        if first {
            let k = n.min(8);
            head[..k].copy_from_slice(&buf[..k]);
            first = false;
        }
        h.update(&buf[..n]);
        left -= n;
    }
    let mut tail = [0u8; 4];
    f.read_exact(&mut tail)?;
    Ok((head, h.finalize(), tail))
}
