//! Hourglass write-ahead log.
//!
//! This crate owns durability of opaque records: numbered segment files, each
//! record framed with its length, type and checksums; group commit so that
//! concurrent appenders share fsyncs; replay from a sequence number;
//! checkpoints and truncation; and recovery that cuts torn tails and sets
//! corrupt bytes aside instead of dropping them. It knows bytes, never
//! samples: what a record means belongs to the storage crate.
//!
//! All disk access goes through the [`fs::Fs`] seam; [`fs::FaultyFs`] is an
//! in-memory implementation that fails writes and fsyncs and simulates
//! crashes, for tests here and in the crates above.
//!
//! ```
//! use hourglass_wal::{Lsn, Options, SyncPolicy, Wal};
//! let dir = tempfile::tempdir().unwrap();
//! let opts = Options { sync: SyncPolicy::Group, ..Options::default() };
//! let wal = Wal::open(dir.path(), opts).unwrap();
//! let a = wal.append(b"first").unwrap();
//! let b = wal.append(b"second").unwrap();
//! assert_eq!((a, b), (Lsn(1), Lsn(2)));
//! let from_b: Vec<_> = wal.replay(b).unwrap().map(|r| r.unwrap().data).collect();
//! assert_eq!(from_b, vec![b"second".to_vec()]);
//! ```
//!
//! The byte layout is described in `FORMAT.md` beside this crate.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod checkpoint;
mod commit;
mod error;
mod frame;

pub mod fs;
mod heal;
pub mod histogram;
mod interval;
pub mod lock;
mod options;
mod reader;
mod record;
mod recovery;
mod reopen;
mod replay;
mod segment;
mod state;
mod sync;
mod verify;
mod wal;
mod writer;

pub use checkpoint::CheckpointRecords;
pub use error::{Error, Result};
pub use histogram::{Histogram, HistogramFamily};
pub use options::{Options, SyncPolicy};
pub use record::{Lsn, Record};
pub use recovery::{Corruption, Damage, RecoveryReport, TornTail};
pub use replay::Replay;
pub use verify::{Finding, FindingKind, WalCheck, verify};
pub use wal::{Wal, WalStats};

/// Entry points for fuzzing; not part of the supported API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::fs::{FaultyFs, Fs};
    use crate::{Lsn, Options, Wal};
    use std::path::Path;
    use std::sync::Arc;

    /// Treats `data` as the log's segment files (split where `cut` says)
    /// and opens, replays and appends to it. Must never panic.
    pub fn replay_bytes(data: &[u8]) {
        let fs = FaultyFs::new();
        let dir = Path::new("/wal");
        if fs.create_dir_all(dir).is_err() {
            return;
        }
        // The first byte chooses where the input splits into two segments.
        let (split, rest) = match data.split_first() {
            Some((&s, rest)) => (usize::from(s) * rest.len() / 256, rest),
            None => (0, data),
        };
        let (a, b) = rest.split_at(split.min(rest.len()));
        let _ = fs.write_file(&dir.join("00000000"), a);
        if !b.is_empty() {
            let _ = fs.write_file(&dir.join("00000001"), b);
        }
        let opts = Options {
            segment_size: 256,
            ..Options::default()
        };
        let Ok(wal) = Wal::open_with(Arc::new(fs.clone()), dir, opts.clone()) else {
            return;
        };
        let before: Vec<_> = wal.replay(Lsn(0)).map(|r| r.count()).into_iter().collect();
        let _ = wal.append(b"after recovery");
        drop(wal);
        if let Ok(wal) = Wal::open_with(Arc::new(fs), dir, opts) {
            let after = wal.replay(Lsn(0)).map(|r| r.count()).unwrap_or(0);
            // Recovery is idempotent: what survived the first open survives
            // the second, plus the record appended in between.
            assert!(before.first().is_none_or(|&n| after >= n));
        }
    }
}
