//! Deletions and retention rules applied by compaction, against a naive
//! model: hidden from queries at once, gone from disk (bytes and label
//! values) after the next compaction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Model, TestClock, clocked_options, dump, eq, open_clocked, store_at};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{Labels, Querier, RetentionRule, Sample, Storage, WriteBatch};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z

fn lbl(job: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("instance", inst), ("job", job)])
}

fn parts_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir.join("parts")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            for f in std::fs::read_dir(e.path()).unwrap() {
                total += f.unwrap().metadata().unwrap().len();
            }
        }
    }
    total
}

/// `hours` hours of 15 s samples for `n` series per job, jobs `debug` and
/// `prod`, written live (`clock` reads each step's time), persisted (all
/// but the last hour).
fn fill(st: &Storage, clock: &TestClock, n: usize, hours: i64) {
    for step in 0..(hours * H / 15_000) {
        let t = T0 + step * 15_000;
        clock.set(t);
        let mut b = WriteBatch::new();
        for job in ["debug", "prod"] {
            for i in 0..n {
                // Values that move like a busy gauge, so series cost bytes.
                let v = ((step * 7_919 + i as i64 * 104_729) % 1_000) as f64 * 0.37;
                b.push(lbl(job, &format!("h{i}")), vec![Sample::new(t, v)]);
            }
        }
        st.append(&b).unwrap();
    }
    st.persist().unwrap();
}

fn label_values(st: &Storage, name: &str) -> Vec<String> {
    st.querier(i64::MIN, i64::MAX)
        .label_values(name, &[])
        .unwrap()
}

#[test]
fn deleted_series_are_hidden_at_once_and_leave_the_disk_at_compaction() {
    let (dir, clock, st) = store_at(T0);
    fill(&st, &clock, 10, 4);
    let before = dump(&st);
    let bytes_before = parts_bytes(dir.path());
    // All of h3 (both jobs) and one hour of prod/h4.
    let n = st
        .delete_series(
            &[
                vec![eq("instance", "h3")],
                vec![eq("job", "prod"), eq("instance", "h4")],
            ],
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
    assert_eq!(n, 3);
    let n = st
        .delete_series(&[vec![eq("instance", "nothing")]], 0, 1)
        .unwrap();
    assert_eq!(n, 0, "a selector matching nothing deletes nothing");
    let mut want = before.clone();
    want.retain(|k, _| {
        !k.contains("instance=\"h3\"") && !k.contains("instance=\"h4\", job=\"prod\"")
    });
    assert_eq!(dump(&st), want, "hidden at once, head and partitions");
    // Survives a restart.
    st.close().unwrap();
    let st = open_clocked(dir.path(), &clock);
    assert_eq!(dump(&st), want);
    assert!(
        label_values(&st, "instance").contains(&"h3".to_string()),
        "still in the index"
    );
    let stats = st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert!(stats.groups >= 3, "{stats:?}");
    assert_eq!(dump(&st), want);
    let bytes_after = parts_bytes(dir.path());
    println!("delete 3 of 20 series: partition bytes {bytes_before} -> {bytes_after}");
    assert!(
        bytes_after < bytes_before * 90 / 100,
        "{bytes_before} -> {bytes_after}"
    );
    // The head still holds h3's last hour: the tombstone stays for it.
    assert!(!st.tombstones().is_empty());
    // Once the head's hours are persisted and compacted, h3 is gone from
    // every index and the tombstone retires.
    clock.set(T0 + 6 * H);
    let mut b = WriteBatch::new();
    b.push(lbl("prod", "h0"), vec![Sample::new(T0 + 6 * H, 1.0)]);
    st.append(&b).unwrap();
    st.persist().unwrap();
    st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert!(!label_values(&st, "instance").contains(&"h3".to_string()));
    assert!(st.tombstones().is_empty(), "{:?}", st.tombstones());
    st.close().unwrap();
    assert!(
        !dir.path().join("tombstones").exists() || {
            let st = open_clocked(dir.path(), &clock);
            st.tombstones().is_empty()
        }
    );
}

#[test]
fn delete_on_an_empty_store_is_harmless() {
    let (_dir, _clock, st) = store_at(T0);
    assert_eq!(st.delete_series(&[vec![eq("job", "x")]], 0, 10).unwrap(), 0);
    let stats = st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(stats.groups, 0);
    assert!(dump(&st).is_empty());
    assert!(
        st.tombstones().is_empty(),
        "a tombstone covering nothing retires"
    );
}

#[test]
fn a_damaged_tombstones_file_is_set_aside_not_fatal() {
    let (dir, clock, st) = store_at(T0);
    fill(&st, &clock, 2, 2);
    st.delete_series(&[vec![eq("job", "debug")]], i64::MIN, i64::MAX)
        .unwrap();
    st.close().unwrap();
    let p = dir.path().join("tombstones");
    let mut b = std::fs::read(&p).unwrap();
    b[10] ^= 0xff;
    std::fs::write(&p, b).unwrap();
    let st = open_clocked(dir.path(), &clock);
    assert!(st.tombstones().is_empty());
    assert!(dir.path().join("tombstones.corrupt").exists());
}

#[test]
fn retention_rules_rewrite_partitions_first_match_wins_and_fallback_covers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(T0);
    let rules = vec![
        RetentionRule {
            selector: r#"{job="debug"}"#.into(),
            matchers: vec![eq("job", "debug")],
            keep_ms: 2 * H,
        },
        RetentionRule {
            selector: r#"{job="debug",instance="h0"}"#.into(),
            matchers: vec![eq("job", "debug"), eq("instance", "h0")],
            keep_ms: 100 * H,
        },
    ];
    // Eight hours stored while nothing limited them.
    let st = open_clocked(dir.path(), &clock);
    fill(&st, &clock, 5, 8);
    let before = dump(&st);
    let bytes_before = parts_bytes(dir.path());
    st.close().unwrap();
    let newest = T0 + 8 * H - 15_000;
    let want = |k: &str, v: &[(i64, u64)]| -> Vec<(i64, u64)> {
        let keep = if k.contains("job=\"debug\"") {
            2 * H
        } else {
            3 * H
        };
        v.iter().copied().filter(|x| x.0 >= newest - keep).collect()
    };
    // Then the rules and a fallback of 3 h: prod is kept 3 h, debug 2 h
    // (the first rule shadows the second). Queries hide what a rule
    // expired at once; the fallback acts on whole partitions.
    let st = Storage::open(dir.path(), clocked_options(&clock, rules, Some(3 * H))).unwrap();
    let hidden = dump(&st);
    for (k, v) in before.iter().filter(|(k, _)| k.contains("debug")) {
        assert_eq!(hidden.get(k), Some(&want(k, v)), "{k}");
    }
    st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    st.persist().unwrap();
    let got = dump(&st);
    for (k, v) in &before {
        assert_eq!(got.get(k), Some(&want(k, v)), "{k}");
    }
    let bytes_after = parts_bytes(dir.path());
    println!("retention rules: partition bytes {bytes_before} -> {bytes_after}");
    assert!(
        bytes_after < bytes_before / 2,
        "{bytes_before} -> {bytes_after}"
    );
    // Idempotent: nothing left to rewrite.
    assert_eq!(
        st.compact(&CompactOptions::default(), &mut |_| {})
            .unwrap()
            .groups,
        0
    );
}

#[derive(Debug, Clone)]
enum Op {
    /// Append one sample per series at the next step, for series `0..n`.
    Write(usize),
    /// Jump ahead an hour (to get hours persisted).
    Skip,
    Persist,
    /// Delete series `i` over `[from, from + len)` steps.
    Delete(usize, i64, i64),
    Compact(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..6).prop_map(Op::Write),
        1 => Just(Op::Skip),
        2 => Just(Op::Persist),
        1 => (0usize..6, 0i64..400, 1i64..400).prop_map(|(i, a, b)| Op::Delete(i, a, b)),
        2 => any::<bool>().prop_map(Op::Compact),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any interleaving of writes, persists, deletes and compactions (hour
    /// and day merges) answers as a naive map of samples minus deletions.
    #[test]
    fn compaction_and_deletes_agree_with_a_naive_model(ops in prop::collection::vec(op(), 1..40)) {
        let (dir, clock, st) = store_at(T0);
        let mut model: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
        let mut step = 0i64;
        let step_ms = 60_000;
        for op in ops {
            match op {
                Op::Write(n) => {
                    step += 1;
                    let t = T0 + step * step_ms;
                    clock.set(t);
                    let mut b = WriteBatch::new();
                    for i in 0..n {
                        let l = lbl("p", &format!("s{i}"));
                        let v = (step * (i as i64 + 1)) as f64;
                        b.push(l.clone(), vec![Sample::new(t, v)]);
                        model.entry(l.to_string()).or_default().insert(t, v.to_bits());
                    }
                    st.append(&b).unwrap();
                }
                Op::Skip => step += 60,
                Op::Persist => { st.persist().unwrap(); }
                Op::Delete(i, from, len) => {
                    // Deletes reach into the past only: later writes are
                    // newer than every range deleted (as with Prometheus's
                    // default end, now).
                    let now = T0 + step * step_ms;
                    let (a, b) = ((T0 + from * step_ms).min(now), (T0 + (from + len) * step_ms - 1).min(now));
                    let l = lbl("p", &format!("s{i}"));
                    st.delete_series(&[vec![eq("instance", &format!("s{i}"))]], a, b).unwrap();
                    if let Some(m) = model.get_mut(&l.to_string()) {
                        m.retain(|t, _| *t < a || *t > b);
                    }
                }
                Op::Compact(days) => {
                    let o = CompactOptions { day_after_ms: days.then_some(H) };
                    st.compact(&o, &mut |_| {}).unwrap();
                }
            }
        }
        let want: Model = model
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect::<Vec<_>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        prop_assert_eq!(&dump(&st), &want);
        st.close().unwrap();
        let st = open_clocked(dir.path(), &clock);
        prop_assert_eq!(&dump(&st), &want);
    }
}
