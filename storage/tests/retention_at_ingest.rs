//! Retention at ingest: `[[retention]]` rules refuse what they would
//! delete at the next persist (as the global retention does), keep what
//! they keep longer than the global retention, and judge one batch
//! against one "now", its own newest sample included, so that no
//! acknowledged sample is deleted by the persist after it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{
    Clock, Labels, MatchOp, Matcher, Options, Querier, RetentionRule, Sample, Storage, WriteBatch,
};
use std::collections::BTreeMap;

const NOW: i64 = 1_800_000_030_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn lbl(job: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", "up"), ("instance", inst), ("job", job)])
}

fn rule(job: &str, keep_ms: i64) -> RetentionRule {
    RetentionRule {
        selector: format!("{{job={job:?}}}"),
        matchers: vec![Matcher::new(MatchOp::Equal, "job", job).unwrap()],
        keep_ms,
    }
}

fn open(dir: &std::path::Path) -> Storage {
    let mut o = Options::default();
    o.head.clock = Clock::from_fn(|| NOW);
    o.head.retention_ms = Some(15 * DAY);
    o.retention_rules = vec![rule("debug", 3 * DAY), rule("slo", 400 * DAY)];
    Storage::open(dir, o).unwrap()
}

/// (job, instance) → times of everything readable.
fn dump(st: &Storage) -> BTreeMap<(String, String), Vec<i64>> {
    let q = st.querier(i64::MIN, i64::MAX);
    let mut out = BTreeMap::new();
    for s in q.select(&[], i64::MIN, i64::MAX).unwrap() {
        let key = (
            s.labels.get("job").unwrap_or("").to_string(),
            s.labels.get("instance").unwrap_or("").to_string(),
        );
        let ts: Vec<i64> = s.samples.map(|x| x.t).collect();
        out.entry(key).or_insert_with(Vec::new).extend(ts);
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

#[test]
fn retention_rules_refuse_at_ingest_what_they_would_delete_and_keep_what_they_keep_longer() {
    let dir = tempfile::tempdir().unwrap();
    let st = open(dir.path());
    let mut b = WriteBatch::new();
    b.push(lbl("node", "now"), vec![Sample::new(NOW, 1.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
    let ages = [DAY, 5 * DAY, 20 * DAY, 500 * DAY];
    let mut refused = BTreeMap::new();
    for job in ["debug", "node", "slo"] {
        for age in ages {
            let mut b = WriteBatch::new();
            b.push(
                lbl(job, &format!("{}d", age / DAY)),
                vec![Sample::new(NOW - age, 1.0)],
            );
            let s = st.append(&b).unwrap();
            assert_eq!(s.appended + s.rejected.past_retention, 1);
            *refused.entry(job).or_insert(0) += s.rejected.past_retention;
        }
    }
    // debug keeps 3d, the fallback 15d, slo 400d.
    assert_eq!(refused["debug"], 3, "5d, 20d and 500d");
    assert_eq!(refused["node"], 2, "20d and 500d");
    assert_eq!(refused["slo"], 1, "500d");
    let before = dump(&st);
    // What was acknowledged survives the persist and the compaction.
    st.persist().unwrap();
    st.compact(&Default::default(), &mut |_| {}).unwrap();
    assert_eq!(dump(&st), before);
    assert_eq!(
        st.stats().rejected.past_retention,
        6,
        "counted like the global retention's refusals"
    );
    // A rule changed at run time is in force for the next append.
    st.set_retention_rules(vec![rule("debug", 30 * DAY)]);
    let mut b = WriteBatch::new();
    b.push(lbl("debug", "20d"), vec![Sample::new(NOW - 20 * DAY, 2.0)]);
    assert_eq!(st.append(&b).unwrap().appended, 1);
}

#[test]
fn one_batch_mixing_1970_and_current_samples_keeps_only_what_retention_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let st = open(dir.path());
    // An empty store, so "now" moves during the batch: the current samples
    // come after, before, and inside the same series as the 1970 ones.
    let mut b = WriteBatch::new();
    b.push(lbl("node", "old-first"), vec![Sample::new(1_000, 1.0)]);
    b.push(lbl("node", "current"), vec![Sample::new(NOW - HOUR, 1.0)]);
    b.push(lbl("slo", "old-after"), vec![Sample::new(2_000, 1.0)]);
    b.push(
        lbl("debug", "mixed"),
        vec![Sample::new(3_000, 1.0), Sample::new(NOW, 2.0)],
    );
    // A sample past the future bound does not move "now".
    b.push(
        lbl("node", "future"),
        vec![Sample::new(NOW + 365 * DAY, 1.0)],
    );
    let s = st.append(&b).unwrap();
    assert_eq!(s.appended, 2, "{s:?}");
    assert_eq!(s.rejected.past_retention, 3, "{s:?}");
    assert_eq!(s.rejected.too_far_in_future, 1, "{s:?}");
    let acked = dump(&st);
    let want: BTreeMap<(String, String), Vec<i64>> = [
        (("debug".to_string(), "mixed".to_string()), vec![NOW]),
        (
            ("node".to_string(), "current".to_string()),
            vec![NOW - HOUR],
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(acked, want);
    st.persist().unwrap();
    assert_eq!(dump(&st), acked, "the persist deletes nothing acknowledged");
    st.close().unwrap();
    let st = open(dir.path());
    assert_eq!(dump(&st), acked);
    // A batch of history alone into the store is judged by the store's now.
    let mut b = WriteBatch::new();
    b.push(
        lbl("node", "history"),
        vec![Sample::new(NOW - 10 * DAY, 1.0)],
    );
    assert_eq!(st.append(&b).unwrap().appended, 1);
}

#[test]
fn a_fresh_store_still_takes_a_batch_of_history_alone() {
    let dir = tempfile::tempdir().unwrap();
    let st = open(dir.path());
    let mut b = WriteBatch::new();
    for (i, t) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        b.push(lbl("debug", &i.to_string()), vec![Sample::new(t, 1.0)]);
    }
    assert_eq!(st.append(&b).unwrap().appended, 3);
    st.persist().unwrap();
    assert_eq!(dump(&st).len(), 3);
}
