//! Compaction through the `Fs` seam under crashes and failing disks: after
//! reopening, every acknowledged sample is readable, and none is stored
//! twice (the partitions and the head together hold each sample once).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::seam::{
    append, check, crash_at_every_step, interrupted_then_compacted, lbl, names, open, scrape,
};
use common::{Model, dump};
use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{MatchOp, Matcher, Sample};
use hourglass_wal::fs::FaultyFs;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z

/// Three hours of 8 series at 15 s (and one jittered), late data for the first hour (so it
/// has two partitions), then a jump two days ahead so the first day is
/// old; persisted, flushed and closed. Returns what was acknowledged.
fn build(fs: &FaultyFs) -> Model {
    let st = open(fs);
    for step in 0..(3 * H / 15_000) {
        let t = T0 + step * 15_000;
        let mut b = scrape(t, step, 8, 0.25);
        // Jittered scrapes of memory in whole pages: compaction writes
        // them in the grid encoding, so the day is a version 4 partition.
        b.push(
            lbl("mem", "j"),
            vec![Sample::new(
                t + step * 7 % 4,
                ((step * 31 % 17) * 4096) as f64,
            )],
        );
        st.append(&b).unwrap();
    }
    // A lagging series, in order for itself, lands after hour 0 is sealed.
    append(&st, "lag", "x", &[(T0 + 60_000, 1.0)]);
    st.persist().unwrap();
    append(&st, "lag", "x", &[(T0 + 120_000, 2.0), (T0 + 180_000, 3.0)]);
    append(&st, "up", "h0", &[(T0 + 2 * DAY, 1.0)]);
    st.persist().unwrap();
    st.flush().unwrap();
    let model = dump(&st);
    st.close().unwrap();
    model
}

/// Deletes `{instance="h2"}` and the first half hour of `{instance="h1"}`
/// (durably) and returns the model without them.
fn delete_some(fs: &FaultyFs, mut model: Model) -> Model {
    let st = open(fs);
    let eq = |n: &str, v: &str| Matcher::new(MatchOp::Equal, n, v).unwrap();
    st.delete_series(&[vec![eq("instance", "h2")]], i64::MIN, i64::MAX)
        .unwrap();
    st.delete_series(&[vec![eq("instance", "h1")]], T0, T0 + H / 2)
        .unwrap();
    st.close().unwrap();
    model.retain(|k, _| !k.contains("instance=\"h2\""));
    for (k, v) in model.iter_mut() {
        if k.contains("instance=\"h1\"") {
            v.retain(|x| x.0 > T0 + H / 2);
        }
    }
    model
}

fn day_opts() -> CompactOptions {
    CompactOptions {
        day_after_ms: Some(H),
    }
}

#[test]
fn compaction_merges_late_hours_and_old_days_and_reads_the_same() {
    let fs = FaultyFs::new();
    let model = build(&fs);
    assert!(
        names(&fs).contains(&"2025-11-22T00-1".to_string()),
        "{:?}",
        names(&fs)
    );
    let st = open(&fs);
    let hours = st.compact(&CompactOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(hours.groups, 1, "{hours:?}");
    assert_eq!(hours.partitions_in, 2);
    assert_eq!(dump(&st), model);
    let days = st.compact(&day_opts(), &mut |_| {}).unwrap();
    assert_eq!(days.partitions_out, 1, "{days:?}");
    assert_eq!(dump(&st), model);
    let parts = st.partitions();
    let day = parts.iter().find(|p| p.meta().span_ms == DAY).unwrap();
    assert_eq!(
        day.meta().version,
        6,
        "grid chunks in mixed radix make version 6"
    );
    assert!(day.meta().level >= 1);
    // Nothing left to do.
    assert_eq!(st.compact(&day_opts(), &mut |_| {}).unwrap().groups, 0);
    st.close().unwrap();
    assert!(
        names(&fs).contains(&"2025-11-22".to_string()),
        "{:?}",
        names(&fs)
    );
    check(&fs, &model, "after compaction");
}

/// Crashes at every step of a compaction with `opts` of what `build`
/// wrote, or of that with some series deleted; returns the steps.
fn crash_at_every_step_of(opts: &CompactOptions, torn: bool, delete: bool) -> u64 {
    let written = |fs: &FaultyFs| match delete {
        true => delete_some(fs, build(fs)),
        false => build(fs),
    };
    crash_at_every_step(torn, opts, written, open, |_, _| {}).0
}

#[test]
fn crash_at_every_step_of_an_hour_merge_loses_and_duplicates_nothing() {
    let steps = crash_at_every_step_of(&CompactOptions::default(), false, false);
    assert!(steps > 10, "the swap takes more steps than that: {steps}");
}

#[test]
fn crash_at_every_step_of_a_day_merge_loses_and_duplicates_nothing() {
    crash_at_every_step_of(&day_opts(), false, false);
}

#[test]
fn crash_at_every_step_of_a_compaction_applying_deletes_loses_and_duplicates_nothing() {
    crash_at_every_step_of(&day_opts(), false, true);
}

#[test]
fn torn_unsynced_bytes_after_a_crash_during_compaction_are_not_served() {
    crash_at_every_step_of(&day_opts(), true, false);
}

/// A fault during compaction fails it; the store keeps serving everything
/// at once and after a restart, and compacts once the fault is gone.
fn fault_then_recover(arm: impl Fn(&FaultyFs), disarm: impl Fn(&FaultyFs)) {
    let fs = FaultyFs::new();
    let model = build(&fs);
    let st = open(&fs);
    arm(&fs);
    assert!(st.compact(&day_opts(), &mut |_| {}).is_err());
    assert_eq!(dump(&st), model);
    disarm(&fs);
    drop(st);
    fs.crash();
    fs.restart();
    check(&fs, &model, "after the failed compaction");
    assert!(
        names(&fs)
            .iter()
            .all(|n| !n.starts_with(".tmp-") && n != "COMPACTION"),
        "{:?}",
        names(&fs)
    );
    let st = open(&fs);
    assert_eq!(st.compact(&day_opts(), &mut |_| {}).unwrap().groups, 1);
    st.close().unwrap();
    check(&fs, &model, "compacted once the fault was gone");
}

#[test]
fn a_failed_write_during_compaction_keeps_the_store_whole() {
    fault_then_recover(
        |fs| fs.set_fail_writes(true),
        |fs| fs.set_fail_writes(false),
    );
}

#[test]
fn a_disk_that_fills_during_compaction_keeps_the_store_whole() {
    fault_then_recover(|fs| fs.set_disk_full(true), |fs| fs.set_disk_full(false));
}

#[test]
fn a_failed_fsync_during_compaction_keeps_the_store_whole() {
    for n in 1..4 {
        let fs = FaultyFs::new();
        let model = build(&fs);
        let st = open(&fs);
        fs.fail_next_syncs(n);
        // The first fsyncs are the new partition's: the swap never starts.
        assert!(st.compact(&day_opts(), &mut |_| {}).is_err());
        fs.fail_next_syncs(0);
        assert_eq!(dump(&st), model);
        drop(st);
        fs.crash();
        fs.restart();
        check(&fs, &model, &format!("{n} failed fsyncs"));
    }
}

#[test]
fn a_short_write_during_compaction_keeps_the_store_whole() {
    fault_then_recover(|fs| fs.short_write_next(100), |_| {});
}

#[test]
fn a_stop_interrupting_a_day_merge_writes_nothing_and_the_next_start_merges_the_day() {
    let (fs, _) = interrupted_then_compacted(&day_opts(), build, open);
    assert!(
        names(&fs).contains(&"2025-11-22".to_string()),
        "{:?}",
        names(&fs)
    );
}
