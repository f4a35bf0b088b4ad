//! Remote-write bodies and posting them.

use crate::common::http::{Response, request};
use crate::common::server::Server;

/// The headers of a remote-write 1.0 request, as Prometheus sends them.
pub const V1_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// What a remote-write 2.0 answer says it stored of `kind` (`Samples`,
/// `Histograms` or `Exemplars`): its `X-Prometheus-Remote-Write-<kind>-Written`
/// header.
pub fn written<'r>(r: &'r Response, kind: &str) -> Option<&'r str> {
    r.header(&format!("X-Prometheus-Remote-Write-{kind}-Written"))
}

/// The headers of a remote-write 2.0 request.
pub const V2_HEADERS: [(&str, &str); 3] = [
    (
        "Content-Type",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    ),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "2.0.0"),
];

/// Posts a compressed remote-write body with `headers`, and with
/// `Authorization: auth` when given.
pub fn post_write(
    server: &Server,
    headers: &[(&str, &str)],
    auth: Option<&str>,
    body: &[u8],
) -> Response {
    let mut h = headers.to_vec();
    if let Some(a) = auth {
        h.push(("Authorization", a));
    }
    server.post("/api/v1/write", &h, body)
}

/// Posts an uncompressed remote-write 1.0 body, snappy-compressed, as
/// Prometheus sends it.
pub fn remote_write(server: &Server, protobuf: &[u8]) -> Response {
    let body = hourglass::ingest::remote_write::compress(protobuf);
    post_write(server, &V1_HEADERS, None, &body)
}

/// Posts an uncompressed remote-write 2.0 body, snappy-compressed.
pub fn remote_write_v2(server: &Server, protobuf: &[u8]) -> Response {
    let body = hourglass::ingest::remote_write::compress(protobuf);
    post_write(server, &V2_HEADERS, None, &body)
}

/// Posts `series` as one remote-write 1.0 request.
pub fn write_series(server: &Server, series: &[Series<'_>]) -> Response {
    post_write(server, &V1_HEADERS, None, &v1_body(series))
}

/// Wall-clock now in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Labels and samples of one series, for building request bodies.
pub type Series<'a> = (Vec<(&'a str, &'a str)>, Vec<hourglass_storage::Sample>);

/// A snappy-compressed remote-write 1.0 body of `series`.
pub fn v1_body(series: &[Series<'_>]) -> Vec<u8> {
    let mut w = hourglass::ingest::protobuf::Writer::default();
    for (labels, samples) in series {
        hourglass::ingest::remote_write::v1::encode_series(&mut w, labels.iter().copied(), samples);
    }
    hourglass::ingest::remote_write::compress(&w.buf)
}

/// Posts one counter series `name{job}` of `(sample, start timestamp)`
/// pairs as a remote-write 2.0 request.
pub fn write_counter_v2(
    server: &Server,
    name: &str,
    job: &str,
    samples: &[(hourglass_storage::Sample, i64)],
) -> Response {
    use hourglass::ingest::remote_write::{v1, v2};
    let mut e = v2::Encoder::new();
    e.series(
        [("__name__", name), ("job", job)],
        samples,
        Some(v1::MetricType::Counter),
    );
    remote_write_v2(server, &e.finish())
}

/// 2024-01-01T00:00:00Z, the first hour of [`write_node_hours`].
pub const T2024: i64 = 1_704_067_200_000;

/// Writes `name{job="node",instance="a"|"b"}` over `hours` (hour numbers
/// from [`T2024`]), one remote-write request per hour: a sample every 15 s,
/// the n-th since `T2024` valued `n × scale`.
pub fn write_node_hours(server: &Server, name: &str, hours: std::ops::Range<i64>, scale: f64) {
    use hourglass::ingest::protobuf::Writer;
    use hourglass::ingest::remote_write::v1;
    use hourglass_storage::Sample;
    for h in hours {
        let mut w = Writer::default();
        for inst in ["a", "b"] {
            let samples: Vec<Sample> = (h * 240..(h + 1) * 240)
                .map(|i| Sample::new(T2024 + i * 15_000, i as f64 * scale))
                .collect();
            v1::encode_series(
                &mut w,
                [("__name__", name), ("job", "node"), ("instance", inst)],
                &samples,
            );
        }
        let r = remote_write(server, &w.buf);
        assert_eq!(r.status, 204, "{}", r.text());
    }
}

/// `data` gzip-compressed, as a client sends a `Content-Encoding: gzip`
/// body (best compression: a bomb stays small).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}
