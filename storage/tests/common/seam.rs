//! A store on the `Fs` fault-injection seam at `/data`, for the crash
//! tests of compaction: open it, write `job="node"` series, list its
//! partitions, count what it stores, check it against a model, and crash
//! a compaction at each of its file operations.

use super::{Model, dump, ooo_options};
use hourglass_storage::compact::{CompactOptions, CompactStats};
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

/// One scrape at `t` of `n` series `{instance="h<i>"}`: the even ones
/// `up` = 1, the odd ones `cpu` = `step * i * slope`.
pub fn scrape(t: i64, step: i64, n: i64, slope: f64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in 0..n {
        let v = if i % 2 == 0 {
            1.0
        } else {
            (step * i) as f64 * slope
        };
        b.push(
            lbl(["up", "cpu"][i as usize % 2], &format!("h{i}")),
            vec![Sample::new(t, v)],
        );
    }
    b
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

/// Crashes (`torn`: with unsynced bytes torn) at the 0th, 1st, 2nd … file
/// operation of a compaction with `opts` of what `build` wrote, on the
/// store as `reopen` opens it, until one runs through. After each crash
/// the store reopens whole and the next compaction still runs and keeps
/// everything; `merged` checks the store after each compaction that ran
/// through. Returns the steps and the statistics of the whole run.
pub fn crash_at_every_step(
    torn: bool,
    opts: &CompactOptions,
    build: impl Fn(&FaultyFs) -> Model,
    reopen: impl Fn(&FaultyFs) -> Storage,
    merged: impl Fn(&FaultyFs, &str),
) -> (u64, CompactStats) {
    for k in 0.. {
        let fs = FaultyFs::new();
        let model = build(&fs);
        let st = reopen(&fs);
        match torn {
            true => fs.crash_torn_after_ops(k, k + 1),
            false => fs.crash_after_ops(k),
        }
        let r = st.compact(opts, &mut |_| {});
        if !fs.is_crashed() {
            fs.cancel_crash();
            let stats = r.unwrap();
            st.close().unwrap();
            merged(&fs, "no crash");
            check(&fs, &model, "no crash");
            return (k, stats);
        }
        // Past the commit (the rename), a crash while removing the inputs
        // does not fail the run: the journal finishes it at open.
        drop((r, st));
        fs.restart();
        check(&fs, &model, &format!("crash at step {k}"));
        let st = reopen(&fs);
        st.compact(opts, &mut |_| {}).unwrap();
        st.close().unwrap();
        let again = format!("compacted again after crash at step {k}");
        merged(&fs, &again);
        check(&fs, &model, &again);
    }
    unreachable!()
}

/// A stop before a compaction with `opts` of what `build` wrote, on the
/// store as `reopen` opens it: the compaction writes and removes nothing,
/// and the next start's runs through; both keep everything. Returns the
/// seam and the statistics of that next compaction.
pub fn interrupted_then_compacted(
    opts: &CompactOptions,
    build: impl Fn(&FaultyFs) -> Model,
    reopen: impl Fn(&FaultyFs) -> Storage,
) -> (FaultyFs, CompactStats) {
    let fs = FaultyFs::new();
    let model = build(&fs);
    let before = names(&fs);
    let st = reopen(&fs);
    // The stop comes first: the merge gives up before its swap.
    st.interrupt_compaction();
    let cut = st.compact(opts, &mut |_| {}).unwrap();
    assert!(cut.interrupted && cut.partitions_out == 0, "{cut:?}");
    assert_eq!(names(&fs), before, "nothing written, nothing removed");
    assert_eq!(&dump(&st), &model);
    st.close().unwrap();
    check(&fs, &model, "after the interrupted merge");
    let st = reopen(&fs);
    let next = st.compact(opts, &mut |_| {}).unwrap();
    assert!(!next.interrupted, "{next:?}");
    assert_eq!(&dump(&st), &model);
    st.close().unwrap();
    check(&fs, &model, "after the next start's merge");
    (fs, next)
}
