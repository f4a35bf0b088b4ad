//! Hourly partitions through the public API: persisting, reading back,
//! late data, recovery, and corrupt partitions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::dump;
use hourglass_storage::partition::Partition;
use hourglass_storage::{Clock, Labels, Options, Querier, Sample, Storage, WriteBatch};
use std::collections::BTreeMap;
use std::path::Path;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_834_400_000; // 2025-11-22T18:00Z

fn lbl(name: &str, job: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", inst), ("job", job)])
}

/// The earliest timestamp the store holds.
fn oldest(st: &Storage) -> i64 {
    dump(st)
        .values()
        .filter_map(|v| v.first())
        .map(|x| x.0)
        .min()
        .unwrap()
}

fn opts() -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 10 * 60_000;
    o
}

/// Four hours of 15 s scrapes for 30 series, with some late samples.
/// A store on a fresh temporary directory, with [`opts`].
fn fresh() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    (dir, st)
}

fn write_hours(st: &Storage, from: i64, hours: i64) {
    let steps = hours * H / 15_000;
    for r in 0..steps {
        let t = from + r * 15_000;
        let mut b = WriteBatch::new();
        for i in 0..30 {
            let job = if i % 2 == 0 { "node" } else { "api" };
            let name = ["up", "cpu", "mem"][i % 3];
            let mut s = vec![Sample::new(t, (r * i as i64) as f64 / 100.0)];
            if r % 11 == 5 {
                s.push(Sample::new(t - 7_000, 0.5));
            }
            b.push(lbl(name, job, &format!("h{i}")), s);
        }
        st.append(&b).unwrap();
    }
}

fn part_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("parts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A data directory holding `hours` hours from `T0`, persisted into
/// partitions and closed.
fn persisted_hours(hours: i64) -> tempfile::TempDir {
    let (dir, st) = fresh();
    write_hours(&st, T0, hours);
    st.persist().unwrap();
    st.close().unwrap();
    dir
}

#[test]
fn persisted_hours_read_the_same_before_and_after_reopen() {
    let (dir, st) = fresh();
    write_hours(&st, T0, 4);
    let before = dump(&st);
    let p = st.persist().unwrap();
    // Newest sample is just before T0+4h; the window is 10 min, so the
    // first three hours are ready.
    assert_eq!(p.partitions.len(), 3, "{p:?}");
    assert_eq!(
        part_names(dir.path()),
        vec!["2025-11-22T18", "2025-11-22T19", "2025-11-22T20"]
    );
    assert_eq!(dump(&st), before);
    assert!(st.stats().max_t.is_some());
    // The head no longer holds the persisted hours.
    let head_only = st.head_querier(i64::MIN, i64::MAX);
    let oldest = head_only
        .select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .filter_map(|mut s| s.samples.next())
        .map(|s| s.t)
        .min()
        .unwrap();
    assert!(oldest >= T0 + 3 * H - 7_000, "{oldest}");
    // Bytes per sample on disk, for the record.
    let meta = st.partitions()[0].meta().clone();
    assert_eq!(meta.series, 30);
    let first = st.partitions()[0]
        .series()
        .next()
        .map(|(l, n)| (l.to_string(), n));
    assert_eq!(
        first,
        Some((r#"cpu{instance="h1", job="api"}"#.to_string(), 1))
    );
    st.close().unwrap();

    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(st.partitions().len(), 3);
    assert_eq!(dump(&st), before);
    // Nothing new is ready: persisting again writes nothing.
    assert!(st.persist().unwrap().partitions.is_empty());
    assert_eq!(
        st.querier(i64::MIN, i64::MAX)
            .label_values("job", &[])
            .unwrap(),
        vec!["api", "node"]
    );
}

#[test]
fn late_in_order_data_goes_to_a_further_partition_for_its_hour() {
    let (dir, st) = fresh();
    write_hours(&st, T0, 3);
    // A lagging series: in order for itself, hours behind the others.
    let mut b = WriteBatch::new();
    b.push(lbl("up", "lag", "x"), vec![Sample::new(T0 + 60_000, 1.0)]);
    st.append(&b).unwrap();
    st.persist().unwrap();
    let mut b = WriteBatch::new();
    b.push(lbl("up", "lag", "x"), vec![Sample::new(T0 + 120_000, 2.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    // Nothing new finished: the late sample waits in the head...
    assert!(st.persist().unwrap().partitions.is_empty());
    // ...until the next hour is ready.
    write_hours(&st, T0 + 3 * H, 1);
    let before = dump(&st);
    st.persist().unwrap();
    assert!(part_names(dir.path()).contains(&"2025-11-22T18-1".to_string()));
    assert_eq!(dump(&st), before);
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&st), before);
}

#[test]
fn a_corrupt_partition_is_quarantined_never_served() {
    let dir = persisted_hours(3);
    for (file, at) in [("chunks", 40usize), ("index", 20)] {
        let p = dir.path().join("parts/2025-11-22T18").join(file);
        if !p.exists() {
            continue;
        }
        let mut b = std::fs::read(&p).unwrap();
        b[at] ^= 0x10;
        std::fs::write(&p, b).unwrap();
        assert!(Partition::open(dir.path().join("parts/2025-11-22T18")).is_err());
        let st = Storage::open(dir.path(), opts()).unwrap();
        assert!(part_names(dir.path()).contains(&"2025-11-22T18.corrupt".to_string()));
        let oldest = oldest(&st);
        assert!(oldest >= T0 + H - 7_000);
        st.close().unwrap();
    }
}

#[test]
fn partition_reader_survives_arbitrary_damage() {
    let dir = persisted_hours(2);
    let part = dir.path().join("parts/2025-11-22T18");
    let index = std::fs::read(part.join("index")).unwrap();
    let meta = std::fs::read(part.join("meta.json")).unwrap();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9);
    for i in 0..400 {
        let x = rng.u64(..);
        let mut b = index.clone();
        match i % 3 {
            0 => b.truncate((x as usize) % b.len()),
            1 => {
                let at = (x as usize) % b.len();
                b[at] ^= (x >> 40) as u8 | 1;
            }
            _ => {
                let at = (x as usize) % b.len();
                b[at] = (x >> 20) as u8;
                // Fix the section CRCs so the parser itself is exercised.
                let mut pos = 8;
                while pos + 4 <= b.len() {
                    let len = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
                    let end = pos + 4 + len;
                    if end + 4 > b.len() {
                        break;
                    }
                    let crc = crc32fast::hash(&b[pos + 4..end]).to_le_bytes();
                    b[end..end + 4].copy_from_slice(&crc);
                    pos = end + 4;
                }
            }
        }
        std::fs::write(part.join("index"), &b).unwrap();
        let _ = Partition::open(&part);
        // The fuzz target's body, on the same input and on noise.
        let body = std::fs::metadata(part.join("chunks")).unwrap().len() as usize - 12;
        hourglass_storage::partition::fuzz_index(&meta, &b, body);
        let noise: Vec<u8> = (0..(x % 300)).map(|k| (x >> (k % 56)) as u8).collect();
        hourglass_storage::partition::fuzz_index(&meta, &noise, body);
    }
    std::fs::write(part.join("index"), &index).unwrap();
    std::fs::write(part.join("meta.json"), &meta[..meta.len() / 2]).unwrap();
    assert!(Partition::open(&part).is_err());
}

#[test]
fn a_series_wholly_persisted_keeps_its_ref_across_checkpoint_and_restart() {
    let (dir, st) = fresh();
    let old = lbl("up", "old", "x");
    let mut b = WriteBatch::new();
    b.push(old.clone(), vec![Sample::new(T0, 1.0)]);
    st.append(&b).unwrap();
    write_hours(&st, T0 + H, 2);
    st.persist().unwrap();
    // All of `old`'s samples are in a partition and the WAL was truncated;
    // its next record names it by ref only.
    let mut b = WriteBatch::new();
    b.push(old.clone(), vec![Sample::new(T0 + 3 * H, 2.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    let before = dump(&st);
    drop(st); // no close: as after kill -9 (records were synced by append)
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(st.replay_stats().unknown_series_samples, 0);
    assert_eq!(dump(&st), before);
    assert_eq!(
        before[&old.to_string()],
        vec![(T0, 1f64.to_bits()), (T0 + 3 * H, 2f64.to_bits())]
    );
}

#[test]
fn sealed_partitions_are_compact_on_scrape_aligned_data() {
    // node-exporter-like: 40% constants, 40% counters with small
    // increments, 20% two-decimal gauges; 15 s scrapes, 500 series, 2 h.
    let (_dir, st) = fresh();
    let mut rng = fastrand::Rng::with_seed(12345);
    let mut rnd = move |n: u64| rng.u64(..n);
    let mut vals: Vec<f64> = (0..500)
        .map(|i| if i % 5 == 4 { 23.45 } else { (i * 1000) as f64 })
        .collect();
    let steps = 3 * H / 15_000;
    for r in 0..steps {
        let mut b = WriteBatch::new();
        for (i, v) in vals.iter_mut().enumerate() {
            match i % 5 {
                0 | 1 => {}
                2 | 3 => *v += rnd(6) as f64,
                _ => *v = ((*v * 100.0).round() + rnd(41) as f64 - 20.0) / 100.0,
            }
            let job = ["node", "api"][i % 2];
            b.push(
                lbl(
                    &format!("metric_{}", i % 50),
                    job,
                    &format!("host-{}", i / 50),
                ),
                vec![Sample::new(T0 + r * 15_000, *v)],
            );
        }
        st.append(&b).unwrap();
    }
    st.persist().unwrap();
    let parts = st.partitions();
    let p = &parts[0];
    let size: u64 = ["chunks", "index", "meta.json"]
        .iter()
        .map(|f| std::fs::metadata(p.dir().join(f)).unwrap().len())
        .sum();
    let chunks = std::fs::metadata(p.dir().join("chunks")).unwrap().len();
    let bps = size as f64 / p.meta().samples as f64;
    let cbps = chunks as f64 / p.meta().samples as f64;
    println!(
        "partition: {bps:.3} bytes/sample all files, {cbps:.3} chunks only, {} samples, {} chunks",
        p.meta().samples,
        p.meta().chunks
    );
    assert!(bps < 1.0, "{bps} bytes/sample");
}

#[test]
fn retention_drops_old_partitions_by_age_then_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.head.retention_ms = Some(3 * H);
    // The wall clock reads the newest sample's time.
    o.head.clock = Clock::from_fn(|| T0 + 6 * H - 15_000);
    let st = Storage::open(dir.path(), o.clone()).unwrap();
    write_hours(&st, T0, 6);
    let p = st.persist().unwrap();
    // Hours 18..=22 are ready (newest ≈ T0+6h, window 10 min); with 3 h of
    // retention back from the clock, samples before T0+3h-15s were refused
    // (past retention): no partition for hours 18 and 19, and hour 20
    // holds its last samples only.
    assert_eq!(p.partitions.len(), 3, "{p:?}");
    assert_eq!(p.retention.by_age, 0, "{p:?}");
    assert_eq!(
        part_names(dir.path()),
        vec!["2025-11-22T20", "2025-11-22T21", "2025-11-22T22"]
    );
    let cutoff = T0 + 3 * H - 15_000;
    assert!(st.partitions().iter().all(|p| p.meta().min_t >= cutoff));
    let oldest = oldest(&st);
    assert!(oldest >= T0 + 2 * H - 7_000);
    st.close().unwrap();

    // Now a size limit that holds about one partition.
    let one = {
        let d = dir.path().join("parts/2025-11-22T22");
        ["chunks", "index", "meta.json"]
            .iter()
            .map(|f| std::fs::metadata(d.join(f)).unwrap().len())
            .sum::<u64>()
    };
    o.head.retention_bytes = Some(one + one / 2);
    let st = Storage::open(dir.path(), o).unwrap();
    let r = st.retain().unwrap();
    assert_eq!(r.by_size, 2);
    assert_eq!(part_names(dir.path()), vec!["2025-11-22T22"]);
    assert_eq!(st.partitions().len(), 1);
}

#[test]
fn persist_while_writers_append_loses_and_duplicates_nothing() {
    let (dir, st) = fresh();
    let writers = 3;
    let steps = 4 * H / 15_000;
    std::thread::scope(|s| {
        for w in 0..writers {
            let st = &st;
            s.spawn(move || {
                for r in 0..steps {
                    let t = T0 + r * 15_000;
                    let mut b = WriteBatch::new();
                    for i in 0..10 {
                        let mut v = vec![Sample::new(t, r as f64)];
                        if r % 13 == 7 {
                            v.push(Sample::new(t - 5_000, -1.0));
                        }
                        b.push(lbl("m", &format!("w{w}"), &format!("i{i}")), v);
                    }
                    st.append(&b).unwrap();
                }
            });
        }
        let st = &st;
        s.spawn(move || {
            for _ in 0..40 {
                st.persist().unwrap();
                std::thread::yield_now();
            }
        });
    });
    st.persist().unwrap();
    let check = |d: &BTreeMap<String, Vec<(i64, u64)>>| {
        assert_eq!(d.len(), writers * 10);
        for v in d.values() {
            let extra = (0..steps).filter(|r| r % 13 == 7).count();
            assert_eq!(v.len(), steps as usize + extra);
        }
    };
    check(&dump(&st));
    assert!(!st.partitions().is_empty());
    drop(st);
    let st = Storage::open(dir.path(), opts()).unwrap();
    check(&dump(&st));
}

#[test]
fn series_that_stopped_reporting_leave_the_head_but_not_the_data() {
    let (dir, st) = fresh();
    let gone = lbl("up", "gone", "x");
    let mut b = WriteBatch::new();
    b.push(gone.clone(), vec![Sample::new(T0 + 1_000, 1.0)]);
    st.append(&b).unwrap();
    write_hours(&st, T0, 3);
    assert_eq!(st.stats().series, 31);
    let p = st.persist().unwrap();
    assert_eq!(p.series_removed, 1, "{p:?}");
    assert_eq!(st.stats().series, 30);
    let d = dump(&st);
    assert_eq!(d[&gone.to_string()], vec![(T0 + 1_000, 1f64.to_bits())]);
    // It comes back as a new series, and that survives a restart.
    let mut b = WriteBatch::new();
    b.push(gone.clone(), vec![Sample::new(T0 + 3 * H, 2.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    let before = dump(&st);
    drop(st);
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(st.replay_stats().unknown_series_samples, 0);
    assert_eq!(dump(&st), before);
    assert_eq!(before[&gone.to_string()].len(), 2);
}

#[test]
fn query_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<hourglass_storage::StorageQuerier<'static>>();
    send_sync::<hourglass_storage::SampleIter>();
    send_sync::<hourglass_storage::Series>();
    send_sync::<Storage>();
}

#[test]
fn label_names_and_values_span_head_and_partitions() {
    use hourglass_storage::{MatchOp, Matcher};
    let (_dir, st) = fresh();
    let mut b = WriteBatch::new();
    b.push(
        Labels::from_pairs([("__name__", "old_only"), ("zone", "eu")]),
        vec![Sample::new(T0, 1.0)],
    );
    st.append(&b).unwrap();
    write_hours(&st, T0, 3);
    st.persist().unwrap();
    let q = st.querier(i64::MIN, i64::MAX);
    assert!(q.label_names(&[]).unwrap().contains(&"zone".to_string()));
    let m = Matcher::new(MatchOp::RegexMatch, "__name__", "old.*").unwrap();
    assert_eq!(
        q.label_names(std::slice::from_ref(&m)).unwrap(),
        vec!["__name__", "zone"]
    );
    assert_eq!(q.label_values("zone", &[m]).unwrap(), vec!["eu"]);
    let names = q.label_values("__name__", &[]).unwrap();
    assert_eq!(names, vec!["cpu", "mem", "old_only", "up"]);
}

/// Samples a select over everything returns, by series.
fn count_all(q: &dyn Querier) -> usize {
    q.select(&[], i64::MIN, i64::MAX)
        .unwrap()
        .map(|s| s.samples.count())
        .sum()
}

#[test]
fn a_querier_held_across_a_persist_still_sees_the_persisted_hours() {
    let (_dir, st) = fresh();
    write_hours(&st, T0, 4);
    let q = st.querier(i64::MIN, i64::MAX);
    let before = count_all(&q);
    let names = q.label_values("__name__", &[]).unwrap();
    assert_eq!(st.persist().unwrap().partitions.len(), 3);
    // The hours left the head after the querier was made: it must find
    // them in the partitions written meanwhile.
    assert_eq!(count_all(&q), before);
    assert_eq!(q.label_values("__name__", &[]).unwrap(), names);
}

#[test]
fn queries_racing_a_persist_see_every_sample_once() {
    let (_dir, st) = fresh();
    write_hours(&st, T0, 4);
    let total = count_all(&st.querier(i64::MIN, i64::MAX));
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut seen = Vec::new();
            for _ in 0..200 {
                seen.push(count_all(&st.querier(i64::MIN, i64::MAX)));
            }
            seen
        });
        st.persist().unwrap();
        let seen = reader.join().unwrap();
        assert!(seen.iter().all(|&n| n == total), "{total} vs {seen:?}");
    });
}

#[test]
fn extreme_timestamps_neither_panic_nor_get_lost() {
    let (dir, st) = fresh();
    let mut b = WriteBatch::new();
    b.push(
        lbl("edge", "a", "min"),
        vec![Sample::new(i64::MIN, 1.0), Sample::new(i64::MIN + 1, 2.0)],
    );
    b.push(
        lbl("edge", "a", "max"),
        vec![Sample::new(i64::MAX - 1, 1.0), Sample::new(i64::MAX, 2.0)],
    );
    b.push(
        lbl("edge", "a", "zero"),
        vec![Sample::new(-1, 1.0), Sample::new(0, 2.0)],
    );
    st.append(&b).unwrap();
    let before = dump(&st);
    st.persist().unwrap();
    assert_eq!(dump(&st), before);
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&st), before);
}

mod model {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the storage acknowledges is what it returns, through any
        /// interleaving of appends, persists (with late data and garbage
        /// collection) and restarts.
        #[test]
        fn head_and_partitions_return_exactly_what_was_accepted(
            ops in prop::collection::vec((0usize..4, 0i64..(5 * 240), any::<bool>(), 0u8..20), 1..300),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut st = Storage::open(dir.path(), opts()).unwrap();
            let mut want: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
            for (series, step, late, action) in ops {
                // Mostly moving forward, sometimes far back.
                let t = if late { T0 + step * 15_000 - 3 * H } else { T0 + step * 15_000 };
                let v = (series as i64 * 1_000_003 + t) as f64 / 100.0;
                let l = lbl("m", "j", &series.to_string());
                let mut b = WriteBatch::new();
                b.push(l.clone(), vec![Sample::new(t, v)]);
                let s = st.append(&b).unwrap();
                if s.appended == 1 {
                    want.entry(l.to_string()).or_default().insert(t, v.to_bits());
                }
                match action {
                    0..=2 => {
                        st.persist().unwrap();
                    }
                    3 => {
                        drop(st);
                        st = Storage::open(dir.path(), opts()).unwrap();
                    }
                    _ => {}
                }
            }
            let want: BTreeMap<String, Vec<(i64, u64)>> = want
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect();
            prop_assert_eq!(&dump(&st), &want);
            st.persist().unwrap();
            prop_assert_eq!(&dump(&st), &want);
            drop(st);
            let st = Storage::open(dir.path(), opts()).unwrap();
            prop_assert_eq!(&dump(&st), &want);
        }
    }
}
