//! Start timestamps of float samples survive what their samples survive
//! (a crash after the WAL is synced, persisting, compaction, deletes) and
//! their companion series never show as series or labels of their own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::seam::{lbl, open};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{
    Labels, MatchOp, Matcher, Querier, START_TIME_LABEL, Sample, Storage, WriteBatch,
};
use hourglass_wal::fs::FaultyFs;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z

fn eq(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, n, v).unwrap()
}

/// A counter `c_total{instance="a"}` every 15 s over `hours` hours from
/// `T0`, restarted at each hour: its start timestamp is the hour's start
/// minus a second. A gauge beside it has none.
fn write(st: &Storage, hours: i64) -> Vec<Sample> {
    let owner = lbl("c_total", "a");
    let mut samples = Vec::new();
    let mut starts = Vec::new();
    for k in 1..(hours * H / 15_000) {
        let t = T0 + k * 15_000;
        samples.push(Sample::new(t, (k % 240) as f64));
        starts.push((t, t - t.rem_euclid(H) - 1_000));
    }
    let mut b = WriteBatch::new();
    b.push(owner.clone(), samples.clone());
    b.push(lbl("g", "a"), samples.clone());
    assert_eq!(st.append(&b).unwrap().appended, 2 * samples.len() as u64);
    let stats = st
        .append_start_times(&[(owner, starts.clone())], None)
        .unwrap();
    assert_eq!(stats.appended, starts.len() as u64);
    starts
        .into_iter()
        .map(|(t, s)| Sample::new(t, s as f64))
        .collect()
}

/// The start times the querier hands with `c_total`, and checks the
/// companion shows nowhere on its own.
fn read(st: &Storage) -> Vec<Sample> {
    let q = st.querier(i64::MIN, i64::MAX);
    let all: Vec<_> = q.select(&[], i64::MIN, i64::MAX).unwrap().collect();
    assert!(all.iter().all(|s| s.labels.get(START_TIME_LABEL).is_none()));
    let gauge = all
        .iter()
        .find(|s| s.labels.metric_name() == Some("g"))
        .unwrap();
    assert!(gauge.start_times.is_empty());
    assert!(
        !q.label_names(&[])
            .unwrap()
            .iter()
            .any(|n| n == START_TIME_LABEL)
    );
    assert!(q.label_values(START_TIME_LABEL, &[]).unwrap().is_empty());
    let names = q.label_values("__name__", &[]).unwrap();
    assert!(
        names.starts_with(&["c_total".to_string(), "g".to_string()]),
        "{names:?}"
    );
    // Selected by a matcher on the owner's own labels.
    let mut c: Vec<_> = q
        .select(&[eq("__name__", "c_total")], i64::MIN, i64::MAX)
        .unwrap()
        .collect();
    assert_eq!(c.len(), 1);
    std::mem::take(&mut c[0].start_times)
}

#[test]
fn start_times_survive_a_crash_after_the_wal_is_synced() {
    let fs = FaultyFs::new();
    let st = open(&fs);
    let want = write(&st, 1);
    assert_eq!(read(&st), want);
    st.flush().unwrap();
    drop(st);
    fs.crash();
    fs.restart();
    let st = open(&fs);
    assert_eq!(read(&st), want, "after WAL replay");
    st.close().unwrap();
}

#[test]
fn start_times_survive_persist_compaction_and_reopen() {
    let fs = FaultyFs::new();
    let st = open(&fs);
    let want = write(&st, 3);
    st.persist().unwrap();
    assert!(!st.partitions().is_empty());
    assert_eq!(read(&st), want, "from partitions");
    // A series new to the first hour, late: its hour gets a second
    // partition, which compaction merges with the first.
    let late = lbl("late_total", "b");
    let mut b = WriteBatch::new();
    b.push(late.clone(), vec![Sample::new(T0 + 7_500, 0.5)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    st.append_start_times(&[(late, vec![(T0 + 7_500, T0 - 1_000)])], None)
        .unwrap();
    // Two days on, every hour before is persisted.
    let mut b = WriteBatch::new();
    b.push(lbl("g", "a"), vec![Sample::new(T0 + 48 * H, 1.0)]);
    st.append(&b).unwrap();
    st.persist().unwrap();
    let merged = st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert!(merged.partitions_in >= 2, "{merged:?}");
    assert_eq!(read(&st), want, "after compaction");
    let q = st.querier(i64::MIN, i64::MAX);
    let l: Vec<_> = q
        .select(&[eq("__name__", "late_total")], i64::MIN, i64::MAX)
        .unwrap()
        .collect();
    assert_eq!(l.len(), 1);
    assert_eq!(
        l[0].start_times,
        vec![Sample::new(T0 + 7_500, (T0 - 1_000) as f64)]
    );
    drop(l);
    drop(q);
    st.close().unwrap();
    let st = open(&fs);
    assert_eq!(read(&st), want, "after reopening");
    st.close().unwrap();
}

#[test]
fn deleting_a_series_deletes_its_start_times() {
    let fs = FaultyFs::new();
    let st = open(&fs);
    let want = write(&st, 1);
    st.delete_series(&[vec![eq("__name__", "c_total")]], i64::MIN, T0 + H / 2)
        .unwrap();
    let left: Vec<Sample> = want.into_iter().filter(|s| s.t > T0 + H / 2).collect();
    assert_eq!(read(&st), left);
    st.delete_series(&[vec![eq("__name__", "c_total")]], i64::MIN, i64::MAX)
        .unwrap();
    let q = st.querier(i64::MIN, i64::MAX);
    let names: Vec<_> = q
        .select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| s.labels)
        .collect();
    assert_eq!(names, vec![lbl("g", "a")]);
    st.close().unwrap();
}

#[test]
fn writers_cannot_use_the_reserved_label_and_unusable_starts_are_not_kept() {
    let fs = FaultyFs::new();
    let st = open(&fs);
    let forged = Labels::from_pairs([("__name__", "c_total"), (START_TIME_LABEL, "1")]);
    let mut b = WriteBatch::new();
    b.push(forged, vec![Sample::new(T0, 1.0)]);
    let stats = st.append(&b).unwrap();
    assert_eq!(stats.appended, 0);
    assert_eq!(stats.rejected.invalid_series, 1);
    assert!(
        stats.invalid_series[0].reason.contains("reserved"),
        "{stats:?}"
    );
    // Unset, at the sample and after it: none stored.
    let owner = lbl("c_total", "a");
    let mut b = WriteBatch::new();
    b.push(
        owner.clone(),
        vec![Sample::new(T0, 1.0), Sample::new(T0 + 1, 2.0)],
    );
    st.append(&b).unwrap();
    let stats = st
        .append_start_times(&[(owner, vec![(T0, 0), (T0, T0), (T0 + 1, T0 + 5)])], None)
        .unwrap();
    assert_eq!(stats.appended, 0);
    let q = st.querier(i64::MIN, i64::MAX);
    let all: Vec<_> = q.select(&[], i64::MIN, i64::MAX).unwrap().collect();
    assert_eq!(all.len(), 1);
    assert!(all[0].start_times.is_empty());
    st.close().unwrap();
}
