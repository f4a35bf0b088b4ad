//! Writes families in the delimited protobuf exposition format, as a
//! client library serves them (test targets, the fuzz round trip).

use super::{Bucket, Family, HistogramMsg, Metric, Summary};
use crate::ingest::protobuf::Writer;
use crate::ingest::remote_write::histogram::{packed_doubles, packed_sints, put_spans};
use hourglass_storage::encoding::zigzag;

/// Appends `families`, each prefixed with its length.
pub fn encode(families: &[Family<'_>], out: &mut Vec<u8>) {
    for f in families {
        let mut w = Writer::default();
        family(&mut w, f);
        let mut len = Writer::default();
        len.varint(w.buf.len() as u64);
        out.extend_from_slice(&len.buf);
        out.extend_from_slice(&w.buf);
    }
}

fn family(w: &mut Writer, f: &Family<'_>) {
    w.bytes(1, f.name.as_bytes());
    if !f.help.is_empty() {
        w.bytes(2, f.help.as_bytes());
    }
    w.uint(3, f.kind.to_wire());
    for m in &f.metrics {
        w.message(4, |w| metric(w, m));
    }
    if !f.unit.is_empty() {
        w.bytes(5, f.unit.as_bytes());
    }
}

fn timestamp(w: &mut Writer, field: u32, ms: i64) {
    w.message(field, |t| {
        t.uint(1, ms.div_euclid(1000) as u64);
        t.uint(2, (ms.rem_euclid(1000) * 1_000_000) as u64);
    });
}

fn metric(w: &mut Writer, m: &Metric<'_>) {
    for (n, v) in &m.labels {
        w.message(1, |l| {
            l.bytes(1, n.as_bytes());
            l.bytes(2, v.as_bytes());
        });
    }
    if let Some(v) = m.gauge {
        w.message(2, |g| g.double(1, v));
    }
    if let Some(c) = &m.counter {
        w.message(3, |w| {
            w.double(1, c.value);
            if let Some(ms) = c.created_ms {
                timestamp(w, 3, ms);
            }
        });
    }
    if let Some(s) = &m.summary {
        w.message(4, |w| summary(w, s));
    }
    if let Some(v) = m.untyped {
        w.message(5, |u| u.double(1, v));
    }
    if m.timestamp_ms != 0 {
        w.uint(6, m.timestamp_ms as u64);
    }
    if let Some(h) = &m.histogram {
        w.message(7, |w| histogram(w, h));
    }
}

fn summary(w: &mut Writer, s: &Summary) {
    w.uint(1, s.count);
    w.double(2, s.sum);
    for (q, v) in &s.quantiles {
        w.message(3, |m| {
            m.double(1, *q);
            m.double(2, *v);
        });
    }
    if let Some(ms) = s.created_ms {
        timestamp(w, 4, ms);
    }
}

fn bucket(w: &mut Writer, b: &Bucket) {
    w.uint(1, b.cumulative);
    w.double(2, b.upper);
    if b.cumulative_float != 0.0 {
        w.double(4, b.cumulative_float);
    }
}

fn histogram(w: &mut Writer, h: &HistogramMsg) {
    w.uint(1, h.count);
    w.double(2, h.sum);
    for b in &h.buckets {
        w.message(3, |m| bucket(m, b));
    }
    if h.count_float != 0.0 {
        w.double(4, h.count_float);
    }
    w.uint(5, zigzag(i64::from(h.schema)));
    w.double(6, h.zero_threshold);
    w.uint(7, h.zero_count);
    if h.zero_count_float != 0.0 {
        w.double(8, h.zero_count_float);
    }
    put_spans(w, 9, &h.negative_spans);
    packed_sints(w, 10, &h.negative_deltas);
    packed_doubles(w, 11, &h.negative_counts);
    put_spans(w, 12, &h.positive_spans);
    packed_sints(w, 13, &h.positive_deltas);
    packed_doubles(w, 14, &h.positive_counts);
    if let Some(ms) = h.created_ms {
        timestamp(w, 15, ms);
    }
}
