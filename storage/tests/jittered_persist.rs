//! Hours are persisted however their samples arrive: scrapes with a few ms
//! of jitter (the first just before the hour), and a backfill of old hours
//! beside a live series, whose newest sample keeps the ready end in place
//! while the old hours fill up (`footprint_vs.sh` jittered, 24 h: the
//! server's self-scrape is the live series, and every hour ingested after
//! the first persist round stayed in the head).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{HOUR_MS, T0};
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};

const SERIES: usize = 200;
const HOURS: i64 = 6;

fn jittered_hours(st: &Storage, live: bool) -> usize {
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    if live {
        // Now: two hours after the backfilled ones end.
        let mut b = WriteBatch::new();
        b.push(
            Labels::from_pairs([("__name__", "up")]),
            vec![Sample::new(T0 + (HOURS + 2) * HOUR_MS, 1.0)],
        );
        st.append(&b).unwrap();
    }
    let mut persisted = 0;
    for k in 0..HOURS * 240 {
        let mut b = WriteBatch::new();
        for i in 0..SERIES {
            let jitter = rng.u64(..7) as i64 - 3;
            let v = rng.u64(..100_000) as f64 / 100.0;
            let l = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
            b.push(l, vec![Sample::new(T0 + k * 15_000 + jitter, v)]);
        }
        st.append(&b).unwrap();
        if k % 60 == 59 {
            persisted += st.persist().unwrap().partitions.len();
        }
    }
    persisted
}

#[test]
fn jittered_scrapes_are_persisted_hour_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), Options::default()).unwrap();
    let persisted = jittered_hours(&st, false);
    println!("partitions written while ingesting: {persisted}");
    assert!(
        persisted >= HOURS as usize - 2,
        "hours persisted: {persisted}"
    );
    st.stop().unwrap();
}

#[test]
fn a_backfill_beside_a_live_series_is_persisted_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), Options::default()).unwrap();
    let persisted = jittered_hours(&st, true);
    // Every backfilled hour (and the one before T0 the jitter reaches).
    let hours: std::collections::BTreeSet<i64> = st
        .partitions()
        .iter()
        .map(|p| p.meta().hour_start_ms)
        .collect();
    println!(
        "partitions written while ingesting: {persisted}, hours {}",
        hours.len()
    );
    assert!(hours.len() >= HOURS as usize, "hours persisted: {hours:?}");
    let in_head = st.stats();
    st.stop().unwrap();
    // Nothing of the backfill is left for the stop's checkpoint but the
    // live series.
    let st = Storage::open(dir.path(), Options::default()).unwrap();
    let head_samples = st.replay_stats().samples;
    println!("samples in the head at stop: {head_samples} ({in_head:?})");
    assert!(head_samples < 10, "{head_samples}");
}
