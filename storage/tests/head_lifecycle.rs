//! Deletes and retention reach the head: a delete hides the head's
//! samples at once and survives a crash the moment it is acknowledged;
//! a persist writes no deleted or expired sample into a partition; and
//! the lot agrees with a naive model over random writes, deletes, rules,
//! persists, compactions and reopens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Model, TestClock, clocked_options, dump, eq, open_clocked, store_at};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{Labels, RetentionRule, Sample, Storage, WriteBatch};
use hourglass_wal::fs::FaultyFs;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z
const OOO: i64 = 10 * MIN;

fn lbl(inst: &str) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("instance", inst), ("job", "j")])
}

/// One sample a minute for series `s0..s{n}` over `[from, to)`, the clock
/// following the writes; returns the model of what was written.
fn write(st: &Storage, clock: &TestClock, n: usize, from: i64, to: i64, model: &mut Model) {
    let mut t = from;
    while t < to {
        clock.set(t);
        let mut b = WriteBatch::new();
        for i in 0..n {
            let l = lbl(&format!("s{i}"));
            let v = (t / MIN) as f64 + i as f64 / 8.0;
            b.push(l.clone(), vec![Sample::new(t, v)]);
            model
                .entry(l.to_string())
                .or_default()
                .push((t, v.to_bits()));
        }
        assert_eq!(st.append(&b).unwrap().appended, n as u64);
        t += MIN;
    }
}

/// The series the partitions on disk hold.
fn series_on_disk(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(dir.join("parts")).unwrap().flatten() {
        if !e.file_type().unwrap().is_dir() {
            continue;
        }
        let p = hourglass_storage::partition::Partition::open(e.path()).unwrap();
        out.extend(p.series().map(|(labels, _)| labels.to_string()));
    }
    out
}

#[test]
fn a_delete_hides_head_samples_at_once_and_the_persist_writes_none_of_them() {
    let (dir, clock, st) = store_at(T0);
    let mut model = Model::new();
    write(&st, &clock, 4, T0, T0 + 3 * H, &mut model);
    assert!(st.partitions().is_empty(), "all of it is in the head");
    // All of s1, and 30 minutes of s2 spanning the first two hours.
    st.delete_series(&[vec![eq("instance", "s1")]], i64::MIN, i64::MAX)
        .unwrap();
    let (a, b) = (T0 + 45 * MIN, T0 + 75 * MIN - 1);
    st.delete_series(&[vec![eq("instance", "s2")]], a, b)
        .unwrap();
    model.remove(&lbl("s1").to_string());
    model
        .get_mut(&lbl("s2").to_string())
        .unwrap()
        .retain(|x| x.0 < a || x.0 > b);
    assert_eq!(dump(&st), model, "hidden at once, from the head");

    let p = st.persist().unwrap();
    assert_eq!(p.partitions.len(), 2, "{p:?}");
    let disk = series_on_disk(dir.path());
    assert!(!disk.contains(&lbl("s1").to_string()), "{disk:?}");
    let persisted: u64 = st.partitions().iter().map(|p| p.meta().samples).sum();
    let want: usize = model
        .values()
        .map(|v| v.iter().filter(|x| x.0 < T0 + 2 * H).count())
        .sum();
    assert_eq!(
        persisted, want as u64,
        "no deleted sample reached a partition"
    );
    assert_eq!(dump(&st), model);
    st.close().unwrap();
    let st = open_clocked(dir.path(), &clock);
    assert_eq!(dump(&st), model, "after a restart");
}

#[test]
fn a_retention_rule_hides_old_head_samples_and_the_persist_never_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(T0);
    let rules = vec![RetentionRule {
        selector: "{instance=\"s0\"}".into(),
        matchers: vec![eq("instance", "s0")],
        keep_ms: H,
    }];
    let st = Storage::open(dir.path(), clocked_options(&clock, rules, None)).unwrap();
    let mut model = Model::new();
    write(&st, &clock, 2, T0, T0 + 150 * MIN, &mut model);
    let now = T0 + 149 * MIN;
    model
        .get_mut(&lbl("s0").to_string())
        .unwrap()
        .retain(|x| x.0 >= now - H);
    assert_eq!(dump(&st), model, "older than an hour: hidden at once");
    let p = st.persist().unwrap();
    // Hours 0 and 1 are sealed: all of s1's 120 minutes, and of s0 only
    // the 31 minutes from 89 on (an hour before the clock's 149).
    assert_eq!(p.partitions.len(), 2, "{p:?}");
    let persisted: u64 = st.partitions().iter().map(|p| p.meta().samples).sum();
    assert_eq!(persisted, 120 + 31);
    assert_eq!(dump(&st), model);
}

#[test]
fn a_whole_hour_deleted_in_the_head_writes_no_partition() {
    let (_dir, clock, st) = store_at(T0);
    let mut model = Model::new();
    write(&st, &clock, 2, T0, T0 + 2 * H, &mut model);
    st.delete_series(&[vec![eq("job", "j")]], T0, T0 + H - 1)
        .unwrap();
    let p = st.persist().unwrap();
    assert!(p.partitions.is_empty(), "{p:?}");
    assert!(st.partitions().is_empty());
    assert_eq!(dump(&st).values().map(Vec::len).sum::<usize>(), 2 * 60);
}

#[test]
fn a_delete_acknowledged_survives_a_crash_at_every_step() {
    let data = PathBuf::from("/data");
    let build = |fs: &FaultyFs, clock: &TestClock| -> Model {
        let st = Storage::open_with_fs(
            Arc::new(fs.clone()),
            &data,
            clocked_options(clock, vec![], None),
        )
        .unwrap();
        let mut model = Model::new();
        write(&st, clock, 3, T0, T0 + 90 * MIN, &mut model);
        st.persist().unwrap();
        st.flush().unwrap();
        model
    };
    let mut deleted = build(&FaultyFs::new(), &TestClock::at(T0));
    deleted.remove(&lbl("s1").to_string());
    for k in 0.. {
        let fs = FaultyFs::new();
        let clock = TestClock::at(T0);
        let model = build(&fs, &clock);
        let st = Storage::open_with_fs(
            Arc::new(fs.clone()),
            &data,
            clocked_options(&clock, vec![], None),
        )
        .unwrap();
        fs.crash_after_ops(k);
        let acked = st
            .delete_series(&[vec![eq("instance", "s1")]], i64::MIN, i64::MAX)
            .is_ok();
        let crashed = fs.is_crashed();
        drop(st);
        if !crashed {
            // The whole delete ran: power fails right after its answer.
            fs.cancel_crash();
            assert!(acked);
            assert!(k > 2, "a delete takes more steps than {k}");
            fs.crash();
        }
        fs.restart();
        let st = Storage::open_with_fs(
            Arc::new(fs.clone()),
            &data,
            clocked_options(&clock, vec![], None),
        )
        .unwrap();
        let got = dump(&st);
        if acked {
            assert_eq!(
                got, deleted,
                "crash after op {k}: an acknowledged delete was lost"
            );
        } else {
            assert!(
                got == model || got == deleted,
                "crash after op {k}: neither before nor after the delete"
            );
        }
        if !crashed {
            return;
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// One sample a minute for series `0..n` over the next `m` minutes.
    Write(usize, i64),
    /// The clock jumps ahead this many minutes without writes (which
    /// expires nothing: retention counts from the newest sample).
    Idle(i64),
    Persist,
    /// Delete series `i` over `[now - back, now - back + len]` minutes.
    Delete(usize, i64, i64),
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1usize..5, 1i64..50).prop_map(|(n, m)| Op::Write(n, m)),
        1 => (10i64..120).prop_map(Op::Idle),
        2 => Just(Op::Persist),
        2 => (0usize..5, 0i64..300, 0i64..200).prop_map(|(i, b, l)| Op::Delete(i, b, l)),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

/// The first rule selects s0 (kept 90 min); s1 and up are kept for ever.
fn rules() -> Vec<RetentionRule> {
    vec![RetentionRule {
        selector: "{instance=\"s0\"}".into(),
        matchers: vec![eq("instance", "s0")],
        keep_ms: 90 * MIN,
    }]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any interleaving of writes, deletes, persists, compactions and
    /// reopens under a retention rule answers as a naive map of samples
    /// minus deletions minus what the rule expired, and each persist
    /// writes exactly the visible samples of the hours it seals.
    #[test]
    fn deletes_and_retention_on_head_and_partitions_agree_with_a_naive_model(
        ops in prop::collection::vec(op(), 1..30)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at(T0);
        let open = || Storage::open(dir.path(), clocked_options(&clock, rules(), None)).unwrap();
        let mut st = open();
        let mut model = Model::new();
        let mut now = T0;
        let mut newest: Option<i64> = None;
        let mut sealed = i64::MIN;
        // The rule counts back from the newest sample written (the
        // store's "now"), never from the clock: idling expires nothing.
        let expire = |m: &mut Model, newest: Option<i64>| {
            if let (Some(v), Some(n)) = (m.get_mut(&lbl("s0").to_string()), newest) {
                v.retain(|x| x.0 >= n - 90 * MIN);
            }
        };
        for op in ops {
            match op {
                Op::Write(n, m) => {
                    write(&st, &clock, n, now + MIN, now + (m + 1) * MIN, &mut model);
                    now += m * MIN;
                    newest = Some(now);
                }
                Op::Idle(m) => {
                    now += m * MIN;
                    clock.set(now);
                }
                Op::Persist => {
                    let before: u64 = st.partitions().iter().map(|p| p.meta().samples).sum();
                    st.persist().unwrap();
                    let after: u64 = st.partitions().iter().map(|p| p.meta().samples).sum();
                    let end = newest.map_or(i64::MIN, |t| {
                        let e = t - OOO;
                        e - e.rem_euclid(H)
                    });
                    if end > sealed {
                        expire(&mut model, newest);
                        let want: usize = model
                            .values()
                            .map(|v| v.iter().filter(|x| x.0 >= sealed && x.0 < end).count())
                            .sum();
                        prop_assert_eq!(after - before, want as u64, "persist up to {}", end);
                        sealed = end;
                    }
                }
                Op::Delete(i, back, len) => {
                    // Into the past only: later writes are newer than
                    // every range deleted.
                    let a = now - back * MIN;
                    let b = (a + len * MIN).min(now);
                    st.delete_series(&[vec![eq("instance", &format!("s{i}"))]], a, b).unwrap();
                    if let Some(v) = model.get_mut(&lbl(&format!("s{i}")).to_string()) {
                        v.retain(|x| x.0 < a || x.0 > b);
                    }
                }
                Op::Compact => {
                    st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
                }
                Op::Reopen => {
                    st.close().unwrap();
                    st = open();
                }
            }
        }
        expire(&mut model, newest);
        model.retain(|_, v| !v.is_empty());
        prop_assert_eq!(&dump(&st), &model);
        st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
        prop_assert_eq!(&dump(&st), &model);
        st.close().unwrap();
        let st = open();
        prop_assert_eq!(&dump(&st), &model);
    }
}
