//! The log's state: what appenders, `sync` callers and the interval
//! ticker share, and the writer behind its mutex. Behaviour lives beside
//! it: the writer's in writer.rs, durability rounds in sync.rs, healing in
//! heal.rs.

use crate::commit::Commit;
use crate::fs::{Fs, WalFile};
use crate::histogram::Histogram;
use crate::options::Options;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Everything the log's threads share.
pub(crate) struct Shared {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) commit: Commit,
    pub(crate) counters: Counters,
    /// How long each fsync of a segment took.
    pub(crate) fsync_latency: Histogram,
    /// Why appends are refused, while they are; read by [`crate::Wal::fault`]
    /// without waiting for the writer.
    pub(crate) fault: Arc<Mutex<Option<String>>>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) fsync_nanos: AtomicU64,
}

/// State of the segment being appended to. Guarded by one mutex that is
/// never held across an fsync.
pub(crate) struct Writer {
    pub(crate) file: Arc<dyn WalFile>,
    pub(crate) segment: u32,
    /// Logical length: bytes written plus bytes buffered.
    pub(crate) segment_len: u64,
    pub(crate) next_lsn: u64,
    /// First LSN of every segment on disk.
    pub(crate) firsts: BTreeMap<u32, u64>,
    /// Where the last record acknowledged to a caller ends: what healing
    /// after a failure cuts the log back to.
    pub(crate) acked: Acked,
    pub(crate) fault: Arc<Mutex<Option<String>>>,
    /// `fault` holds a reason: cleared by the next successful write.
    pub(crate) faulted: bool,
    /// Under group commit, frames wait here for the round's leader, who
    /// writes them in one call before its fsync: nobody is acknowledged
    /// before that fsync anyway, and it saves a syscall per append.
    pub(crate) buffered: bool,
    pub(crate) buf: Vec<u8>,
    pub(crate) poisoned: Option<String>,
}

/// The end of an acknowledged record: its segment, the byte after it, and
/// the LSN the next record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acked {
    pub(crate) segment: u32,
    pub(crate) offset: u64,
    pub(crate) lsn: u64,
}
