//! Arbitrary text as a Prometheus scrape configuration and as a file SD
//! file: parsing and building targets (relabelling included) must never
//! panic.
#![no_main]

use hourglass::scrape::config::ScrapeConfig;
use hourglass::scrape::discovery::{JobDiscovery, file};
use hourglass::scrape::target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for is_json in [true, false] {
        if let Ok(groups) = file::parse_groups(text, is_json, "f.yml")
            && let Ok(c) = ScrapeConfig::parse(
                "scrape_configs:\n  - job_name: j\n    relabel_configs:\n      - regex: '__meta_(.*)'\n        action: labelmap\n",
            )
        {
            let _ = target::build_all(&c.jobs[0], groups.iter());
        }
    }
    if let Ok(c) = ScrapeConfig::parse(text) {
        for job in &c.jobs {
            let d = JobDiscovery::new(job);
            let _ = target::build_all(job, d.groups());
        }
    }
});
