//! A store on the `Fs` fault-injection seam at `/data`, for the crash
//! tests of compaction: open it, write `job="node"` series, list its
//! partitions, count what it stores, and check it against a model.

use super::{Model, dump, ooo_options};
use hourglass_storage::{Labels, Querier, Sample, Storage, WriteBatch};
use hourglass_wal::fs::{FaultyFs, Fs};
use std::path::Path;
use std::sync::Arc;

pub const DATA: &str = "/data";

/// Opens the store on `fs` with a ten-minute out-of-order window.
pub fn open(fs: &FaultyFs) -> Storage {
    Storage::open_with_fs(Arc::new(fs.clone()), DATA, ooo_options()).unwrap()
}

/// `name{instance=inst, job="node"}`.
pub fn lbl(name: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", inst), ("job", "node")])
}

/// Appends `samples` to one series and checks every one was taken.
pub fn append(st: &Storage, name: &str, inst: &str, samples: &[(i64, f64)]) {
    let mut b = WriteBatch::new();
    b.push(
        lbl(name, inst),
        samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    );
    assert_eq!(st.append(&b).unwrap().appended, samples.len() as u64);
}

/// Samples stored, counting duplicates: every partition's plus the head's.
pub fn stored(st: &Storage) -> u64 {
    let parts: u64 = st.partitions().iter().map(|p| p.meta().samples).sum();
    let head: u64 = st
        .head_querier(i64::MIN, i64::MAX)
        .select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| s.samples.count() as u64)
        .sum();
    parts + head
}

/// The partition directories, sorted.
pub fn names(fs: &FaultyFs) -> Vec<String> {
    let mut v: Vec<String> = fs
        .list_dir(&Path::new(DATA).join("parts"))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    v.sort();
    v
}

/// Reopens and checks the store against `model`: everything readable,
/// nothing twice (deleted samples may stay on disk, hidden, until a
/// compaction drops them).
pub fn check(fs: &FaultyFs, model: &Model, when: &str) {
    let st = open(fs);
    assert_eq!(&dump(&st), model, "{when}: {:?}", names(fs));
    let total: u64 = model.values().map(|v| v.len() as u64).sum();
    if st.tombstones().is_empty() {
        assert_eq!(
            stored(&st),
            total,
            "{when}: samples stored twice or lost; {:?}",
            names(fs)
        );
    } else {
        assert!(
            stored(&st) >= total,
            "{when}: samples lost; {:?}",
            names(fs)
        );
    }
    st.close().unwrap();
}
