//! Remote-write 1.0 ingest without the network: snappy, protobuf, the
//! storage batch, the head's append and its WAL record (written, not
//! fsynced), over the stream `hourglass bench ingest` sends
//! (node-realistic, 10,000 series in requests of 2,000, one sample a
//! series), as the server does it.
//!
//! * `known`: as the server does it: labels left undecoded, series looked
//!   up by the key of their label fields as sent, and only the labels of
//!   series not found decoded.
//! * `sent_keys`: every label decoded, series found by their keys.
//! * `labels`: the same requests with the keys dropped, so every series
//!   is found by sorting, hashing and comparing its labels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::cli::bench::profile::{Config, Generator, Profile};
use hourglass::ingest::remote_write::{Bounds, decompress_into, v1};
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

/// How a request's series are found.
#[derive(Clone, Copy)]
enum Mode {
    Known,
    SentKeys,
    Labels,
}

/// Decodes `body` and appends it to `store` the way `mode` names.
fn ingest(
    store: &Storage,
    body: &[u8],
    raw: &mut Vec<u8>,
    bufs: &mut v1::DecodeBuffers,
    mode: Mode,
) {
    decompress_into(body, 64 << 20, raw).unwrap();
    let mut req = match mode {
        Mode::Known => v1::decode_deferring(raw, bufs.take(), &mut Bounds::none()).unwrap(),
        _ => v1::decode_into(raw, bufs.take()).unwrap(),
    };
    let mut known = Vec::new();
    if let Mode::Known = mode {
        let keys: Vec<_> = req.series.iter().map(|ts| ts.sent_key).collect();
        known = store.find_sent(&keys);
        for (i, k) in known.iter().enumerate() {
            if k.is_none() {
                req.decode_labels(i, raw, &mut Bounds::none()).unwrap();
            }
        }
    }
    let mut batch = BorrowedBatch::default();
    batch.series.reserve(req.series.len());
    for ts in &req.series {
        batch.push(req.labels_of(ts), req.samples_of(ts));
        if let Some(s) = batch.series.last_mut() {
            s.sent_key = ts.sent_key.filter(|_| !matches!(mode, Mode::Labels));
        }
    }
    let stats = store.append_known(&batch, &known, None).unwrap();
    assert_eq!(stats.appended as usize, req.series.len());
    bufs.give_back(req);
}

fn bench(c: &mut Criterion) {
    let requests = stream();
    let mut g = c.benchmark_group("remote_write_ingest");
    g.throughput(Throughput::Elements(PER_REQUEST as u64));
    for (name, mode) in [
        ("known", Mode::Known),
        ("sent_keys", Mode::SentKeys),
        ("labels", Mode::Labels),
    ] {
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
                        mode,
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
