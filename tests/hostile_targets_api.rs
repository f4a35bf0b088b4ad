//! The targets API under bad input: every malformed registration gets 400
//! naming its field, duplicates 409, unknown ids 404, oversized bodies 413
//! and the registered-target bound holds; targets that fail (500s,
//! garbage, unreachable, too slow) are unhealthy with the reason while
//! other targets' data is untouched; a torn or corrupted registry file is
//! set aside and reported at startup; registering needs write credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::{results, sample_value};
use common::target::{closed_port, serve_text};
use common::targets::*;
use common::{JSON, Server};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[test]
fn every_bad_registration_gets_400_naming_the_field() {
    let (_dir, server) = Server::fresh();
    let ok = || registration("src", "http://127.0.0.1:9/metrics", "1s");
    let with = |path: &[&str], v: serde_json::Value| {
        let mut b = ok();
        let mut at = &mut b;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        b
    };
    // A registration with the value at `path` replaced, refused naming
    // `field` (`at`: naming that path).
    let named =
        |path: &[&str], v, field: &str, reason| (with(path, v), Some(field.to_string()), reason);
    let at = |path: &[&str], v, reason| (with(path, v), Some(path.join(".")), reason);
    let cases: Vec<(serde_json::Value, Option<String>, &str)> = vec![
        at(
            &["scrape_config", "target_url"],
            json!("not a url at all"),
            "not a valid URL",
        ),
        at(
            &["scrape_config", "target_url"],
            json!("ftp://h:1/x"),
            "not supported",
        ),
        at(
            &["scrape_config", "target_url"],
            json!("http://:9100/metrics"),
            "",
        ),
        at(
            &["scrape_config", "target_url"],
            json!("http://u:p@h:1/m"),
            "credentials",
        ),
        at(&["scrape_config", "target_url"], json!(""), "empty"),
        at(&["scrape_config", "target_url"], json!(42), "string"),
        at(
            &["scrape_config", "scrape_interval"],
            json!("50ms"),
            "100ms",
        ),
        at(
            &["scrape_config", "scrape_interval"],
            json!("soon"),
            "cannot parse",
        ),
        at(&["scrape_config", "scrape_interval"], json!(-1), ""),
        at(&["scrape_config", "scrape_interval"], json!("48h"), "24h"),
        at(
            &["scrape_config", "scrape_timeout"],
            json!("2s"),
            "longer than",
        ),
        at(&["scrape_config", "scrape_timeout"], json!("0s"), ""),
        at(
            &["scrape_config", "scheme"],
            json!("gopher"),
            "http or https",
        ),
        at(&["scrape_config", "scheme"], json!("https"), "conflicts"),
        at(
            &["scrape_config", "metrics_path"],
            json!("metrics"),
            "start with /",
        ),
        at(
            &["scrape_config", "metrics_path"],
            json!("/other"),
            "conflicts",
        ),
        named(
            &["scrape_config", "authentication"],
            json!({"type": "digest"}),
            "scrape_config.authentication.type",
            "unknown",
        ),
        named(
            &["scrape_config", "authentication"],
            json!({"basic": {"username": "u"}}),
            "scrape_config.authentication.basic.password",
            "required",
        ),
        named(
            &["scrape_config", "authentication"],
            json!({"bearer": {}}),
            "scrape_config.authentication.bearer.token",
            "required",
        ),
        at(&["scrape_config", "colour"], json!("red"), "unknown field"),
        at(&["collection_method"], json!("CARRIER_PIGEON"), "unknown"),
        named(
            &["collection_method"],
            json!("PUSH_GATEWAY"),
            "scrape_config.target_url",
            "PUSH_GATEWAY source is not scraped",
        ),
        named(
            &["collection_method"],
            json!("STREAMING"),
            "scrape_config.target_url",
            "STREAMING source is not scraped",
        ),
        named(
            &["collection_method"],
            json!("BATCH_UPLOAD"),
            "scrape_config.target_url",
            "BATCH_UPLOAD source is not scraped",
        ),
        at(&["source_id"], json!(""), "empty"),
        at(&["source_id"], json!("x".repeat(200)), "longer"),
        at(&["target_id"], json!("a/b"), "letters"),
        named(
            &["filters"],
            json!([{"type": "include", "name_pattern": "(unclosed"}]),
            "filters[0].name_pattern",
            "invalid regex",
        ),
        named(
            &["filters"],
            json!([{"type": "maybe"}]),
            "filters[0].type",
            "include or exclude",
        ),
        named(
            &["filters"],
            json!([{"type": "exclude", "label_matchers": [{"name": "a", "op": "=~", "value": "["}]}]),
            "filters[0].label_matchers[0].value",
            "invalid regex",
        ),
        named(
            &["filters"],
            json!([{"type": "exclude", "label_matchers": [{"name": "a", "op": "<>", "value": "x"}]}]),
            "filters[0].label_matchers[0].op",
            "op must be",
        ),
        named(
            &["filters"],
            json!([{"type": "exclude", "label_matchers": [{"name": "0bad", "value": "x"}]}]),
            "filters[0].label_matchers[0].name",
            "not a valid label name",
        ),
        at(&["filters"], json!("all"), "list"),
        named(
            &["retention_policy"],
            json!({"duration": "forever"}),
            "retention_policy.duration",
            "cannot parse",
        ),
        named(
            &["retention_policy"],
            json!({"days": 3}),
            "retention_policy.days",
            "unknown field",
        ),
        named(&["labels"], json!({"job": "x"}), "labels.job", "source_id"),
        named(
            &["labels"],
            json!({"__meta": "x"}),
            "labels.__meta",
            "not a valid",
        ),
        at(&["surprise"], json!(1), "unknown field"),
        (
            json!({"collection_method": "PULL_SCRAPING", "scrape_config": {"target_url": "http://h:1"}}),
            Some("source_id".into()),
            "required",
        ),
        (
            json!({"source_id": "s"}),
            Some("scrape_config".into()),
            "required",
        ),
        (json!([1, 2]), None, "JSON object"),
    ];
    for (body, field, reason) in &cases {
        let r = post_target(&server, body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        let e = r.json();
        assert_eq!(e["field"].as_str(), field.as_deref(), "{body}: {e}");
        assert!(e["error"].as_str().unwrap().contains(reason), "{body}: {e}");
    }
    for raw in [&b"{not json"[..], b"", b"\xff\xfe"] {
        let r = post_raw(&server, raw, &[]);
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("JSON"));
    }
    // Nothing of it was registered.
    assert_eq!(server.get("/api/v1/metrics/targets").json()["total"], 0);
    let r = server.get("/api/v1/metrics/targets?limit=5000");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "limit");
    println!("{} bad registrations refused with their field", cases.len());
}

#[test]
fn duplicates_get_409_unknown_ids_404_and_bounds_hold() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-registered-targets", "2"]);
    let mut a = registration("src", "http://127.0.0.1:9/metrics", "1s");
    a["target_id"] = json!("a");
    assert_eq!(post_target(&server, &a).status, 201);
    let r = post_target(&server, &a);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["field"], "target_id");
    // Same source and URL under another id (the URL spelled differently).
    let mut same = registration("src", "127.0.0.1:9", "5s");
    same["target_id"] = json!("b");
    let r = post_target(&server, &same);
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["field"], "scrape_config.target_url");
    assert!(
        r.text().contains("\\\"a\\\""),
        "names the registered id: {}",
        r.text()
    );
    // Another source may scrape the same URL; an id is generated.
    let r = post_target(
        &server,
        &registration("other", "http://127.0.0.1:9/metrics", "1s"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let generated = r.json()["target_id"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 16, "{generated}");
    // The bound.
    let r = post_target(
        &server,
        &registration("third", "http://127.0.0.1:9/x", "1s"),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("max-registered-targets"), "{}", r.text());
    // Unknown ids.
    for path in [
        "/api/v1/metrics/targets/nope",
        "/api/v1/metrics/targets/%2e%2e",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["field"], "target_id");
    }
    assert_eq!(delete_target(&server, "nope").status, 404);
    // A body over 64 KiB.
    let mut big = registration("big", "http://127.0.0.1:9/y", "1s");
    big["labels"] = json!({"pad": "x".repeat(70 * 1024)});
    let r = post_target(&server, &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("65536"));
    // After a delete there is room again.
    assert_eq!(delete_target(&server, &generated).status, 204);
    let r = post_target(
        &server,
        &registration("third", "http://127.0.0.1:9/x", "1s"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn failing_targets_are_unhealthy_with_the_reason_and_others_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good_body = Arc::new(Mutex::new("good_metric 7\n".to_string()));
    let addr = serve_text(good_body);
    let dead = closed_port();
    let server = Server::start(dir.path(), &[]);
    let cases = [
        ("fail", format!("http://{addr}/fail"), "500"),
        ("garbage", format!("http://{addr}/garbage"), "invalid"),
        ("unreachable", format!("http://{dead}/metrics"), "refused"),
        ("slow", format!("http://{addr}/slow"), "deadline exceeded"),
        ("good", format!("http://{addr}/metrics"), ""),
    ];
    for (id, url, _) in &cases {
        let mut b = registration(id, url, "1s");
        b["target_id"] = json!(id);
        b["scrape_config"]["scrape_timeout"] = json!("500ms");
        assert_eq!(post_target(&server, &b).status, 201);
    }
    for (id, _, reason) in &cases[..4] {
        let t = wait_health(&server, id, "UNHEALTHY");
        let err = t["last_error"].as_str().unwrap_or_default().to_string();
        println!("{id}: {err}");
        assert!(!err.is_empty(), "{id}: {t}");
        assert!(err.to_lowercase().contains(reason), "{id}: {err}");
    }
    wait_health(&server, "good", "HEALTHY");
    let good = results(&server, "good_metric{job=\"good\"}");
    assert_eq!(good.len(), 1);
    assert_eq!(sample_value(&good[0]), 7.0);
    for (id, _, _) in &cases[..4] {
        let up = results(&server, &format!("up{{job=\"{id}\"}}"));
        assert_eq!(sample_value(&up[0]), 0.0, "{id}");
        // Nothing of a failed scrape is stored but the report series.
        let all = results(&server, &format!("{{job=\"{id}\"}}"));
        for s in &all {
            let name = s["metric"]["__name__"].as_str().unwrap();
            assert!(name == "up" || name.starts_with("scrape_"), "{id}: {name}");
        }
    }
    let unhealthy = server
        .get("/api/v1/metrics/targets?health=unhealthy")
        .json();
    assert_eq!(unhealthy["total"], 4, "{unhealthy}");
}

#[test]
fn a_torn_or_corrupted_registry_is_set_aside_and_reported() {
    for damage in ["torn", "flipped", "garbage"] {
        let (dir, server) = Server::fresh();
        let mut b = registration("src", "http://127.0.0.1:9/metrics", "1s");
        b["target_id"] = json!("kept");
        assert_eq!(post_target(&server, &b).status, 201);
        let (ok, _) = server.terminate();
        assert!(ok);
        let path = dir.path().join("targets.registry");
        let mut bytes = std::fs::read(&path).unwrap();
        match damage {
            "torn" => bytes.truncate(bytes.len() / 2),
            "flipped" => {
                let i = bytes.len() - 10;
                bytes[i] ^= 0x01;
            }
            _ => bytes = b"\x00\x01 not a registry at all".to_vec(),
        }
        std::fs::write(&path, &bytes).unwrap();
        let server = Server::start(dir.path(), &[]);
        let list = server.get("/api/v1/metrics/targets").json();
        assert_eq!(list["total"], 0, "{damage}: {list}");
        let warning = list["warnings"][0].as_str().unwrap_or_default().to_string();
        println!("{damage}: {warning}");
        assert!(warning.contains("set aside"), "{damage}: {list}");
        assert_eq!(
            std::fs::read(dir.path().join("targets.registry.corrupt")).unwrap(),
            bytes,
            "{damage}"
        );
        // The server works: a new registration is accepted and kept.
        assert_eq!(post_target(&server, &b).status, 201, "{damage}");
        let (ok, _) = server.terminate();
        assert!(ok);
        let server = Server::start(dir.path(), &[]);
        assert_eq!(get_target(&server, "kept").status, 200, "{damage}");
        assert!(server.get("/api/v1/metrics/targets").json()["warnings"].is_null());
    }
}

#[test]
fn registering_and_deleting_need_write_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hourglass.toml");
    std::fs::write(
        &config,
        "[[auth.write.tokens]]\nname = \"w\"\ntoken = \"write-token-0123456789\"\n\
         [[auth.read.tokens]]\nname = \"r\"\ntoken = \"read-token-0123456789\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let body = registration("src", "http://127.0.0.1:9/metrics", "1s").to_string();
    let post = |token: &str| {
        let auth = format!("Bearer {token}");
        server.post(
            "/api/v1/metrics/targets",
            &[JSON, ("Authorization", &auth)],
            body.as_bytes(),
        )
    };
    assert_eq!(post("read-token-0123456789").status, 401);
    let r = post("write-token-0123456789");
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["target_id"].as_str().unwrap().to_string();
    let get = |path: &str, token: &str| {
        let auth = format!("Bearer {token}");
        server.get_with(path, &[("Authorization", &auth)]).status
    };
    assert_eq!(get("/api/v1/metrics/targets", "read-token-0123456789"), 200);
    assert_eq!(get("/api/v1/metrics/stats", "read-token-0123456789"), 200);
    assert_eq!(get("/api/v1/metrics/targets", "nope-nope-nope-nope"), 401);
    let del = |token: &str| {
        let auth = format!("Bearer {token}");
        server
            .request(
                "DELETE",
                &format!("/api/v1/metrics/targets/{id}"),
                &[("Authorization", &auth)],
                b"",
            )
            .status
    };
    assert_eq!(del("read-token-0123456789"), 401);
    assert_eq!(del("write-token-0123456789"), 204);
}
