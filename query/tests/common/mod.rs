//! Helpers of the query crate's integration tests.
#![allow(dead_code)]

use hourglass_storage::{Options, Storage, WriteBatch};

/// An empty store of its own in a temporary directory, its WAL never
/// synced (tests only).
pub fn empty_store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = Options::default();
    opts.wal.sync = hourglass_wal::SyncPolicy::Never;
    let storage = Storage::open(dir.path(), opts).expect("open storage");
    (dir, storage)
}

/// [`empty_store`] holding `batch`.
pub fn store(batch: &WriteBatch) -> (tempfile::TempDir, Storage) {
    let (dir, storage) = empty_store();
    storage.append(batch).expect("append");
    (dir, storage)
}
