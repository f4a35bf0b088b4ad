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
