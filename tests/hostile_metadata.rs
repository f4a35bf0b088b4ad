//! Sender-reported metadata is bounded: a flood of metric families or one
//! enormous help text cannot grow the server's memory, the writes that
//! carry them still store their samples, and every dropped entry is
//! counted. Pushgateway pushes are held to their caller's series quota.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::*;
use common::*;

const TOKEN: &str = "pusher-token-0123456789";

fn push(server: &Server, auth: Option<&str>, job: &str, body: &str) -> Response {
    let mut headers = vec![("Content-Type", "text/plain; version=0.0.4")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    server.request(
        "PUT",
        &format!("/metrics/job/{job}"),
        &headers,
        body.as_bytes(),
    )
}

fn metadata_families(server: &Server) -> usize {
    let r = server.get("/api/v1/metadata");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].as_object().map_or(0, |m| m.len())
}

#[test]
fn a_flood_of_metadata_families_stops_at_the_limit_and_samples_still_land() {
    let (_tmp, server) = start_with_config(
        "[limits]\nmax_metadata_families = 5\nmax_metadata_bytes = 256\n",
        &[],
    );
    let mut body = String::new();
    for i in 0..40 {
        body.push_str(&format!(
            "# HELP fam_{i} family number {i}\n# TYPE fam_{i} gauge\nfam_{i} {i}\n"
        ));
    }
    let r = push(&server, None, "flood", &body);
    assert!(r.status < 300, "{}: {}", r.status, r.text());
    assert_eq!(metadata_families(&server), 5);
    // Every sample was stored even though most metadata was dropped.
    assert_eq!(value(&server, "count({__name__=~\"fam_.*\"})"), Some(40.0));
    assert_eq!(
        metric(
            &server,
            "hourglass_refusals_total{kind=\"metadata\",reason=\"metadata_families_limit\"}"
        ),
        35.0
    );
}

#[test]
fn an_enormous_help_text_is_dropped_not_kept() {
    let (_tmp, server) = start_with_config("[limits]\nmax_metadata_bytes = 1024\n", &[]);
    let help = "x".repeat(100_000);
    let body = format!("# HELP big {help}\n# TYPE big gauge\nbig 1\n# HELP small fine\nsmall 2\n");
    let r = push(&server, None, "big", &body);
    assert!(r.status < 300, "{}: {}", r.status, r.text());
    let j = server.get("/api/v1/metadata").json();
    assert!(j["data"].get("big").is_none(), "{j}");
    assert_eq!(j["data"]["small"][0]["help"], "fine");
    assert_eq!(value(&server, "big"), Some(1.0));
    assert_eq!(
        metric(
            &server,
            "hourglass_refusals_total{kind=\"metadata\",reason=\"metadata_entry_too_long\"}"
        ),
        1.0
    );
}

#[test]
fn pushgateway_pushes_are_held_to_their_tokens_series_quota() {
    let (_tmp, server) = start_with_config(
        &format!(
            "[[auth.write.tokens]]\nname = \"pusher\"\ntoken = \"{TOKEN}\"\nmax_active_series = 3\n"
        ),
        &[],
    );
    let auth = format!("Bearer {TOKEN}");
    // Two series plus the group's push_time_seconds: exactly the quota.
    let r = push(&server, Some(&auth), "a", "m{i=\"1\"} 1\nm{i=\"2\"} 2\n");
    assert!(r.status < 300, "{}: {}", r.status, r.text());
    // A second group needs three more series: refused, the first group kept.
    let r = push(&server, Some(&auth), "b", "m{i=\"3\"} 3\n");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("active_series_limit"), "{}", r.text());
    assert_eq!(value(&server, "count(m)"), Some(2.0));
    // The existing series keep taking pushes.
    let r = push(&server, Some(&auth), "a", "m{i=\"1\"} 10\nm{i=\"2\"} 20\n");
    assert!(r.status < 300, "{}: {}", r.status, r.text());
    assert_eq!(value(&server, "sum(m)"), Some(30.0));
}
