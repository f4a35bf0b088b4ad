//! Log sequence numbers and replayed records.

use std::fmt;

/// Log sequence number: records are numbered 1, 2, 3, … in append order,
/// without gaps, for the life of the log (truncation does not renumber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub lsn: Lsn,
    /// Its bytes, exactly as appended.
    pub data: Vec<u8>,
}
