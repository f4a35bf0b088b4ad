//! The interop paths over pre-built inputs: OTLP protobuf requests of
//! 1,000 data points (decode, translate, build the storage batch), InfluxDB
//! line protocol of 5,000 fields (the same), and remote read streaming
//! (STREAMED_XOR_CHUNKS) of 1,000 series × 3,600 samples out of a
//! persisted partition (select, decode our chunks, re-encode Prometheus
//! XOR chunks, frame with CRC-32C).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::ingest::arena::SeriesArena;
use hourglass::ingest::influx::{self, Options as InfluxOptions, Precision};
use hourglass::ingest::otlp::proto;
use hourglass::ingest::otlp::translate::{Metadata, Settings, translate};
use hourglass::ingest::protobuf::Writer;
use hourglass_storage::{Labels, Sample, Storage, WriteBatch};
use std::hint::black_box;

const T0_NS: u64 = 1_700_000_000_000_000_000;

fn kv(w: &mut Writer, field: u32, k: &str, v: &str) {
    w.message(field, |kv| {
        kv.bytes(1, k.as_bytes());
        kv.message(2, |a| a.bytes(1, v.as_bytes()));
    });
}

fn fixed(w: &mut Writer, field: u32, v: u64) {
    w.varint(u64::from(field) << 3 | 1);
    w.buf.extend_from_slice(&v.to_le_bytes());
}

/// 1,000 points: 10 metrics (gauges and cumulative counters) × 100 points
/// with 3 attributes each, one resource with 5 attributes.
fn otlp_body() -> Vec<u8> {
    let mut w = Writer::default();
    w.message(1, |rm| {
        rm.message(1, |r| {
            kv(r, 1, "service.name", "checkout");
            kv(r, 1, "service.namespace", "shop");
            kv(r, 1, "service.instance.id", "pod-7f9c");
            kv(r, 1, "host.name", "node-12");
            kv(r, 1, "cloud.region", "eu-west-1");
        });
        rm.message(2, |sm| {
            for m in 0..10 {
                sm.message(2, |metric| {
                    metric.bytes(1, format!("app.requests.m{m}").as_bytes());
                    metric.bytes(3, b"1");
                    let body = |g: &mut Writer| {
                        for p in 0..100 {
                            g.message(1, |dp| {
                                kv(dp, 7, "http.route", &format!("/api/v{}", p % 10));
                                kv(dp, 7, "http.method", "GET");
                                kv(dp, 7, "status", &format!("{}", 200 + p % 5));
                                fixed(dp, 3, T0_NS + p as u64);
                                dp.double(4, p as f64 * 1.5);
                            });
                        }
                    };
                    if m % 2 == 0 {
                        metric.message(5, body);
                    } else {
                        metric.message(7, |s| {
                            body(s);
                            s.uint(2, 2);
                            s.uint(3, 1);
                        });
                    }
                });
            }
        });
    });
    w.buf
}

/// 1,000 lines of 5 fields, Telegraf's `cpu` measurement.
fn influx_body() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..1000 {
        s.push_str(&format!(
            "cpu,host=server-{:02},cpu=cpu{} usage_user={}.25,usage_system=1.5,usage_idle=90.125,usage_iowait=0i,online=true {}\n",
            i / 16,
            i % 16,
            i % 100,
            1_700_000_000_000_000_000u64 + i
        ));
    }
    s.into_bytes()
}

fn ingest(c: &mut Criterion) {
    let body = otlp_body();
    let mut group = c.benchmark_group("interop_ingest");
    group.throughput(Throughput::Elements(1000));
    let mut arena = SeriesArena::default();
    let settings = Settings {
        promote: &[],
        max_series: 100_000,
        ..Settings::default()
    };
    group.bench_function("otlp_protobuf_1000_points", |b| {
        b.iter(|| {
            arena.clear();
            let req = proto::decode(black_box(&body)).unwrap();
            let mut md = Metadata::new();
            let o = translate(&req, &settings, &mut arena, &mut md, &mut |_| true);
            assert_eq!(o.accepted, 1000);
            arena.with_batch(|batch| black_box(batch.num_samples()))
        })
    });
    let lines = influx_body();
    let opts = InfluxOptions {
        db_label: Some(("db", "telegraf")),
        precision: Precision::Nanoseconds,
        now_ms: 0,
        max_series: 100_000,
    };
    group.throughput(Throughput::Elements(5000));
    group.bench_function("influx_line_protocol_5000_fields", |b| {
        b.iter(|| {
            arena.clear();
            let r = influx::decode(black_box(&lines), &opts, &mut arena, &mut |_| true);
            assert_eq!(r.fields, 5000);
            arena.with_batch(|batch| black_box(batch.num_samples()))
        })
    });
    group.finish();
}

const SERIES: usize = 1000;
const SAMPLES: i64 = 3600;

/// A store with one persisted hour of 1,000 node-exporter-like series at
/// 1 s, and the remote-read request selecting all of them.
fn persisted() -> (tempfile::TempDir, Storage, Vec<u8>, i64) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), hourglass_storage::Options::default()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = (now / 3_600_000 - 3) * 3_600_000;
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total".to_string()),
                ("instance", format!("host-{:03}:9100", i / 16)),
                ("cpu", (i % 16).to_string()),
                ("job", "node".to_string()),
            ])
        })
        .collect();
    for step in 0..(SAMPLES / 600) {
        let mut batch = WriteBatch::new();
        for (i, l) in labels.iter().enumerate() {
            let samples = (step * 600..(step + 1) * 600)
                .map(|k| Sample::new(hour + k * 1000, (k as f64) * 0.25 + i as f64))
                .collect();
            batch.push(l.clone(), samples);
        }
        storage.append(&batch).unwrap();
    }
    let mut batch = WriteBatch::new();
    batch.push(labels[0].clone(), vec![Sample::new(now, 0.0)]);
    storage.append(&batch).unwrap();
    let stats = storage.persist().unwrap();
    assert!(!stats.partitions.is_empty(), "an hour persisted");
    let mut w = Writer::default();
    w.message(1, |q| {
        q.uint(1, hour as u64);
        q.uint(2, (hour + 3_600_000 - 1) as u64);
        q.message(3, |m| {
            m.uint(1, 0);
            m.bytes(2, b"job");
            m.bytes(3, b"node");
        });
    });
    w.uint(2, 1);
    (dir, storage, w.buf, hour)
}

fn remote_read(c: &mut Criterion) {
    let (_dir, storage, req, _) = persisted();
    let mut group = c.benchmark_group("remote_read");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES as u64 * SAMPLES as u64));
    let mut bytes = 0usize;
    group.bench_function("streamed_xor_chunks_1000x3600_from_partition", |b| {
        b.iter(|| {
            bytes = 0;
            hourglass::fuzzing::remote_read_stream(&storage, &req, &mut |f: Vec<u8>| {
                bytes += f.len();
                true
            })
            .unwrap();
            black_box(bytes)
        })
    });
    group.finish();
    println!(
        "remote_read: {bytes} bytes streamed for {} samples ({:.2} B/sample)",
        SERIES as i64 * SAMPLES,
        bytes as f64 / (SERIES as f64 * SAMPLES as f64)
    );
}

criterion_group!(benches, ingest, remote_read);
criterion_main!(benches);
