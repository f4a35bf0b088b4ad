//! Remote-write 1.0 decoding: a request of 2,000 node-exporter-like series
//! (one sample each, as Prometheus sends them), snappy block and protobuf,
//! into reused buffers as the server does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{compress, decompress_into, v1};
use hourglass_storage::Sample;
use std::hint::black_box;

const SERIES: usize = 2000;

fn request() -> Vec<u8> {
    let mut w = Writer::default();
    for i in 0..SERIES {
        let inst = format!("host-{:03}:9100", i / 100);
        let cpu = (i % 16).to_string();
        let labels = [
            ("__name__", "node_cpu_seconds_total"),
            ("cpu", cpu.as_str()),
            ("instance", inst.as_str()),
            ("job", "node"),
            ("mode", "idle"),
        ];
        let t = 1_700_000_000_000 + i as i64;
        v1::encode_series(&mut w, labels, &[Sample::new(t, i as f64 * 1.5)]);
    }
    w.buf
}

fn decode(c: &mut Criterion) {
    let raw = request();
    let body = compress(&raw);
    let mut group = c.benchmark_group("remote_write_decode");
    group.throughput(Throughput::Elements(SERIES as u64));
    let mut bufs = v1::DecodeBuffers::default();
    group.bench_function("protobuf_2000_series", |b| {
        b.iter(|| {
            let req = v1::decode_into(black_box(&raw), bufs.take());
            if let Ok(req) = req {
                bufs.give_back(black_box(req));
            }
        })
    });
    let mut out = Vec::new();
    group.bench_function("snappy_and_protobuf_2000_series", |b| {
        b.iter(|| {
            if decompress_into(black_box(&body), 64 << 20, &mut out).is_ok()
                && let Ok(req) = v1::decode_into(&out, bufs.take())
            {
                bufs.give_back(black_box(req));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
