//! Issue #16's live stream is fed from every ingest path, not remote
//! write alone: a scraped series, a Pushgateway push and an Influx line
//! reach one WebSocket subscriber, each sample as it is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::events::Ws;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Reads stream messages until every name in `want` was seen with a
/// value; returns name → (labels, first value).
fn collect(ws: &mut Ws, want: &[&str]) -> BTreeMap<String, (serde_json::Value, String)> {
    let mut labels: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while want.iter().any(|n| !seen.contains_key(*n)) {
        assert!(Instant::now() < deadline, "only {seen:?} arrived");
        let m = ws.recv_type("samples");
        for s in m["series"].as_array().unwrap() {
            labels.insert(s["id"].as_u64().unwrap(), s["labels"].clone());
        }
        for d in m["data"].as_array().unwrap() {
            let l = labels
                .get(&d["id"].as_u64().unwrap())
                .expect("labels before data");
            let name = l["__name__"].as_str().unwrap().to_string();
            let v = d["values"][0][1].as_str().unwrap().to_string();
            seen.entry(name).or_insert((l.clone(), v));
        }
    }
    seen
}

#[test]
fn scraped_pushed_and_influx_samples_reach_a_websocket_subscriber() {
    let (_dir, server) = Server::fresh();
    let mut ws = Ws::connect(
        server.addr,
        "/api/v1/stream?match[]=%7B__name__%3D~%22scraped_live%7Cpushed_live%7Cinflux_live_value%22%7D",
    );
    ws.set_read_timeout(Duration::from_secs(30));
    let target = common::target::serve_fixed("scraped_live 42\nnot_followed 1\n");
    let r = common::targets::post_target(
        &server,
        &common::targets::registration("live-src", &format!("http://{target}/metrics"), "1s"),
    );
    assert!(r.status < 300, "{}", r.text());
    let r = server.request(
        "PUT",
        "/metrics/job/pusher",
        &[],
        b"# TYPE pushed_live gauge\npushed_live 7\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.post(
        "/write?db=live&precision=ms",
        &[],
        b"influx_live value=3.5\n",
    );
    assert!(r.status < 300, "{}", r.text());
    let seen = collect(
        &mut ws,
        &["scraped_live", "pushed_live", "influx_live_value"],
    );
    let (scraped, v) = &seen["scraped_live"];
    assert_eq!(v, "42");
    assert!(scraped["instance"].as_str().is_some(), "{scraped}");
    let (pushed, v) = &seen["pushed_live"];
    assert_eq!(v, "7");
    assert_eq!(pushed["job"], "pusher", "{pushed}");
    assert_eq!(seen["influx_live_value"].1, "3.5");
    assert!(!seen.contains_key("not_followed"));
}
