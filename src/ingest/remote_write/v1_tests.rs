//! Tests of remote write 1.0 decoding and encoding.

#[test]
fn label_strings_are_checked_as_utf8_whatever_their_layout() {
    let long = "é".repeat(100);
    let many: Vec<(String, String)> = (0..30)
        .map(|i| (format!("l{i:02}"), format!("ü{i}")))
        .collect();
    let mut w = Writer::default();
    let pairs = [
        ("__name__", "up"),
        ("long", long.as_str()),
        ("zone", "日本"),
    ];
    encode_series(&mut w, pairs, &[Sample::new(1, 1.0)]);
    encode_series(
        &mut w,
        many.iter().map(|(a, b)| (a.as_str(), b.as_str())),
        &[],
    );
    let req = decode(&w.buf).unwrap();
    assert_eq!(req.labels_of(&req.series[0]), pairs);
    let got: Vec<(String, String)> = req
        .labels_of(&req.series[1])
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, many, "order kept past the span limit");

    // A label message without a name (or value) field decodes as "".
    let mut w = Writer::default();
    w.message(1, |ts| {
        ts.message(1, |l| l.bytes(2, b"v"));
        ts.message(1, |l| l.bytes(1, b"n"));
    });
    let req = decode(&w.buf).unwrap();
    assert_eq!(req.labels_of(&req.series[0]), [("", "v"), ("n", "")]);

    // A bad byte in any label, first or past the limit, is refused
    // with its offset.
    for series in [0usize, 1] {
        let mut w = Writer::default();
        let bad = "bad!";
        if series == 0 {
            encode_series(&mut w, [("__name__", "up"), ("x", bad)], &[]);
        } else {
            encode_series(
                &mut w,
                many.iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .chain([("x", bad)]),
                &[],
            );
        }
        let at = w.buf.windows(4).position(|x| x == b"bad!").unwrap();
        w.buf[at + 3] = 0xff;
        let Err(DecodeError::Wire(e)) = decode(&w.buf) else {
            panic!("decodes");
        };
        assert_eq!(e.what, "string is not valid UTF-8");
        assert_eq!(e.offset, at, "series {series}");
    }
}

#[test]
fn buffers_are_reused_across_requests() {
    let mut w = Writer::default();
    for i in 0..50 {
        let v = i.to_string();
        encode_series(
            &mut w,
            [("__name__", "up"), ("i", v.as_str())],
            &[Sample::new(i, 1.0)],
        );
    }
    let mut bufs = DecodeBuffers::default();
    let req = decode_into(&w.buf, bufs.take()).unwrap();
    assert_eq!(req.series.len(), 50);
    let (ptr, cap) = (req.labels.as_ptr() as usize, req.labels.capacity());
    bufs.give_back(req);
    let body = w.buf.clone();
    let again = decode_into(&body, bufs.take()).unwrap();
    assert_eq!(
        again.labels.as_ptr() as usize,
        ptr,
        "label vector reallocated"
    );
    assert_eq!(again.labels.capacity(), cap);
    assert_eq!(again, decode(&body).unwrap());
}

use super::*;
use proptest::prelude::*;

/// A request written byte by byte from the .proto, so the decoder is
/// checked against the spec rather than against our own encoder.
#[test]
fn decodes_a_hand_written_request() {
    let mut b = vec![0x0a, 0x16]; // timeseries, 22 bytes
    b.extend([0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']); // label a="b"
    b.extend([0x12, 0x0c, 0x09]); // sample, value:
    b.extend(1.0f64.to_le_bytes());
    b.extend([0x10, 0xe8, 0x07]); // timestamp 1000
    b.extend([0x1a, 0x07, 0x08, 0x01, 0x12, 0x03, b'u', b'p', b's']); // metadata
    let req = decode(&b).unwrap();
    assert_eq!(req.series.len(), 1);
    assert_eq!(req.labels_of(&req.series[0]), &[("a", "b")]);
    assert_eq!(req.samples_of(&req.series[0]), &[Sample::new(1000, 1.0)]);
    assert_eq!(
        req.metadata,
        vec![Metadata {
            kind: MetricType::Counter,
            family: "ups",
            help: "",
            unit: ""
        }]
    );
}

#[test]
fn sent_keys_name_the_label_fields_as_sent() {
    let key = |labels: &[(&str, &str)], samples: &[Sample]| {
        let mut w = Writer::default();
        encode_series(&mut w, labels.iter().copied(), samples);
        decode(&w.buf).unwrap().series[0].sent_key
    };
    let up = [("__name__", "up"), ("job", "node")];
    let a = key(&up, &[Sample::new(1, 1.0)]);
    assert!(a.is_some());
    assert_eq!(a, key(&up, &[Sample::new(2, 5.0), Sample::new(3, 1.0)]));
    assert_ne!(a, key(&[("__name__", "up"), ("job", "api")], &[]));
    // Another order is another key (for the same series).
    assert_ne!(a, key(&[up[1], up[0]], &[]));
    assert_eq!(key(&[], &[Sample::new(1, 1.0)]), None);

    // The key covers the label fields whole: those of a hand-written
    // series, after its samples, give the same key.
    let label_a = [0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b'];
    let mut sample = vec![0x12, 0x0c, 0x09];
    sample.extend(1.0f64.to_le_bytes());
    sample.extend([0x10, 0xe8, 0x07]);
    let series = |parts: &[&[u8]]| {
        let body: Vec<u8> = parts.concat();
        let mut b = vec![0x0a, body.len() as u8];
        b.extend(body);
        b
    };
    let first_bytes = series(&[&label_a, &sample]);
    let first = decode(&first_bytes).unwrap();
    let after_bytes = series(&[&sample, &label_a]);
    let after = decode(&after_bytes).unwrap();
    assert_eq!(first.series[0].sent_key, Some(sent_key(&label_a)));
    assert_eq!(after.series[0].sent_key, Some(sent_key(&label_a)));
    // Label fields split by a sample: no key (they would be hashed apart).
    let label_c = [0x0a, 0x06, 0x0a, 0x01, b'c', 0x12, 0x01, b'd'];
    let split_bytes = series(&[&label_a, &sample, &label_c]);
    let split = decode(&split_bytes).unwrap();
    assert_eq!(split.labels_of(&split.series[0]), [("a", "b"), ("c", "d")]);
    assert_eq!(split.series[0].sent_key, None);
    let both_bytes = series(&[&label_a, &label_c, &sample]);
    let both = decode(&both_bytes).unwrap();
    assert_eq!(
        both.series[0].sent_key,
        Some(sent_key(&[label_a, label_c].concat()))
    );
}

#[test]
fn unknown_fields_are_skipped_and_damage_is_an_error() {
    let mut w = Writer::default();
    w.uint(15, 7); // unknown top-level varint
    encode_series(&mut w, [("__name__", "up")], &[Sample::new(-5, f64::NAN)]);
    w.bytes(16, b"ignored");
    let req = decode(&w.buf).unwrap();
    assert_eq!(req.samples[0].t, -5);
    assert!(req.samples[0].v.is_nan());
    for cut in 1..w.buf.len() - 9 {
        // Truncations that end inside the series must fail, not panic.
        let _ = decode(&w.buf[..cut]);
    }
    let mut bad = w.buf.clone();
    let at = bad.iter().position(|&c| c == b'u').unwrap();
    bad[at] = 0xff;
    let e = decode(&bad).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
}

#[test]
fn random_bytes_never_panic() {
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..400), |b| {
            let _ = decode(&b);
            Ok(())
        })
        .unwrap();
}

proptest! {
    #[test]
    fn round_trip(
        series in proptest::collection::vec(
            (
                proptest::collection::vec(("[a-z_]{1,8}", ".{0,12}"), 0..5),
                proptest::collection::vec((any::<i64>(), any::<u64>()), 0..5),
            ),
            0..6,
        )
    ) {
        let mut w = Writer::default();
        for (labels, samples) in &series {
            let samples: Vec<Sample> =
                samples.iter().map(|&(t, bits)| Sample::new(t, f64::from_bits(bits))).collect();
            encode_series(&mut w, labels.iter().map(|(n, v)| (n.as_str(), v.as_str())), &samples);
        }
        let req = decode(&w.buf).unwrap();
        prop_assert_eq!(req.series.len(), series.len());
        for (got, (labels, samples)) in req.series.iter().zip(&series) {
            let want: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(req.labels_of(got), &want[..]);
            let bits: Vec<(i64, u64)> = req.samples_of(got).iter().map(|s| (s.t, s.v.to_bits())).collect();
            prop_assert_eq!(&bits, samples);
        }
        // Deferred, then decoded: the same series.
        let mut later = decode_deferring(&w.buf, WriteRequest::default(), &mut Bounds::none()).unwrap();
        for i in 0..later.series.len() {
            later.decode_labels(i, &w.buf, &mut Bounds::none()).unwrap();
        }
        prop_assert_eq!(later.series.len(), req.series.len());
        for (a, b) in later.series.iter().zip(&req.series) {
            prop_assert_eq!(later.labels_of(a), req.labels_of(b));
            prop_assert_eq!(a.sent_key, b.sent_key);
            prop_assert_eq!(a.deferred.clone(), None);
            prop_assert_eq!(later.samples_of(a).len(), req.samples_of(b).len());
        }
        // Equal keys, equal labels as sent, and the other way round.
        for (i, a) in req.series.iter().enumerate() {
            for b in &req.series[i + 1..] {
                prop_assert_eq!(a.sent_key == b.sent_key, req.labels_of(a) == req.labels_of(b));
            }
        }
    }
}

/// `decode_deferring` leaves one run of label fields undecoded, with its
/// key; what those bytes hold is checked only when they are decoded.
#[test]
fn deferred_labels_are_checked_when_decoded() {
    let mut w = Writer::default();
    encode_series(
        &mut w,
        [("__name__", "up"), ("x", "bad!")],
        &[Sample::new(1, 1.0)],
    );
    encode_series(
        &mut w,
        [("__name__", "up"), ("x", "ok")],
        &[Sample::new(1, 2.0)],
    );
    let at = w.buf.windows(4).position(|x| x == b"bad!").unwrap();
    w.buf[at + 3] = 0xff;
    let mut req = decode_deferring(&w.buf, WriteRequest::default(), &mut Bounds::none()).unwrap();
    assert!(
        req.series
            .iter()
            .all(|s| s.deferred.is_some() && s.sent_key.is_some())
    );
    assert!(req.labels_of(&req.series[0]).is_empty());
    req.decode_labels(1, &w.buf, &mut Bounds::none()).unwrap();
    assert_eq!(
        req.labels_of(&req.series[1]),
        [("__name__", "up"), ("x", "ok")]
    );
    let Err(DecodeError::Wire(e)) = req.decode_labels(0, &w.buf, &mut Bounds::none()) else {
        panic!("bad label decodes");
    };
    assert_eq!((e.what, e.offset), ("string is not valid UTF-8", at));
    // Decoding again is a no-op once decoded.
    req.decode_labels(1, &w.buf, &mut Bounds::none()).unwrap();
    assert_eq!(req.labels_of(&req.series[1]).len(), 2);
}

/// Labels split by other fields, or of a series with native histograms,
/// are decoded at once.
#[test]
fn split_labels_and_histogram_series_are_not_deferred() {
    let mut w = Writer::default();
    w.message(1, |ts| {
        ts.message(1, |l| {
            l.bytes(1, b"__name__");
            l.bytes(2, b"up");
        });
        ts.message(2, |m| {
            m.double(1, 1.0);
            m.uint(2, 5);
        });
        ts.message(1, |l| {
            l.bytes(1, b"job");
            l.bytes(2, b"a");
        });
    });
    let h = hourglass_storage::Histogram {
        count: 1,
        zero_count: 1,
        ..Default::default()
    };
    encode_histogram_series(&mut w, [("__name__", "h")], &[(5, h)], &[]);
    let req = decode_deferring(&w.buf, WriteRequest::default(), &mut Bounds::none()).unwrap();
    assert_eq!(
        req.labels_of(&req.series[0]),
        [("__name__", "up"), ("job", "a")]
    );
    assert_eq!(req.labels_of(&req.series[1]), [("__name__", "h")]);
    assert!(req.series.iter().all(|s| s.deferred.is_none()));
    assert_eq!(req.series[0].sent_key, None);
    assert!(req.series[1].sent_key.is_some());
}

/// Room a request used is kept for the next; room it left unused is
/// given back (the labels of series found by key are never decoded).
#[test]
fn unused_room_is_given_back() {
    let mut bufs = DecodeBuffers::default();
    let mut big = Writer::default();
    for i in 0..5_000 {
        let v = i.to_string();
        encode_series(
            &mut big,
            [("__name__", "up"), ("i", v.as_str())],
            &[Sample::new(i, 1.0)],
        );
    }
    let req = decode_into(&big.buf, bufs.take()).unwrap();
    assert_eq!(req.labels.len(), 10_000);
    bufs.give_back(req);
    let mut w = Writer::default();
    encode_series(&mut w, [("__name__", "up")], &[Sample::new(1, 1.0)]);
    let req = decode_into(&w.buf, bufs.take()).unwrap();
    assert!(
        req.labels.capacity() >= 10_000,
        "a full request's room is kept"
    );
    bufs.give_back(req);
    let req = decode_into(&w.buf, bufs.take()).unwrap();
    assert!(
        req.labels.capacity() <= 2 * KEEP_ROOM,
        "{}",
        req.labels.capacity()
    );
    assert!(req.series.capacity() <= 2 * KEEP_ROOM);
    bufs.give_back(req);
}
