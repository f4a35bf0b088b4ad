//! Native histograms over remote write 1.0 and 2.0: integer, float and
//! custom-bucket histograms are stored and read back through the storage
//! querier; an invalid one gets a 400 naming its series and the reason
//! while the good series of the same request are stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use hourglass::ingest::protobuf::Writer;
use hourglass::ingest::remote_write::{v1, v2};
use hourglass_storage::{
    CounterResetHint, FloatHistogram, Histogram, MatchOp, Matcher, Options, Querier, Span, Storage,
};

/// A latency histogram (schema 3, 20 buckets) after `i` scrapes, with
/// delta-coded integer buckets as client libraries send it.
fn latency(i: u64) -> Histogram {
    let counts: Vec<i64> = (0..20).map(|b| (i * (b % 7 + 1)) as i64).collect();
    let mut prev = 0;
    let deltas = counts
        .iter()
        .map(|c| {
            let d = c - prev;
            prev = *c;
            d
        })
        .collect();
    let count = counts.iter().sum::<i64>() as u64 + i;
    Histogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema: 3,
        zero_threshold: 2f64.powi(-128),
        zero_count: i,
        count,
        sum: count as f64 * 0.031,
        positive_spans: vec![Span::new(-12, 10), Span::new(3, 10)],
        positive_deltas: deltas,
        ..Histogram::default()
    }
}

fn nhcb(i: u64) -> FloatHistogram {
    FloatHistogram {
        schema: -53,
        count: 6.0 * i as f64,
        sum: 1.5 * i as f64,
        positive_spans: vec![Span::new(0, 4)],
        positive_buckets: vec![i as f64, 2.0 * i as f64, 0.0, 3.0 * i as f64],
        custom_values: vec![0.1, 0.5, 1.0],
        ..FloatHistogram::default()
    }
}

fn stored(dir: &std::path::Path, name: &str) -> Vec<(i64, FloatHistogram)> {
    let st = Storage::open(dir, Options::default()).unwrap();
    let q = st.querier(i64::MIN, i64::MAX);
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    let got = match q.select(&[m], i64::MIN, i64::MAX).unwrap().next() {
        Some(s) => s.histograms.collect(),
        None => Vec::new(),
    };
    drop(q);
    st.close().unwrap();
    got
}

/// `n` scrapes of [`latency`] every 15 s after `t0`.
fn scrapes(t0: i64, n: u64) -> Vec<(i64, Histogram)> {
    (1..=n)
        .map(|i| (t0 + i as i64 * 15_000, latency(i)))
        .collect()
}

fn to_float(ints: &[(i64, Histogram)]) -> Vec<(i64, FloatHistogram)> {
    ints.iter().map(|(t, h)| (*t, h.to_float())).collect()
}

/// Series `name{job="api"}` with histograms as remote write 1.0 sends them.
fn encode_v1(
    w: &mut Writer,
    name: &str,
    ints: &[(i64, Histogram)],
    floats: &[(i64, FloatHistogram)],
) {
    v1::encode_histogram_series(w, [("__name__", name), ("job", "api")], ints, floats);
}

fn same(got: &[(i64, FloatHistogram)], want: &[(i64, FloatHistogram)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((tg, g), (tw, w)) in got.iter().zip(want) {
        assert_eq!(tg, tw);
        assert!(g.same_bits(w), "at {tg}: {g:?} != {w:?}");
    }
}

#[test]
fn remote_write_1_stores_integer_float_and_custom_bucket_histograms_and_refuses_bad_ones_by_name() {
    let (tmp, server) = Server::fresh();
    let t0 = now_ms() - 600_000;
    let ints = scrapes(t0, 8);
    let floats: Vec<(i64, FloatHistogram)> =
        (1..=3).map(|i| (t0 + i as i64 * 15_000, nhcb(i))).collect();
    let mut bad = latency(2);
    bad.count += 1;
    let mut w = Writer::default();
    encode_v1(&mut w, "rpc_seconds", &ints, &[]);
    encode_v1(&mut w, "batch_seconds", &[], &floats);
    encode_v1(&mut w, "broken_seconds", &[(t0, bad)], &[]);
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    assert!(text.contains("broken_seconds"), "{text}");
    assert!(text.contains("observations found in buckets"), "{text}");
    // Good ones again: idempotent, 204.
    let mut w = Writer::default();
    encode_v1(&mut w, "rpc_seconds", &ints, &[]);
    let r = remote_write(&server, &w.buf);
    assert_eq!(r.status, 204, "{}", r.text());
    let (ok, _) = server.terminate();
    assert!(ok);
    same(&stored(tmp.path(), "rpc_seconds"), &to_float(&ints));
    same(&stored(tmp.path(), "batch_seconds"), &floats);
    assert!(stored(tmp.path(), "broken_seconds").is_empty());
}

#[test]
fn remote_write_2_stores_histograms_reports_them_written_and_reduces_high_schemas() {
    let (tmp, server) = Server::fresh();
    let t0 = now_ms() - 600_000;
    let ints = scrapes(t0, 5);
    // Schema 10 (finer than stored): merged to schema 8 on ingest.
    let fine = FloatHistogram {
        schema: 10,
        count: 10.0,
        sum: 4.0,
        positive_spans: vec![Span::new(1, 4)],
        positive_buckets: vec![1.0, 2.0, 3.0, 4.0],
        ..FloatHistogram::default()
    };
    let mut e = v2::Encoder::new();
    e.histogram_series([("__name__", "rpc_seconds"), ("job", "api")], &ints, &[]);
    e.histogram_series(
        [("__name__", "fine_seconds"), ("job", "api")],
        &[],
        &[(t0, fine)],
    );
    let r = remote_write_v2(&server, &e.finish());
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r, "Histograms"), Some("6"));
    assert_eq!(written(&r, "Samples"), Some("0"));
    let (ok, _) = server.terminate();
    assert!(ok);
    same(&stored(tmp.path(), "rpc_seconds"), &to_float(&ints));
    let fine = stored(tmp.path(), "fine_seconds");
    assert_eq!(fine.len(), 1);
    assert_eq!(fine[0].1.schema, 8);
    assert_eq!(fine[0].1.positive_spans, vec![Span::new(1, 1)]);
    assert_eq!(fine[0].1.positive_buckets, vec![10.0]);
}

#[test]
fn remote_write_2_histogram_start_timestamps_add_an_empty_histogram_only_with_the_flag() {
    let t0 = now_ms() - 600_000;
    let start = t0 - 30_000;
    let batch = |from: u64, to: u64, start: i64| {
        let hs: Vec<(i64, i64, Histogram)> = (from..=to)
            .map(|i| (t0 + i as i64 * 15_000, start, latency(i)))
            .collect();
        let mut e = v2::Encoder::new();
        e.started_histogram_series([("__name__", "rpc_seconds"), ("job", "api")], &hs);
        e.finish()
    };
    for on in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let flags: &[&str] = if on {
            &["--created-timestamp-zero-ingestion"]
        } else {
            &[]
        };
        let server = Server::start(tmp.path(), flags);
        let r = remote_write_v2(&server, &batch(1, 3, start));
        assert_eq!(r.status, 204, "{}", r.text());
        // The zero is not counted as written.
        assert_eq!(written(&r, "Histograms"), Some("3"));
        // A start inside what is stored adds nothing.
        let r = remote_write_v2(&server, &batch(4, 4, t0 + 20_000));
        assert_eq!(r.status, 204, "{}", r.text());
        let (ok, _) = server.terminate();
        assert!(ok);
        let got = stored(tmp.path(), "rpc_seconds");
        let mut want = to_float(&scrapes(t0, 4));
        if on {
            // An empty histogram of the same schema and zero threshold.
            let zero = FloatHistogram {
                schema: 3,
                zero_threshold: 2f64.powi(-128),
                ..FloatHistogram::default()
            };
            want.insert(0, (start, zero));
        }
        same(&got, &want);
    }
}
