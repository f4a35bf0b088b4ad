//! Remote-write 1.0 ingest without the network: snappy, protobuf, the
//! storage batch, the head's append and its WAL record (written, not
//! fsynced), over the stream `hourglass bench ingest` sends
//! (node-realistic, 10,000 series in requests of 2,000, one sample a
//! series), as the server does it.
//!
//! * `sent_keys`: series found by the key of their labels as sent.
//! * `labels`: the same requests with the keys dropped, so every series
//!   is found by sorting, hashing and comparing its labels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::cli::bench::profile::{Config, Generator, Profile};
use hourglass::ingest::remote_write::{decompress_into, v1};
use hourglass_storage::{BorrowedBatch, Options, Storage};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SERIES: usize = 10_000;
const PER_REQUEST: usize = 2_000;
const SCRAPES: usize = 600;

/// The stream's requests in sending order, compressed.
fn stream() -> Vec<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let cfg = Config {
        profile: Profile::NodeRealistic,
        series: SERIES,
        scrapes: SCRAPES,
        start_ms: now - SCRAPES as i64 * 15_000,
        jitter_ms: 0,
        all_moving: false,
        senders: 1,
        samples_per_request: PER_REQUEST,
        protocol: 1,
    };
    Generator::new(cfg)
        .flat_map(|scrape| scrape.into_iter().flatten().map(|r| r.body))
        .collect()
}

/// A fresh store whose WAL is written but not fsynced, with its
/// directory.
fn open() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    opts.wal.sync = hourglass_wal::SyncPolicy::Never;
    (Storage::open(dir.path(), opts).unwrap(), dir)
}

/// Decodes `body` and appends it to `store` as the server does; `keyed`
/// passes each series' sent key on.
fn ingest(
    store: &Storage,
    body: &[u8],
    raw: &mut Vec<u8>,
    bufs: &mut v1::DecodeBuffers,
    keyed: bool,
) {
    decompress_into(body, 64 << 20, raw).unwrap();
    let req = v1::decode_into(raw, bufs.take()).unwrap();
    let mut batch = BorrowedBatch::default();
    batch.series.reserve(req.series.len());
    for ts in &req.series {
        batch.push(req.labels_of(ts), req.samples_of(ts));
        if let Some(s) = batch.series.last_mut() {
            s.sent_key = ts.sent_key.filter(|_| keyed);
        }
    }
    let stats = store.append_borrowed_for(&batch, None).unwrap();
    assert_eq!(stats.appended as usize, req.series.len());
    bufs.give_back(req);
}

fn bench(c: &mut Criterion) {
    let requests = stream();
    let mut g = c.benchmark_group("remote_write_ingest");
    g.throughput(Throughput::Elements(PER_REQUEST as u64));
    for (name, keyed) in [("sent_keys", true), ("labels", false)] {
        let (mut raw, mut bufs) = (Vec::new(), v1::DecodeBuffers::default());
        let mut store = open();
        let mut next = 0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if next == requests.len() {
                        // Every sample was sent: start over on a new store.
                        store = open();
                        next = 0;
                    }
                    let start = Instant::now();
                    ingest(
                        &store.0,
                        black_box(&requests[next]),
                        &mut raw,
                        &mut bufs,
                        keyed,
                    );
                    total += start.elapsed();
                    next += 1;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
