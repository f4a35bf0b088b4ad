//! Knobs of the WAL.

use std::time::Duration;

/// When an append's bytes are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Every append fsyncs before it returns.
    Always,
    /// Group commit: an append returns once its bytes are fsynced, and
    /// appenders that arrive while an fsync is running share the next one.
    #[default]
    Group,
    /// A background thread fsyncs at this interval; appends return at once.
    Interval(Duration),
    /// Never fsync (the OS writes back when it likes); appends return at once.
    /// Survives a killed process, not a power loss.
    Never,
}

/// How a [`crate::Wal`] is laid out and synced.
#[derive(Debug, Clone)]
pub struct Options {
    /// Segment files are cut at this size, header included.
    pub segment_size: u64,
    /// Durability of appends.
    pub sync: SyncPolicy,
    /// Larger records are refused with [`crate::Error::RecordTooLarge`];
    /// records larger than a segment are split across segments.
    pub max_record_size: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segment_size: 128 << 20,
            sync: SyncPolicy::Group,
            max_record_size: 256 << 20,
        }
    }
}

/// The smallest segment that still holds a header and a useful frame.
pub(crate) const MIN_SEGMENT_SIZE: u64 = 64;
