//! Arbitrary text as a rule file, as the rule part of a Prometheus
//! configuration, and as a template expanded over a sample: parsing,
//! checking and expanding must never panic.
#![no_main]

use hourglass::rules::config::RulesConfig;
use hourglass::rules::file;
use hourglass::rules::template::{Data, Template};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = file::parse("f.yml", text);
    let _ = RulesConfig::parse("p.yml", text, std::path::Path::new("/"));
    let labels: BTreeMap<String, String> = [("instance".to_string(), "h:1".to_string())].into();
    let empty = BTreeMap::new();
    if let Ok(t) = Template::parse("t", text) {
        let _ = t.expand(
            "t",
            &Data {
                labels: &labels,
                value: 1.5,
                external_labels: &empty,
                external_url: "",
                query: None,
                now_s: 0.0,
            },
        );
    }
});
