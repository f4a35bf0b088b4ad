//! Scrapes with a few ms of jitter around the 15 s grid (the first one
//! just before the hour) are persisted hour by hour like aligned ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};

const SERIES: usize = 200;
const HOURS: i64 = 6;
const HOUR_MS: i64 = 3_600_000;
const T0: i64 = 472_222 * HOUR_MS;

#[test]
fn jittered_scrapes_are_persisted_hour_by_hour() {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), Options::default()).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut persisted = 0;
    for k in 0..HOURS * 240 {
        let mut b = WriteBatch::new();
        for i in 0..SERIES {
            let jitter = (next() % 7) as i64 - 3;
            let v = (next() % 100_000) as f64 / 100.0;
            let l = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
            b.push(l, vec![Sample::new(T0 + k * 15_000 + jitter, v)]);
        }
        st.append(&b).unwrap();
        if k % 60 == 59 {
            persisted += st.persist().unwrap().partitions.len();
        }
    }
    println!("partitions written while ingesting: {persisted}");
    assert!(persisted >= 4, "hours persisted: {persisted}");
    st.stop().unwrap();
}
