//! The histogram keys of targets registered over the REST API:
//! `scrape_config.convert_classic_histograms_to_nhcb` (and the other two
//! keys) apply to the target's scrapes, an absent key is the scrape file's
//! `global` one, the keys survive a restart and are shown by GET, and a
//! key that is not a boolean is refused naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::value;
use common::target::serve_fixed;
use common::targets::*;
use common::*;
use serde_json::json;

const PAGE: &str = "# TYPE req_seconds histogram\n\
req_seconds_bucket{le=\"0.1\"} 10\n\
req_seconds_bucket{le=\"1\"} 30\n\
req_seconds_bucket{le=\"+Inf\"} 40\n\
req_seconds_sum 12\n\
req_seconds_count 40\n";

/// Registers `url` as `id` (source `id` too) with `keys` in its
/// `scrape_config`.
fn register(server: &Server, id: &str, url: &str, keys: serde_json::Value) {
    let mut body = registration(id, url, "200ms");
    body["target_id"] = json!(id);
    let sc = body["scrape_config"].as_object_mut().unwrap();
    sc.insert("scrape_timeout".into(), json!("150ms"));
    sc.extend(keys.as_object().unwrap().clone());
    let r = post_target(server, &body);
    assert_eq!(r.status, 201, "{}", r.text());
}

fn native_count(server: &Server, job: &str) -> Option<f64> {
    value(
        server,
        &format!("histogram_count(req_seconds{{job=\"{job}\"}})"),
    )
}

fn classic_count(server: &Server, job: &str) -> Option<f64> {
    value(
        server,
        &format!("req_seconds_bucket{{job=\"{job}\",le=\"+Inf\"}}"),
    )
}

#[test]
fn registered_targets_take_their_histogram_keys_over_the_files_global_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://{}/metrics", serve_fixed(PAGE));
    let yaml = "global:\n  convert_classic_histograms_to_nhcb: true\n";
    let (_config, server) = start_scraping(tmp.path(), yaml);
    register(&server, "inherits", &url, json!({}));
    register(
        &server,
        "classic",
        &url,
        json!({"convert_classic_histograms_to_nhcb": false}),
    );
    register(
        &server,
        "both",
        &url,
        json!({"always_scrape_classic_histograms": true}),
    );
    wait_for("every target scraped", || {
        ["inherits", "classic", "both"]
            .iter()
            .all(|j| value(&server, &format!("up{{job=\"{j}\"}}")) == Some(1.0))
    });
    // No key: the file's global converts.
    assert_eq!(native_count(&server, "inherits"), Some(40.0));
    assert_eq!(classic_count(&server, "inherits"), None);
    // Its own key wins.
    assert_eq!(native_count(&server, "classic"), None);
    assert_eq!(classic_count(&server, "classic"), Some(40.0));
    // Converted, and the classic series kept beside it.
    assert_eq!(native_count(&server, "both"), Some(40.0));
    assert_eq!(classic_count(&server, "both"), Some(40.0));
    let shown = get_target(&server, "classic").json();
    assert_eq!(
        shown["convert_classic_histograms_to_nhcb"], false,
        "{shown}"
    );
    assert!(get_target(&server, "inherits").json()["convert_classic_histograms_to_nhcb"].is_null());

    // The keys are kept in the registry file across a restart; the file's
    // global is gone, so only the target that sets a key converts.
    assert!(server.terminate().0);
    let server = Server::start(&tmp.path().join("data"), &[]);
    wait_for("classic series of the target that inherited", || {
        classic_count(&server, "inherits") == Some(40.0)
    });
    assert_eq!(native_count(&server, "classic"), None);
    assert_eq!(native_count(&server, "both"), Some(40.0));
}

#[test]
fn a_histogram_key_that_is_not_a_boolean_is_refused_naming_it() {
    let (_tmp, server) = Server::fresh();
    let mut body = registration("s", "http://127.0.0.1:9/metrics", "1s");
    body["scrape_config"]["convert_classic_histograms_to_nhcb"] = json!("yes");
    let r = post_target(&server, &body);
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    assert_mentions(
        &text,
        &[
            "scrape_config.convert_classic_histograms_to_nhcb",
            "must be true or false",
        ],
    );
    // A push source is not scraped: no histogram keys.
    let r = post_target(
        &server,
        &json!({"source_id": "p", "collection_method": "PUSH_GATEWAY",
            "scrape_config": {"scrape_native_histograms": true}}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("scrape_config.scrape_native_histograms"),
        "{}",
        r.text()
    );
}
