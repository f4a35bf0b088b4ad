//! What an open hourly partition costs in heap bytes a series: the same
//! node-exporter-like series (the bench's synthetic hosts) persisted
//! hour after hour, each partition opened in turn and counted by an
//! allocator that tracks live bytes. A server running for hours opens one
//! such partition an hour, so this is its memory growth per hour
//! (RSS at 12 h, issue #15). Requested bytes, not size classes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::partition::Partition;
use hourglass_storage::synthetic_host::{Draw, Profile, host_series};
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// A fixed sequence: the values do not matter here, only the labels.
struct Steps(u64);

impl Draw for Steps {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 33) % n
    }
    fn unit(&mut self) -> f64 {
        self.below(1 << 20) as f64 / f64::from(1u32 << 20)
    }
}

const T0: i64 = 1_763_834_400_000; // 2025-11-22T18:00Z

#[test]
fn hourly_partitions_of_the_same_series_share_their_label_sets() {
    const HOSTS: usize = 40;
    const HOURS: i64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::default();
    o.head.ooo_window_ms = 60_000;
    let st = Storage::open(dir.path(), o).unwrap();
    let mut draw = Steps(7);
    let mut hosts: Vec<_> = (0..HOSTS)
        .map(|h| host_series(h, Profile::Node, &mut draw))
        .collect();
    let labels: Vec<Vec<Labels>> = hosts
        .iter()
        .map(|h| {
            h.iter()
                .map(|s| Labels::from_pairs(s.labels.clone()))
                .collect()
        })
        .collect();
    // A sample every 5 minutes: one chunk a series an hour, as real
    // 15 s scrapes make two.
    for step in 0..=(HOURS * 12 + 1) {
        let t = T0 + step * 300_000;
        let mut b = WriteBatch::new();
        for (host, names) in hosts.iter_mut().zip(&labels) {
            for (s, l) in host.iter_mut().zip(names) {
                s.advance(&mut draw);
                b.push(l.clone(), vec![Sample::new(t, s.value)]);
            }
        }
        st.append(&b).unwrap();
    }
    st.persist().unwrap();
    let series: usize = labels.iter().map(Vec::len).sum();
    let dirs: Vec<_> = st
        .partitions()
        .iter()
        .map(|p| p.dir().to_path_buf())
        .collect();
    st.close().unwrap();
    drop(labels);
    assert_eq!(dirs.len(), HOURS as usize, "{dirs:?}");

    let mut open = Vec::new();
    let mut per_series = Vec::new();
    for d in &dirs {
        let before = counting_alloc::live();
        let p = Partition::open(d).unwrap();
        per_series.push((counting_alloc::live() - before) as f64 / series as f64);
        assert_eq!(p.meta().series, series as u64);
        open.push(p);
    }
    let later = per_series[1..].iter().sum::<f64>() / (per_series.len() - 1) as f64;
    // The first one finds the label sets too: the store that wrote the
    // partitions opened them, and the shared table keeps sets until a
    // sweep finds them unheld.
    println!(
        "{series} series, one chunk each an hour: each hourly partition opened costs \
         {later:.0} heap bytes a series besides the shared labels ({per_series:.0?})"
    );
    assert!(later < 100.0, "{later:.0} bytes a series a partition");
}

/// What makes a server persist before its interval is up: the finished
/// hours waiting in memory, counted from the oldest sample to the hour
/// the out-of-order window leaves open, and none once persisted.
#[test]
fn finished_hours_waiting_in_memory_are_counted_until_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::default();
    o.head.ooo_window_ms = 600_000;
    let st = Storage::open(dir.path(), o).unwrap();
    assert_eq!(st.hours_ready(), 0);
    let l = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
    let mut counted = Vec::new();
    for step in 0..=(5 * 12) {
        let mut b = WriteBatch::new();
        b.push(l.clone(), vec![Sample::new(T0 + step * 300_000, 1.0)]);
        st.append(&b).unwrap();
        counted.push(st.hours_ready());
    }
    // At 5 h the window (10 min) still holds the fifth hour open.
    assert_eq!(st.hours_ready(), 4, "{counted:?}");
    assert!(counted.windows(2).all(|w| w[0] <= w[1]), "{counted:?}");
    assert_eq!(st.persist().unwrap().partitions.len(), 4);
    assert_eq!(st.hours_ready(), 0);
    let mut b = WriteBatch::new();
    b.push(l, vec![Sample::new(T0 + 6 * 3_600_000, 1.0)]);
    st.append(&b).unwrap();
    assert_eq!(st.hours_ready(), 1);
}
