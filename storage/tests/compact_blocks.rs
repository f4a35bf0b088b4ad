//! Block merges: the finished hours of a day not merged whole yet become
//! four-hour block partitions (re-merged with late hours, then merged into
//! the day), through the same journal and swap as every compaction. A
//! crash at any step loses and duplicates nothing; a merged block answers
//! exactly as the partitions it replaced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::seam::{
    append, check, crash_at_every_step, interrupted_then_compacted, lbl, names, open, scrape,
};
use common::{Model, dump, open_clocked, store_at};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{Sample, Storage, WriteBatch};
use hourglass_wal::fs::FaultyFs;
use proptest::prelude::*;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z

/// Day merges an hour after the day, so blocks in the meantime.
fn day_opts() -> CompactOptions {
    CompactOptions {
        day_after_ms: Some(H),
    }
}

/// Writes 6 series at 60 s over `[from, to)`.
fn write_span(st: &Storage, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let step = (t - T0) / 60_000;
        st.append(&scrape(t, step, 6, 0.5)).unwrap();
        t += 60_000;
    }
}

/// Nine and a half hours of the day: hours 0 to 8 persisted (hour 1 twice:
/// a lagging series lands after it was written), the rest in the head;
/// flushed and closed. Returns what was acknowledged.
fn build(fs: &FaultyFs) -> Model {
    let st = open(fs);
    write_span(&st, T0, T0 + 2 * H + 30 * 60_000);
    st.persist().unwrap();
    append(
        &st,
        "lag",
        "x",
        &[(T0 + H + 60_000, 1.0), (T0 + H + 120_000, 2.0)],
    );
    write_span(&st, T0 + 2 * H + 30 * 60_000, T0 + 9 * H + 30 * 60_000);
    st.persist().unwrap();
    st.flush().unwrap();
    let model = dump(&st);
    st.close().unwrap();
    model
}

/// Opens and persists (which finds nothing new, but learns which hours
/// left the head: blocks before that are complete).
fn open_persisted(fs: &FaultyFs) -> Storage {
    let st = open(fs);
    st.persist().unwrap();
    st
}

#[test]
fn the_finished_hours_of_the_current_day_merge_into_blocks_and_read_the_same() {
    let fs = FaultyFs::new();
    let model = build(&fs);
    let hours: Vec<String> = names(&fs);
    assert_eq!(hours.len(), 10, "9 hours, hour 1 twice: {hours:?}");
    let st = open_persisted(&fs);
    let s = st.compact(&day_opts(), &mut |_| {}).unwrap();
    assert_eq!(s.groups, 2, "{s:?}");
    assert_eq!(s.partitions_in, 9, "{s:?}");
    assert_eq!(dump(&st), model);
    assert_eq!(
        names(&fs),
        ["2025-11-22B00", "2025-11-22B04", "2025-11-22T08"],
        "the day is two blocks and the hour still waiting for its block"
    );
    let spans: Vec<i64> = st.partitions().iter().map(|p| p.meta().span_ms).collect();
    assert_eq!(spans, [4 * H, 4 * H, H]);
    // Nothing left to do until another block ends.
    assert_eq!(st.compact(&day_opts(), &mut |_| {}).unwrap().groups, 0);
    st.close().unwrap();
    check(&fs, &model, "after the block merges");
}

#[test]
fn without_day_merges_hours_stay_hours() {
    let fs = FaultyFs::new();
    build(&fs);
    let st = open_persisted(&fs);
    let s = st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((s.groups, s.partitions_in), (1, 2), "hour 1's two: {s:?}");
    assert!(st.partitions().iter().all(|p| p.meta().span_ms == H));
    st.close().unwrap();
}

#[test]
fn a_day_is_a_few_partitions_at_any_time_and_one_once_old() {
    let fs = FaultyFs::new();
    let st = open(&fs);
    let mut most = 0;
    // Hour by hour into the next day, persisting and compacting as `serve`.
    for h in 0..26 {
        write_span(&st, T0 + h * H, T0 + (h + 1) * H);
        st.persist().unwrap();
        st.compact(&day_opts(), &mut |_| {}).unwrap();
        let of_day = st
            .partitions()
            .iter()
            .filter(|p| p.meta().hour_start_ms < T0 + DAY)
            .count();
        most = most.max(of_day);
    }
    assert!(most <= 9, "at most 6 blocks and 3 waiting hours: {most}");
    let model = dump(&st);
    write_span(&st, T0 + 26 * H, T0 + 26 * H + 60_000);
    st.persist().unwrap();
    st.compact(&day_opts(), &mut |_| {}).unwrap();
    let day: Vec<_> = st
        .partitions()
        .into_iter()
        .filter(|p| p.meta().hour_start_ms < T0 + DAY)
        .collect();
    assert_eq!(day.len(), 1, "{:?}", names(&fs));
    assert_eq!(day[0].meta().span_ms, DAY);
    let mut now = dump(&st);
    for v in now.values_mut() {
        v.retain(|s| s.0 < T0 + 26 * H);
    }
    assert_eq!(now, model);
    st.close().unwrap();
}

#[test]
fn late_samples_for_a_merged_block_are_merged_into_it_again() {
    let fs = FaultyFs::new();
    build(&fs);
    let st = open_persisted(&fs);
    st.compact(&day_opts(), &mut |_| {}).unwrap();
    // Late samples land in hours 1 and 2, inside block 00–03, as further
    // partitions once the next hour is written; one shares a timestamp
    // with a sample of the block and differs: the block, read first,
    // keeps its value, before the re-merge and after.
    append(&st, "lag", "x", &[(T0 + H + 60_000, 9.0)]);
    append(
        &st,
        "lag",
        "y",
        &[(T0 + 2 * H, 5.0), (T0 + 2 * H + 60_000, 6.0)],
    );
    write_span(&st, T0 + 9 * H + 30 * 60_000, T0 + 10 * H + 30 * 60_000);
    st.persist().unwrap();
    let late: Vec<String> = names(&fs);
    for n in ["2025-11-22T01", "2025-11-22T02", "2025-11-22T09"] {
        assert!(late.contains(&n.to_string()), "{n}: {late:?}");
    }
    let before = dump(&st);
    let s = st.compact(&day_opts(), &mut |_| {}).unwrap();
    assert_eq!((s.groups, s.partitions_in), (1, 3), "{s:?}");
    assert_eq!(dump(&st), before);
    let lag = &before[&lbl("lag", "x").to_string()];
    assert_eq!(lag[0], (T0 + H + 60_000, 1.0f64.to_bits()), "{lag:?}");
    assert_eq!(
        names(&fs),
        [
            "2025-11-22B00-1",
            "2025-11-22B04",
            "2025-11-22T08",
            "2025-11-22T09"
        ]
    );
    st.close().unwrap();
    check(&fs, &before, "after re-merging the block");
}

/// Crashes at every step of the block merges; the next compaction after
/// a crash still merges the blocks. Returns the steps of a whole run.
fn crash_at_every_step_of_the_blocks(torn: bool) -> u64 {
    let merged = |fs: &FaultyFs, when: &str| {
        assert_eq!(
            names(fs),
            ["2025-11-22B00", "2025-11-22B04", "2025-11-22T08"],
            "merged: {when}"
        );
    };
    let (steps, whole) = crash_at_every_step(torn, &day_opts(), build, open_persisted, merged);
    assert_eq!(whole.groups, 2, "{whole:?}");
    steps
}

#[test]
fn crash_at_every_step_of_a_block_merge_loses_and_duplicates_nothing() {
    let steps = crash_at_every_step_of_the_blocks(false);
    assert!(steps > 20, "two swaps take more steps than that: {steps}");
}

#[test]
fn torn_unsynced_bytes_after_a_crash_during_a_block_merge_are_not_served() {
    crash_at_every_step_of_the_blocks(true);
}

#[test]
fn a_stop_interrupting_a_block_merge_writes_nothing_and_the_next_start_merges() {
    let (_, next) = interrupted_then_compacted(&day_opts(), build, open_persisted);
    assert_eq!(next.groups, 2, "{next:?}");
}

#[derive(Debug, Clone)]
enum Op {
    /// Moves time on by this many minutes, writing every live series.
    Live(i64),
    /// A sample of lagging series `i` at one of six times of the first
    /// hours, once the run is past it (refused, or landing in an hour
    /// written already, often on a timestamp stored before with another
    /// value).
    Late(usize, i64, u8),
    Persist,
    Compact,
    /// Stops and opens the store (the head forgets what it persisted:
    /// a lagging series may write a stored timestamp again).
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (5i64..90).prop_map(Op::Live),
        3 => (0usize..2, 0i64..6, 0u8..4).prop_map(|(i, at, v)| Op::Late(i, at, v)),
        2 => Just(Op::Persist),
        2 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any interleaving of live writes, late writes (duplicate timestamps
    /// with other values included), persists, restarts and compactions:
    /// each compaction (block, hour and day merges) leaves the answers
    /// exactly as they were, and so does a reopen without a persist.
    #[test]
    fn a_merged_block_answers_like_the_partitions_it_replaced(ops in prop::collection::vec(op(), 1..50)) {
        let (dir, clock, mut st) = store_at(T0);
        let mut minute = 0i64;
        for op in ops {
            match op {
                Op::Live(m) => {
                    for _ in 0..m {
                        minute += 1;
                        let t = T0 + minute * 60_000;
                        clock.set(t);
                        let mut b = WriteBatch::new();
                        for i in 0..3 {
                            b.push(lbl("live", &format!("s{i}")), vec![Sample::new(t, (minute * (i + 1)) as f64)]);
                        }
                        st.append(&b).unwrap();
                    }
                }
                Op::Late(i, at, v) => {
                    let t = T0 + (at * 50 + 7) * 60_000;
                    if t > T0 + minute * 60_000 {
                        continue;
                    }
                    let mut b = WriteBatch::new();
                    b.push(lbl("lag", &format!("l{i}")), vec![Sample::new(t, f64::from(v))]);
                    st.append(&b).unwrap();
                }
                Op::Persist => { st.persist().unwrap(); }
                Op::Compact => {
                    let before = dump(&st);
                    st.compact(&day_opts(), &mut |_| {}).unwrap();
                    prop_assert_eq!(&dump(&st), &before);
                }
                Op::Reopen => {
                    // The stop persists what it can: as any persist, it may
                    // change which of two conflicting samples is read, so
                    // only compactions are compared.
                    st.stop().unwrap();
                    st = open_clocked(dir.path(), &clock);
                }
            }
        }
        let last = dump(&st);
        st.close().unwrap();
        let st = open_clocked(dir.path(), &clock);
        prop_assert_eq!(&dump(&st), &last);
        // A persist may change which of two conflicting samples is read
        // (the head's before, the older partition's after): compared from
        // after it.
        st.persist().unwrap();
        let persisted = dump(&st);
        st.compact(&day_opts(), &mut |_| {}).unwrap();
        prop_assert_eq!(&dump(&st), &persisted);
    }
}
