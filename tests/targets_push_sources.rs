//! Registered push sources on a real server: a PUSH_GATEWAY, STREAMING or
//! BATCH_UPLOAD registration is stored but not scraped; its health comes
//! from what arrives (Pushgateway pushes of its job, remote writes and
//! custom-metrics batches under the write token named like it), counts in
//! the collection stats, survives a restart, and stops being tracked once
//! deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::JSON;
use common::query::results;
use common::targets::*;
use common::{Response, Server, now_ms, request, v1_body};
use hourglass_storage::Sample;
use serde_json::json;

const TEXT: (&str, &str) = ("Content-Type", "text/plain; version=0.0.4");

fn push(server: &Server, job: &str, body: &str) -> Response {
    request(
        server.addr,
        "PUT",
        &format!("/metrics/job/{job}/instance/i1"),
        &[TEXT],
        body.as_bytes(),
    )
}

fn stats(server: &Server) -> serde_json::Value {
    let r = server.get("/api/v1/metrics/stats");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn pushgateway_source_is_unknown_then_healthy_then_unhealthy_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = post_target(
        &server,
        &json!({"target_id": "nightly", "source_id": "nightly_batch",
                "collection_method": "PUSH_GATEWAY", "labels": {"team": "data"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let t = r.json();
    println!("registered: {t}");
    assert_eq!(t["collection_method"], "PUSH_GATEWAY");
    assert_eq!(t["health_status"], "UNKNOWN");
    assert!(t["target_url"].is_null());
    assert_eq!(t["scrape_interval"], "5m");
    assert_eq!(t["labels"], json!({"job": "nightly_batch", "team": "data"}));

    // Another job's push is not this source's.
    assert_eq!(push(&server, "other_job", "x 1\n").status, 200);
    assert_eq!(
        get_target(&server, "nightly").json()["health_status"],
        "UNKNOWN"
    );

    let before = now_ms();
    let r = push(
        &server,
        "nightly_batch",
        "# TYPE rows_total counter\nrows_total 10\nrows_failed 2\nduration_seconds 3.5\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = get_target(&server, "nightly").json();
    println!("after a push: {t}");
    assert_eq!(t["health_status"], "HEALTHY");
    assert_eq!(t["samples_scraped"], 3);
    assert_eq!(t["scrapes"], 1);
    assert!(t["last_error"].is_null());
    let last = t["last_scrape"].as_str().unwrap();
    let last_ms = hourglass_storage::calendar::parse_rfc3339_ms(last).unwrap();
    assert!(
        last_ms >= before - 1000 && last_ms <= now_ms() + 1000,
        "{last}"
    );
    assert!(t["scrape_duration_ms"].as_f64().unwrap() >= 0.0);
    // The samples are stored under the source's job.
    assert_eq!(
        results(&server, "rows_total{job=\"nightly_batch\"}").len(),
        1
    );

    // Pushed samples may not carry timestamps: refused, with the reason.
    let r = push(&server, "nightly_batch", "rows_total 11 1700000000000\n");
    assert_eq!(r.status, 400, "{}", r.text());
    let t = get_target(&server, "nightly").json();
    println!("after a refused push: {t}");
    assert_eq!(t["health_status"], "UNHEALTHY");
    let err = t["last_error"].as_str().unwrap();
    assert!(err.contains("400") && err.contains("timestamp"), "{err}");
    assert_eq!(
        (t["scrapes"].as_u64(), t["failed_scrapes"].as_u64()),
        (Some(2), Some(1))
    );

    // Listed with the health filter; counted by the stats.
    let l = server
        .get("/api/v1/metrics/targets?health=unhealthy")
        .json();
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["targets"][0]["target_id"], "nightly");
    let s = stats(&server);
    assert_eq!(
        (s["total_targets"].as_u64(), s["healthy_targets"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );

    assert_eq!(
        push(&server, "nightly_batch", "rows_total 12\n").status,
        200
    );
    assert_eq!(
        get_target(&server, "nightly").json()["health_status"],
        "HEALTHY"
    );
    let s = stats(&server);
    assert_eq!(s["healthy_targets"], 1, "{s}");

    // Deleting stops the tracking; the series stay (no stale markers).
    assert_eq!(delete_target(&server, "nightly").status, 204);
    assert_eq!(get_target(&server, "nightly").status, 404);
    assert_eq!(stats(&server)["total_targets"], 0);
    assert_eq!(
        results(&server, "rows_total{job=\"nightly_batch\"}").len(),
        1
    );
}

#[test]
fn a_push_source_that_goes_quiet_turns_unhealthy_after_twice_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = post_target(
        &server,
        &json!({"target_id": "hb", "source_id": "heartbeat",
                "collection_method": "PUSH_GATEWAY",
                "scrape_config": {"scrape_interval": "200ms"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(push(&server, "heartbeat", "beat 1\n").status, 200);
    let t = wait_health(&server, "hb", "UNHEALTHY");
    println!("quiet: {t}");
    let err = t["last_error"].as_str().unwrap();
    assert!(
        err.contains("nothing arrived") && err.contains("200ms"),
        "{err}"
    );
    assert_eq!(t["failed_scrapes"], 0);
}

#[test]
fn push_sources_survive_a_restart_and_are_never_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for (id, method) in [
        ("p", "PUSH_GATEWAY"),
        ("s", "STREAMING"),
        ("b", "BATCH_UPLOAD"),
    ] {
        let r = post_target(
            &server,
            &json!({"target_id": id, "source_id": "edge", "collection_method": method}),
        );
        assert_eq!(r.status, 201, "{method}: {}", r.text());
    }
    // One registration per source and method.
    let r = post_target(
        &server,
        &json!({"source_id": "edge", "collection_method": "STREAMING"}),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["field"], "source_id");
    assert_eq!(push(&server, "edge", "m 1\n").status, 200);
    let (ok, _) = server.terminate();
    assert!(ok);

    let server = Server::start(dir.path(), &[]);
    let l = server.get("/api/v1/metrics/targets").json();
    println!("after restart: {l}");
    assert_eq!(l["total"], 3, "{l}");
    // Arrivals are not persisted: unknown again until the next one.
    for t in l["targets"].as_array().unwrap() {
        assert_eq!(t["health_status"], "UNKNOWN", "{t}");
    }
    // Not scrape pools: Prometheus's target list has none of them.
    let p = server.get("/api/v1/targets").json();
    assert_eq!(p["data"]["activeTargets"], json!([]), "{p}");
    assert_eq!(push(&server, "edge", "m 2\n").status, 200);
    assert_eq!(get_target(&server, "p").json()["health_status"], "HEALTHY");
    assert_eq!(get_target(&server, "s").json()["health_status"], "UNKNOWN");
}

#[test]
fn bad_push_registrations_get_400_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let cases = [
        (
            json!({"collection_method": "PUSH_GATEWAY"}),
            "source_id",
            "required",
        ),
        (
            json!({"source_id": "a", "collection_method": "CARRIER_PIGEON"}),
            "collection_method",
            "unknown collection_method",
        ),
        (
            json!({"source_id": "a", "collection_method": "STREAMING",
                   "scrape_config": {"target_url": "http://127.0.0.1:9/metrics"}}),
            "scrape_config.target_url",
            "not scraped",
        ),
        (
            json!({"source_id": "a", "collection_method": "BATCH_UPLOAD",
                   "scrape_config": {"scrape_interval": "1s", "scrape_timeout": "1s"}}),
            "scrape_config.scrape_timeout",
            "not scraped",
        ),
        (
            json!({"source_id": "a", "collection_method": "PUSH_GATEWAY",
                   "scrape_config": {"scrape_interval": "10ms"}}),
            "scrape_config.scrape_interval",
            "between 100ms and 24h",
        ),
        (
            json!({"source_id": "a", "collection_method": "PUSH_GATEWAY",
                   "filters": [{"type": "include", "name_pattern": "x"}]}),
            "filters",
            "stored as it sends them",
        ),
    ];
    for (body, field, words) in cases {
        let r = post_target(&server, &body);
        println!("{body} -> {} {}", r.status, r.text());
        assert_eq!(r.status, 400, "{body}");
        let j = r.json();
        assert_eq!(j["field"], field, "{body}: {j}");
        assert!(j["error"].as_str().unwrap().contains(words), "{body}: {j}");
    }
    assert_eq!(server.get("/api/v1/metrics/targets").json()["total"], 0);
}

const TOKEN: &str = "edge-prom-token-0123456789";
const BATCH_TOKEN: &str = "loader-token-0123456789";

fn authed(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    h: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(h);
    request(server.addr, method, path, &headers, body)
}

#[test]
fn streaming_and_batch_sources_are_healthy_from_their_write_tokens_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hourglass.toml");
    std::fs::write(&cfg, common::auth::write_tokens(&["edge-prom", "loader"])).unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", cfg.to_str().unwrap()]);
    for (id, source, method) in [
        ("rw", "edge-prom", "STREAMING"),
        ("up", "loader", "BATCH_UPLOAD"),
    ] {
        let body = json!({"target_id": id, "source_id": source, "collection_method": method,
                          "scrape_config": {"scrape_interval": "1m"}});
        let r = authed(
            &server,
            "POST",
            "/api/v1/metrics/targets",
            TOKEN,
            &[JSON],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let t = r.json();
        assert_eq!(t["health_status"], "UNKNOWN");
        assert_eq!(
            t["labels"],
            json!({}),
            "not the series' job: they keep their own"
        );
    }
    let rw = |token: &str, ts: i64| {
        let body = v1_body(&[
            (
                vec![("__name__", "edge_up"), ("job", "edge")],
                vec![Sample::new(ts, 1.0), Sample::new(ts + 1, 1.0)],
            ),
            (
                vec![("__name__", "edge_load"), ("job", "edge")],
                vec![Sample::new(ts, 0.5)],
            ),
        ]);
        authed(
            &server,
            "POST",
            "/api/v1/write",
            token,
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
            ],
            &body,
        )
    };
    // The loader's remote write is not the edge-prom source's arrival.
    assert_eq!(rw(BATCH_TOKEN, now_ms() - 10_000).status, 204);
    assert_eq!(get_target(&server, "rw").json()["health_status"], "UNKNOWN");

    let r = rw(TOKEN, now_ms() - 5_000);
    assert_eq!(r.status, 204, "{}", r.text());
    let t = get_target(&server, "rw").json();
    println!("streaming after a remote write: {t}");
    assert_eq!(t["health_status"], "HEALTHY");
    assert_eq!(t["samples_scraped"], 3);
    assert!(t["last_scrape"].is_string());

    // A write refused by storage (samples far older than the head takes).
    let r = rw(TOKEN, 1_000);
    println!("old samples: {} {}", r.status, r.text());
    assert_eq!(r.status, 400);
    let t = get_target(&server, "rw").json();
    println!("streaming after a refused write: {t}");
    assert_eq!(t["health_status"], "UNHEALTHY");
    assert!(t["last_error"].as_str().unwrap().starts_with("400"), "{t}");

    // A batch of custom metrics under the loader's token.
    let batch = br#"[{"name":"rows_loaded","metric_type":"GAUGE","value":120},
                     {"name":"rows_skipped","metric_type":"GAUGE","value":3}]"#;
    let r = authed(
        &server,
        "POST",
        "/api/v1/metrics/custom",
        BATCH_TOKEN,
        &[JSON],
        batch,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t = get_target(&server, "up").json();
    println!("batch after a custom push: {t}");
    assert_eq!(t["health_status"], "HEALTHY");
    assert_eq!(t["samples_scraped"], 2);
    let r = authed(
        &server,
        "POST",
        "/api/v1/metrics/custom",
        BATCH_TOKEN,
        &[JSON],
        b"[{\"name\":\"x\"}]",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let t = get_target(&server, "up").json();
    assert_eq!(t["health_status"], "UNHEALTHY", "{t}");
    assert!(
        t["last_error"].as_str().unwrap().contains("metric_type"),
        "{t}"
    );
}
