//! Downsampling by compaction: old days of the series a tier selects keep
//! per-interval summaries instead of raw samples; reads by aggregate agree
//! with the raw data; the bytes shrink; a crash at any step of the swap
//! leaves each day either raw or downsampled, never both, never neither.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::compact::CompactOptions;
use hourglass_storage::downsample::rewrite_as_version_4;
use hourglass_storage::{
    Clock, DownsampleRule, Labels, MatchOp, Matcher, Options, Querier, ReadAs, Sample, Storage,
    WriteBatch,
};
use hourglass_wal::fs::FaultyFs;
use std::collections::BTreeMap;
use std::sync::Arc;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;
const T0: i64 = 1_763_769_600_000; // 2025-11-22T00:00Z
const RES: i64 = 5 * 60_000;

type Model = BTreeMap<String, Vec<Sample>>;

fn eq(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, n, v).unwrap()
}

fn tier(job: &str, after: i64, res: i64) -> DownsampleRule {
    DownsampleRule {
        selector: format!("{{job={job:?}}}"),
        matchers: vec![eq("job", job)],
        after_ms: after,
        resolution_ms: res,
    }
}

fn days() -> CompactOptions {
    CompactOptions {
        day_after_ms: Some(H),
    }
}

/// The wall clock reads `now`: the end of the hours a test writes, so
/// days pass as fast as they are written.
fn opts(now: i64) -> Options {
    let mut o = Options::default();
    o.head.ooo_window_ms = 10 * 60_000;
    o.head.clock = Clock::from_fn(move || now);
    o
}

/// `n` counters and `n` jittered gauges per job (`node` and `db`), 15 s
/// apart (jittered), for `hours` hours, persisted.
fn fill(st: &Storage, n: usize, hours: i64) {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut counters = vec![0.0f64; 2 * n];
    for step in 0..(hours * H / 15_000) {
        let t = T0 + step * 15_000;
        let mut b = WriteBatch::new();
        for (j, job) in ["node", "db"].into_iter().enumerate() {
            for i in 0..n {
                let c = &mut counters[j * n + i];
                // A restart now and then.
                *c = if rng.u32(..5000) == 0 {
                    0.0
                } else {
                    *c + f64::from(rng.u32(..1000))
                };
                // Jittered by up to 6 ms, never before T0.
                let jit = t + i64::from(rng.u8(..7));
                let inst = format!("h{i}");
                b.push(
                    Labels::from_pairs([
                        ("__name__", "c_total"),
                        ("instance", &inst),
                        ("job", job),
                    ]),
                    vec![Sample::new(jit, *c)],
                );
                b.push(
                    Labels::from_pairs([("__name__", "g"), ("instance", &inst), ("job", job)]),
                    vec![Sample::new(jit, f64::from(rng.u32(..100_000)) / 7.0)],
                );
            }
        }
        st.append(&b).unwrap();
    }
    st.persist().unwrap();
}

fn dump_as(st: &Storage, read: ReadAs, mint: i64, maxt: i64) -> (Model, Option<i64>) {
    let q = st.querier(i64::MIN, i64::MAX);
    let set = q.select_as(&[], mint, maxt, read).unwrap();
    let res = set.downsampled_resolution();
    let mut out = BTreeMap::new();
    for s in set {
        let mut it = s.samples;
        let v: Vec<Sample> = it.by_ref().collect();
        assert!(it.error().is_none(), "{:?}", it.error());
        out.insert(s.labels.to_string(), v);
    }
    (out, res)
}

fn day_bytes(st: &Storage, day: i64) -> u64 {
    st.partitions()
        .iter()
        .filter(|p| p.meta().hour_start_ms.div_euclid(DAY) * DAY == day)
        .map(|p| p.bytes())
        .sum()
}

fn increase(s: &[Sample]) -> f64 {
    s.windows(2)
        .map(|w| {
            if w[1].v >= w[0].v {
                w[1].v - w[0].v
            } else {
                w[1].v
            }
        })
        .sum()
}

/// Raw samples of one interval `[t, t + RES)`.
fn within(raw: &[Sample], t: i64, res: i64) -> Vec<Sample> {
    raw.iter()
        .copied()
        .filter(|s| s.t.div_euclid(res) * res == t)
        .collect()
}

/// Reads of day 0 by every aggregate against the raw samples.
fn check_reads(st: &Storage, raw: &Model, round: &str) {
    let (last, res) = dump_as(st, ReadAs::Last, T0, T0 + DAY - 1);
    assert_eq!(res, Some(RES), "{round}");
    let (max, _) = dump_as(st, ReadAs::Max, T0, T0 + DAY - 1);
    let (min, _) = dump_as(st, ReadAs::Min, T0, T0 + DAY - 1);
    let (sum, _) = dump_as(st, ReadAs::Sum, T0, T0 + DAY - 1);
    let (ctr, _) = dump_as(st, ReadAs::Counter, T0, T0 + DAY - 1);
    assert_eq!(last.len(), raw.len(), "{round}");
    for (k, r) in raw {
        if k.contains("job=\"db\"") {
            assert_eq!(&last[k], r, "{round}: {k} is not selected, stays raw");
            continue;
        }
        assert_eq!(last[k].len(), 288, "{round}: {k}: one sample per 5m");
        for (i, s) in last[k].iter().enumerate() {
            let t = s.t.div_euclid(RES) * RES;
            let inside = within(r, t, RES);
            assert_eq!(inside.last(), Some(s), "{round}: {k} last of interval {i}");
            let mx = inside.iter().map(|x| x.v).fold(f64::MIN, f64::max);
            let mn = inside.iter().map(|x| x.v).fold(f64::MAX, f64::min);
            assert_eq!(max[k][i].v, mx, "{round}: {k} max of interval {i}");
            assert_eq!(min[k][i].v, mn, "{round}: {k} min of interval {i}");
        }
        let (a, b) = (
            sum[k].iter().map(|s| s.v).sum::<f64>(),
            r.iter().map(|s| s.v).sum::<f64>(),
        );
        assert!(
            (a - b).abs() <= 1e-9 * b.abs(),
            "{round}: {k} sum {a} vs {b}"
        );
        if k.contains("c_total") {
            let (a, b) = (increase(&ctr[k]), increase(r));
            assert!(
                (a - b).abs() <= 1e-9 * b,
                "{round}: {k} increase {a} vs {b}"
            );
        }
    }
}

#[test]
fn an_old_day_is_downsampled_and_reads_agree_with_the_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(T0 + (2 * 24 + 2) * H)).unwrap();
    fill(&st, 5, 2 * 24 + 2);
    // Day partitions first, without rules: the raw baseline.
    st.compact(&days(), &mut |_| {}).unwrap();
    let before = day_bytes(&st, T0);
    let (raw, res) = dump_as(&st, ReadAs::Last, T0, T0 + DAY - 1);
    assert_eq!(res, None);
    st.set_downsample_rules(vec![tier("node", DAY, RES)]);
    let stats = st.compact(&days(), &mut |_| {}).unwrap();
    assert_eq!(stats.groups, 1, "only the day past the tier: {stats:?}");
    let after = day_bytes(&st, T0);
    println!(
        "day 0, 10 of 20 series downsampled to 5m: {before} -> {after} bytes ({:.2}x)",
        before as f64 / after as f64
    );
    assert!(after < before, "{before} -> {after}");
    // Nothing more to do until the cutoff moves.
    assert_eq!(st.compact(&days(), &mut |_| {}).unwrap().groups, 0);

    check_reads(&st, &raw, "compacted");
    st.close().unwrap();
    let st = Storage::open(dir.path(), opts(T0 + (2 * 24 + 2) * H)).unwrap();
    check_reads(&st, &raw, "reopened");
    // The raw samples are gone from disk: only `db` keeps raw samples.
    let day0: u64 = st
        .partitions()
        .iter()
        .filter(|p| p.meta().hour_start_ms == T0)
        .map(|p| p.meta().samples)
        .sum();
    assert_eq!(day0, 10 * 5760, "only the 10 db series stay raw");
}

#[test]
fn a_coarser_tier_folds_fine_intervals_and_max_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(T0 + (3 * 24 + 1) * H)).unwrap();
    fill(&st, 2, 3 * 24 + 1);
    let (raw, _) = dump_as(&st, ReadAs::Last, T0, T0 + DAY - 1);
    st.set_downsample_rules(vec![tier("node", DAY, RES), tier("node", 2 * DAY, H)]);
    st.compact(&days(), &mut |_| {}).unwrap();
    let (max, res) = dump_as(&st, ReadAs::Max, T0, T0 + 2 * DAY - 1);
    assert_eq!(
        res,
        Some(H),
        "day 0 at 1h, day 1 at 5m: the coarsest is stated"
    );
    for (k, r) in &raw {
        if k.contains("job=\"db\"") {
            continue;
        }
        let day0: Vec<&Sample> = max[k].iter().filter(|s| s.t < T0 + DAY).collect();
        assert_eq!(day0.len(), 24, "{k}");
        for s in day0 {
            let t = s.t.div_euclid(H) * H;
            let mx = within(r, t, H).iter().map(|x| x.v).fold(f64::MIN, f64::max);
            assert_eq!(s.v, mx, "{k} max of hour {t}");
        }
        let day1 = max[k].iter().filter(|s| s.t >= T0 + DAY).count();
        assert_eq!(day1, 288, "{k}");
    }
}

#[test]
fn deleting_a_downsampled_series_removes_its_intervals_at_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), opts(T0 + (2 * 24 + 1) * H)).unwrap();
    fill(&st, 2, 2 * 24 + 1);
    st.set_downsample_rules(vec![tier("node", DAY, RES)]);
    st.compact(&days(), &mut |_| {}).unwrap();
    st.delete_series(&[vec![eq("instance", "h1")]], i64::MIN, i64::MAX)
        .unwrap();
    let (m, _) = dump_as(&st, ReadAs::Sum, T0, T0 + DAY - 1);
    assert!(m.keys().all(|k| !k.contains("h1")), "hidden at once");
    st.compact(&days(), &mut |_| {}).unwrap();
    let p = st
        .partitions()
        .into_iter()
        .find(|p| p.meta().hour_start_ms == T0)
        .unwrap();
    assert!(!p.downsampled().entries().is_empty());
    assert!(
        p.downsampled()
            .entries()
            .iter()
            .all(|s| s.labels.get("instance") != Some("h1")),
        "gone from the downsampled file"
    );
}

/// A downsampled day of many series, opened from disk, holds its
/// directory in memory, not its intervals (`resident_bytes`, printed);
/// reads through it answer exactly as the same file rewritten as
/// version 4, which a partition decodes whole at open (the old path).
#[test]
fn a_downsampled_day_of_many_series_keeps_only_its_directory_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let now = T0 + (2 * 24 + 1) * H;
    let st = Storage::open(dir.path(), opts(now)).unwrap();
    fill(&st, 60, 2 * 24 + 1);
    st.set_downsample_rules(vec![tier("node", DAY, RES)]);
    st.compact(&days(), &mut |_| {}).unwrap();
    let reads = [
        ReadAs::Last,
        ReadAs::Min,
        ReadAs::Max,
        ReadAs::Sum,
        ReadAs::Avg,
        ReadAs::Count,
        ReadAs::Counter,
    ];
    let answers = |st: &Storage| -> Vec<(Model, Option<i64>)> {
        reads
            .iter()
            .map(|&r| dump_as(st, r, T0 - H, T0 + DAY + H))
            .collect()
    };
    let first_day = |st: &Storage| {
        st.partitions()
            .into_iter()
            .find(|p| p.meta().hour_start_ms == T0)
            .unwrap()
    };
    let lazy = answers(&st);
    let p = first_day(&st);
    let file = p.downsampled();
    let (n, resident) = (file.entries().len(), file.resident_bytes());
    let intervals: usize = file.all().unwrap().iter().map(|s| s.iv.len()).sum();
    let path = p.dir().join("downsampled");
    drop(p);
    st.close().unwrap();
    let v4 = rewrite_as_version_4(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::write(&path, v4).unwrap();
    let st = Storage::open(dir.path(), opts(now)).unwrap();
    let whole = first_day(&st).downsampled().resident_bytes();
    println!(
        "{n} downsampled series, {intervals} intervals: {resident} B in memory ({} B a series); decoded at open {whole} B",
        resident / n
    );
    assert_eq!(n, 120, "the node job's series");
    assert!(resident < n * 400, "{resident} B for {n} series");
    assert!(resident * 10 < whole, "{resident} B against {whole} B");
    assert_eq!(answers(&st), lazy);
}

/// The clock of the crash tests: the end of `faulty_build`'s hours.
const FAULTY_NOW: i64 = T0 + (2 * 24 + 1) * H;

fn faulty_build(fs: &FaultyFs) -> Model {
    let st = Storage::open_with_fs(Arc::new(fs.clone()), "/data", opts(FAULTY_NOW)).unwrap();
    fill(&st, 1, 2 * 24 + 1);
    st.compact(&days(), &mut |_| {}).unwrap();
    st.flush().unwrap();
    let (m, _) = dump_as(&st, ReadAs::Sum, i64::MIN, i64::MAX);
    st.close().unwrap();
    m
}

/// Per series and day: the samples read as sums.
fn by_day(m: &Model) -> BTreeMap<(String, i64), Vec<Sample>> {
    let mut out: BTreeMap<(String, i64), Vec<Sample>> = BTreeMap::new();
    for (k, v) in m {
        for s in v {
            out.entry((k.clone(), s.t.div_euclid(DAY)))
                .or_default()
                .push(*s);
        }
    }
    out
}

#[test]
fn crash_at_every_step_of_downsampling_leaves_each_day_raw_or_downsampled() {
    // The finished state, from a run without faults.
    let fs = FaultyFs::new();
    let raw = faulty_build(&fs);
    let st = Storage::open_with_fs(Arc::new(fs.clone()), "/data", opts(FAULTY_NOW)).unwrap();
    st.set_downsample_rules(vec![tier("node", DAY, RES)]);
    st.compact(&days(), &mut |_| {}).unwrap();
    let (done, _) = dump_as(&st, ReadAs::Sum, i64::MIN, i64::MAX);
    drop(st);
    assert_ne!(raw, done);
    let (raw, done) = (by_day(&raw), by_day(&done));
    for k in 0.. {
        let fs = FaultyFs::new();
        faulty_build(&fs);
        let st = Storage::open_with_fs(Arc::new(fs.clone()), "/data", opts(FAULTY_NOW)).unwrap();
        st.set_downsample_rules(vec![tier("node", DAY, RES)]);
        fs.crash_after_ops(k);
        let r = st.compact(&days(), &mut |_| {});
        let crashed = fs.is_crashed();
        drop((r, st));
        if !crashed {
            fs.cancel_crash();
            assert!(k > 5, "the swap takes more steps than {k}");
            return;
        }
        fs.restart();
        let st = Storage::open_with_fs(Arc::new(fs.clone()), "/data", opts(FAULTY_NOW)).unwrap();
        let (got, _) = dump_as(&st, ReadAs::Sum, i64::MIN, i64::MAX);
        let got = by_day(&got);
        assert_eq!(got.len(), raw.len(), "crash at {k}: a day lost or gained");
        for (key, v) in &got {
            assert!(
                raw.get(key) == Some(v) || done.get(key) == Some(v),
                "crash at {k}: {key:?} is neither raw nor downsampled"
            );
        }
        // Compacting again finishes the job.
        st.set_downsample_rules(vec![tier("node", DAY, RES)]);
        st.compact(&days(), &mut |_| {}).unwrap();
        let (again, _) = dump_as(&st, ReadAs::Sum, i64::MIN, i64::MAX);
        assert_eq!(by_day(&again), done, "crash at {k}, compacted again");
        st.close().unwrap();
    }
}
