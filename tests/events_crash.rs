//! Issue #16's durability promise under kill -9: an event whose batch was
//! acknowledged is in the outbox, so SIGKILL right after the last answer
//! loses none, duplicates none and keeps each source's order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::events::Sse;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

#[test]
fn sigkill_right_after_acknowledged_pushes_keeps_every_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (senders, each) = (4usize, 25usize);
    std::thread::scope(|s| {
        for t in 0..senders {
            let addr = server.addr;
            s.spawn(move || {
                for n in 1..=each {
                    // Push n has n samples: the event's metrics_count names it.
                    let body: String = (0..n).map(|i| format!("m{i} {n}\n")).collect();
                    let r = common::http::request(
                        addr,
                        "PUT",
                        &format!("/metrics/job/crash{t}"),
                        &[],
                        body.as_bytes(),
                    );
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            });
        }
    });
    common::signal(server.child.as_ref().unwrap(), "KILL");
    drop(server);
    let server = Server::start(dir.path(), &[]);
    let total = senders * each;
    let subs = server.get("/api/v1/events/subscriptions").json();
    assert_eq!(subs["data"]["head"], total as u64 + 1, "{subs}");
    let got = Sse::connect(server.addr, "/api/v1/events?since=1", &[]).take(total);
    let ids: Vec<u64> = got.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids, (1..=total as u64).collect::<Vec<_>>());
    let mut batches = HashSet::new();
    let mut per_source: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in &got {
        let mc: Value = e.json()["metrics_collected"].clone();
        assert!(
            batches.insert(mc["collection_batch_id"].as_str().unwrap().to_string()),
            "a batch twice: {mc}"
        );
        per_source
            .entry(mc["source_id"].as_str().unwrap().to_string())
            .or_default()
            .push(mc["metrics_count"].as_u64().unwrap());
    }
    assert_eq!(per_source.len(), senders);
    for (source, counts) in &per_source {
        assert_eq!(
            counts,
            &(1..=each as u64).collect::<Vec<_>>(),
            "{source}: every acknowledged push once, in order"
        );
    }
}

#[test]
fn sigkill_right_after_acknowledged_custom_pushes_keeps_their_batch_upload_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let n = 20;
    for i in 0..n {
        let body = serde_json::json!([{"name": "queue_depth", "metric_type": "GAUGE", "value": i}]);
        let r = common::custom::post_custom(&server, body.to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    common::signal(server.child.as_ref().unwrap(), "KILL");
    drop(server);
    let server = Server::start(dir.path(), &[]);
    let got = Sse::connect(server.addr, "/api/v1/events?since=1", &[]).take(n);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.id, Some(i as u64 + 1));
        let mc = &e.json()["metrics_collected"];
        assert_eq!(mc["collection_method"], "BATCH_UPLOAD", "{mc}");
        assert_eq!(mc["source_id"], "custom", "{mc}");
    }
}
