//! What an idle series costs the head in heap bytes: node-exporter-like
//! series (3 to 6 labels, the remote-write bench's shapes) with a few
//! samples each, counted by an allocator that tracks live bytes.
//! Requested bytes, not the allocator's size classes: the figure to watch
//! is how it moves, the 1M-series RSS bench (`benches/memory_1m.sh`) is
//! the one to compare with other systems.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_storage::internals::{Head, HeadRef, MemPostings, PostingId};
use hourglass_storage::{HeadOptions, Labels, Sample, WriteBatch};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// The ~100 series of host `h`, label shapes as `hourglass bench ingest`
/// makes them.
fn host(h: usize) -> Vec<Labels> {
    let inst = format!("10.0.{}.{}:9100", h / 256, h % 256);
    let base = |name: &str| {
        vec![
            ("__name__", name.to_string()),
            ("instance", inst.clone()),
            ("job", "node".into()),
        ]
    };
    let mut out = Vec::new();
    for cpu in 0..8 {
        for mode in [
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
        ] {
            let mut l = base("node_cpu_seconds_total");
            l.push(("cpu", cpu.to_string()));
            l.push(("mode", mode.into()));
            out.push(l);
        }
    }
    for m in 0..15 {
        out.push(base(&format!("node_memory_{m}_bytes")));
    }
    for fs in ["sda1", "sda2", "sdb1"] {
        for m in ["avail", "size", "files_free"] {
            let mut l = base(&format!("node_filesystem_{m}"));
            l.push(("device", fs.into()));
            l.push(("mountpoint", format!("/{fs}")));
            l.push(("fstype", "ext4".into()));
            out.push(l);
        }
    }
    for dev in ["eth0", "eth1", "lo"] {
        for m in ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets"] {
            let mut l = base(&format!("node_network_{m}_total"));
            l.push(("device", dev.into()));
            out.push(l);
        }
    }
    out.into_iter().map(Labels::from_pairs).collect()
}

#[test]
fn an_idle_node_exporter_series_costs_the_head_under_300_bytes() {
    const HOSTS: usize = 500;
    let t0 = 1_700_000_000_000;
    let opts = HeadOptions {
        clock: hourglass_storage::Clock::from_fn(move || t0 + 3_600_000),
        ..HeadOptions::default()
    };
    let before = counting_alloc::live();
    let head = Head::new(opts);
    let mut series = 0;
    for scrape in 0..3 {
        for h in 0..HOSTS {
            let mut b = WriteBatch::new();
            for l in host(h) {
                b.push(l, vec![Sample::new(t0 + scrape * 15_000, h as f64)]);
            }
            if scrape == 0 {
                series += b.series.len();
            }
            head.append(&b, None).unwrap();
        }
    }
    let per_series = (counting_alloc::live() - before) as f64 / series as f64;
    // The postings' share, built alone from the same labels and ids.
    let before_postings = counting_alloc::live();
    let mut p = MemPostings::<HeadRef>::new();
    let mut id = 0;
    for h in 0..HOSTS {
        for l in host(h) {
            p.add(HeadRef::from_raw(id), &l);
            id += 1;
        }
    }
    let postings = (counting_alloc::live() - before_postings) as f64 / series as f64;
    println!(
        "{series} series, 3 samples each: {per_series:.0} heap bytes a series, \
         of which postings about {postings:.0} (ids in host order)"
    );
    drop(p);
    assert_eq!(head.stats().series, series);
    assert!(per_series < 300.0, "{per_series:.0} bytes a series");
}
