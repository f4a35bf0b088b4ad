//! InfluxDB line protocol in: Python's `influxdb-client` writes points
//! with tags, fields of every type and each precision through `/api/v2/write`
//! with `Authorization: Token`; they are queryable under the documented
//! names. `/write` (v1) keeps the good lines of a body with bad ones and
//! names the bad ones by line number; gzip bodies; bad parameters,
//! encodings, escapes, missing fields and huge lines get clear 4xx.
//! The Python test is skipped with a message outside CI when
//! `influxdb_client` is missing (`.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::*;
use common::*;

const TOKEN: &str = "influx-token-0123456789";

fn config() -> String {
    format!("[[auth.write.tokens]]\nname = \"telegraf\"\ntoken = \"{TOKEN}\"\n")
}

#[test]
fn influxdb_client_writes_every_field_type_and_precision() {
    if !common::external::python_has("influxdb_client") {
        return;
    }
    let (_tmp, server) = start_with_config(&config(), &[]);
    let base = now_ms() / 1000 - 120;
    let addr = server.addr.to_string();
    common::external::run_python("influx_write.py", &[&addr, TOKEN, &base.to_string()]);
    for (k, p) in ["ns", "us", "ms", "s"].iter().enumerate() {
        let at = Some((base + k as i64) as f64);
        let sel = |m: &str| format!("{m}{{precision=\"{p}\"}}");
        let t = query_at(
            &server,
            &format!("timestamp({})", sel("weather_temperature")),
            at,
        );
        assert_eq!(t.len(), 1, "{p}: {t:?}");
        assert_eq!(
            t[0].1,
            (base + k as i64) as f64,
            "{p}: stored at the written second"
        );
        let got = query_at(&server, &sel("weather_temperature"), at);
        assert_eq!(
            got,
            vec![(
                labels(&[
                    ("__name__", "weather_temperature"),
                    ("bucket", "metrics"),
                    ("location", "us-midwest"),
                    ("precision", p),
                ]),
                82.5 + k as f64
            )]
        );
        assert_eq!(
            query_at(&server, &sel("weather_humidity"), at)[0].1,
            40.0 + k as f64
        );
        let raining = if k % 2 == 0 { 1.0 } else { 0.0 };
        assert_eq!(query_at(&server, &sel("weather_raining"), at)[0].1, raining);
        assert!(
            query_at(&server, &sel("weather_note"), at).is_empty(),
            "strings skipped"
        );
    }
    let at = Some((base + 4) as f64);
    let disk = query_at(&server, "disk_io_used", at);
    assert_eq!(
        disk,
        vec![(
            labels(&[
                ("__name__", "disk_io_used"),
                ("bucket", "metrics"),
                ("host", "a,b"),
                ("path", "/var log"),
            ]),
            12.0
        )]
    );
    assert_eq!(query_at(&server, "disk_io_free", at)[0].1, 3500.0);
}

#[test]
fn v1_write_keeps_good_lines_and_names_bad_ones() {
    let (_tmp, server) = Server::fresh();
    let t = now_ms() / 1000 - 60;
    let body = format!(
        "cpu,host=a usage=1.5 {t}\n\
         # a comment\n\
         \n\
         cpu,host=b usage= {t}\n\
         cpu,host=c usage=2i,idle=true {t}\n\
         mem,host=a {t}\n\
         cpu,host=d\\ usage=3 {t}\n\
         cpu,host=e usage=\"open {t}\n\
         cpu,host=f\\\n\
         cpu,host=g usage=abc {t}\n\
         cpu,host=h usage=5u\n"
    );
    let r = server.post(
        "/write?db=telegraf&rp=autogen&precision=s",
        &[],
        body.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert_mentions(
        &msg,
        &[
            "stored 4 fields",
            "6 bad lines",
            "line 4: field \"usage\": missing value",
            "line 6: missing fields",
            "line 7: missing fields",
            "line 8: field \"usage\": unterminated string",
            "line 9: bad escape",
            "line 10: field \"usage\": invalid value \"abc\"",
        ],
    );
    let at = Some(t as f64);
    assert_eq!(
        query_at(&server, "cpu_usage{host=\"a\"}", at),
        vec![(
            labels(&[("__name__", "cpu_usage"), ("db", "telegraf"), ("host", "a")]),
            1.5
        )]
    );
    assert_eq!(
        value(&server, &format!("cpu_usage{{host=\"c\"}} @ {t}")),
        Some(2.0)
    );
    assert_eq!(
        value(&server, &format!("cpu_idle{{host=\"c\"}} @ {t}")),
        Some(1.0)
    );
    // No timestamp: the time of arrival.
    assert_eq!(value(&server, "cpu_usage{host=\"h\"}"), Some(5.0));

    // gzip, and a good body: 204.
    let gz = gzip(format!("net,if=eth0 rx=10i,tx=20i {}\n", t * 1_000_000_000).as_bytes());
    let r = server.post("/write?db=telegraf", &[("Content-Encoding", "gzip")], &gz);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(value(&server, &format!("net_tx @ {t}")), Some(20.0));
}

#[test]
fn bad_influx_requests_are_refused_clearly() {
    let (_tmp, server) = start_with_config(&config(), &[]);
    let auth = ("Authorization", "Token influx-token-0123456789");
    let line = b"m f=1\n";
    let check = |path: &str, headers: &[(&str, &str)], body: &[u8], code: u16, says: &str| {
        let r = server.post(path, headers, body);
        assert_eq!(r.status, code, "{path}: {}", r.text());
        assert!(
            r.text().contains(says),
            "{path}: {:?} lacks {says:?}",
            r.text()
        );
    };
    check("/api/v2/write?bucket=b", &[], line, 401, "credentials");
    check(
        "/api/v2/write?bucket=b",
        &[("Authorization", "Token wrong")],
        line,
        401,
        "credentials",
    );
    check(
        "/api/v2/write?org=o",
        &[auth],
        line,
        400,
        "bucket is required",
    );
    check(
        "/write?precision=s",
        &[auth],
        line,
        400,
        "database is required",
    );
    check(
        "/api/v2/write?bucket=b&precision=m",
        &[auth],
        line,
        400,
        "invalid precision",
    );
    check(
        "/api/v2/write?bucket=b",
        &[auth, ("Content-Encoding", "br")],
        line,
        415,
        "Content-Encoding",
    );
    check(
        "/api/v2/write?bucket=b",
        &[auth, ("Content-Encoding", "gzip")],
        line,
        400,
        "invalid gzip",
    );
    let huge = format!("m,t={} f=1\nm g=2\n", "x".repeat(70_000));
    check(
        "/api/v2/write?bucket=b",
        &[auth],
        huge.as_bytes(),
        400,
        "line 1: line is 70008 bytes, over the limit",
    );
    let r = server.post("/api/v2/write?bucket=b", &[auth], huge.as_bytes());
    assert_eq!(r.json()["code"], "invalid");
    // The good line of that body was stored; earlier refusals lost nothing.
    assert_eq!(value(&server, "m_g"), Some(2.0));
    check(
        "/api/v2/write?bucket=b",
        &[auth],
        b"m f=1 99999999999999999999\n",
        400,
        "invalid timestamp",
    );
    check(
        "/write?db=x&precision=h",
        &[auth],
        b"m f=1 9999999999999999\n",
        400,
        "out of range",
    );
}
