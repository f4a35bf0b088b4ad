//! Prometheus scrape configuration parsing and relabelling semantics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass::scrape::config::{ConfigError, ScrapeConfig};
use hourglass::scrape::relabel::{self, LabelSet, Rule};
use std::time::Duration;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A configuration of one job with `yaml` as its relabelling rules.
fn with_rules(yaml: &str) -> String {
    format!(
        "scrape_configs:\n  - job_name: j\n    relabel_configs:\n{}",
        yaml.lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    )
}

fn rules(yaml: &str) -> Vec<Rule> {
    let text = with_rules(yaml);
    match ScrapeConfig::parse(&text) {
        Ok(c) => c.jobs[0].relabel_configs.clone(),
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn rule_error(yaml: &str) -> String {
    let text = with_rules(yaml);
    match ScrapeConfig::parse(&text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn global_defaults_and_job_inheritance_follow_prometheus() {
    let c = ScrapeConfig::parse(
        "global:\n  scrape_interval: 15s\n  sample_limit: 100\n  body_size_limit: 10MB\n\
         rule_files: [a.yml]\nalerting:\n  alertmanagers: []\n\
         scrape_configs:\n\
         \x20 - job_name: a\n\
         \x20 - job_name: b\n    scrape_interval: 5s\n    sample_limit: 0\n    label_limit: 7\n\
         \x20 - job_name: c\n    scrape_interval: 100ms\n    honor_labels: true\n    honor_timestamps: false\n",
    )
    .unwrap();
    assert_eq!(c.ignored_sections, vec!["rule_files", "alerting"]);
    assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    let a = &c.jobs[0];
    assert_eq!(a.interval, Duration::from_secs(15));
    assert_eq!(a.timeout, Duration::from_secs(10));
    assert_eq!(a.metrics_path, "/metrics");
    assert_eq!(a.scheme, "http");
    assert!(a.honor_timestamps && !a.honor_labels && a.enable_compression);
    assert_eq!(a.limits.sample_limit, 100);
    assert_eq!(a.limits.body_size_limit, 10 << 20);
    let b = &c.jobs[1];
    assert_eq!(
        b.timeout,
        Duration::from_secs(5),
        "timeout capped at the interval"
    );
    assert_eq!(
        b.limits.sample_limit, 100,
        "a job's 0 inherits the global limit"
    );
    assert_eq!(b.limits.label_limit, 7);
    let cj = &c.jobs[2];
    assert_eq!(cj.interval, Duration::from_millis(100));
    assert_eq!(cj.timeout, Duration::from_millis(100));
    assert!(cj.honor_labels && !cj.honor_timestamps);
}

#[test]
fn invalid_scrape_config_is_refused_with_line_and_reason() {
    let cases: [(&str, u64, &str); 4] = [
        (
            "global:\n  scrape_interval: 15x\n",
            2,
            "not a valid duration string",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n",
            3,
            "scrape_intervall",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: []\n",
            3,
            "kubernetes_sd_configs",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n",
            4,
            "explode",
        ),
    ];
    for (text, line, word) in cases {
        match ScrapeConfig::parse(text) {
            Err(ConfigError::Yaml {
                line: l, reason, ..
            }) => {
                assert_eq!(l, line, "{text}: {reason}");
                assert!(reason.contains(word), "{text}: {reason}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let broken = "scrape_configs:\n  - job_name: a\n   bad: [\n";
    assert!(matches!(
        ScrapeConfig::parse(broken),
        Err(ConfigError::Yaml { line: 3.., .. })
    ));
}

#[test]
fn scrape_config_rules_spanning_keys_are_refused_by_name() {
    for (text, word) in [
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    scrape_timeout: 2s\n",
            "scrape timeout greater than scrape interval",
        ),
        (
            "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
            "multiple scrape configs",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1/x']\n",
            "not a valid hostname",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_protocols: [Nope]\n",
            "unknown scrape protocol",
        ),
        (
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [x.txt]\n",
            "must end in .json",
        ),
    ] {
        let e = ScrapeConfig::parse(text).unwrap_err().to_string();
        assert!(e.contains(word), "{text}: {e}");
    }
}

#[test]
fn relabel_replace_defaults_join_with_semicolon_and_expand_first_group() {
    let r = rules("- source_labels: [a, b]\n  target_label: c\n");
    let mut l = labels(&[("a", "x"), ("b", "y")]);
    assert!(relabel::apply(&r, &mut l));
    assert_eq!(l["c"], "x;y");

    let r = rules(
        "- source_labels: [__address__]\n  regex: '(.*):(\\d+)'\n  target_label: port\n  replacement: '${2}x'\n",
    );
    let mut l = labels(&[("__address__", "h:9100")]);
    relabel::apply(&r, &mut l);
    assert_eq!(l["port"], "9100x");
    // `$2x` names group "2x", which does not exist: the result is empty and deletes.
    let r = rules(
        "- source_labels: [__address__]\n  regex: '(.*):(\\d+)'\n  target_label: port\n  replacement: '$2x'\n",
    );
    let mut l = labels(&[("__address__", "h:9100"), ("port", "old")]);
    relabel::apply(&r, &mut l);
    assert!(!l.contains_key("port"));
    // The regex is anchored: a partial match is no match.
    let r = rules("- source_labels: [a]\n  regex: 'b'\n  target_label: t\n  replacement: hit\n");
    let mut l = labels(&[("a", "abc")]);
    relabel::apply(&r, &mut l);
    assert!(!l.contains_key("t"));
    // Target label expansion.
    let r =
        rules("- source_labels: [a]\n  regex: '(.*)'\n  target_label: 'x_$1'\n  replacement: v\n");
    let mut l = labels(&[("a", "y")]);
    relabel::apply(&r, &mut l);
    assert_eq!(l["x_y"], "v");
    // Go's \d is ASCII only.
    let r = rules("- source_labels: [a]\n  regex: '\\d+'\n  target_label: t\n  replacement: num\n");
    let mut l = labels(&[("a", "١٢")]);
    relabel::apply(&r, &mut l);
    assert!(!l.contains_key("t"));
}

#[test]
fn relabel_keep_drop_and_equal_actions_filter() {
    let keep = rules("- source_labels: [env]\n  regex: prod|staging\n  action: keep\n");
    assert!(relabel::apply(&keep, &mut labels(&[("env", "prod")])));
    assert!(!relabel::apply(&keep, &mut labels(&[("env", "dev")])));
    assert!(!relabel::apply(&keep, &mut labels(&[])));
    let drop = rules("- source_labels: [env]\n  regex: dev\n  action: Drop\n");
    assert!(!relabel::apply(&drop, &mut labels(&[("env", "dev")])));
    assert!(relabel::apply(&drop, &mut labels(&[("env", "prod")])));
    let ke = rules("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
    assert!(relabel::apply(&ke, &mut labels(&[("a", "1"), ("b", "1")])));
    assert!(!relabel::apply(&ke, &mut labels(&[("a", "1"), ("b", "2")])));
    let de = rules("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
    assert!(!relabel::apply(&de, &mut labels(&[("a", "1"), ("b", "1")])));
    assert!(relabel::apply(&de, &mut labels(&[("a", "1"), ("b", "2")])));
}

#[test]
fn relabel_hashmod_matches_prometheus_md5_sharding() {
    // Values computed with Prometheus's relabel (md5, bytes 8..16 big-endian).
    let r = rules("- source_labels: [a]\n  modulus: 1000\n  target_label: h\n  action: hashmod\n");
    let shard = |v: &str| {
        let mut l = labels(&[("a", v)]);
        relabel::apply(&r, &mut l);
        l["h"].parse::<u64>().unwrap()
    };
    let digest = |v: &str| {
        use md5::Digest;
        let d = md5::Md5::digest(v.as_bytes());
        u64::from_be_bytes(d[8..16].try_into().unwrap()) % 1000
    };
    for v in ["foo", "node1:9100", ""] {
        assert_eq!(shard(v), digest(v));
    }
    // Prometheus's model/relabel test: "baz" with modulus 1000 gives 976.
    assert_eq!(shard("baz"), 976);
}

#[test]
fn relabel_labelmap_labeldrop_labelkeep_and_case() {
    let r = rules("- regex: '__meta_(.+)'\n  action: labelmap\n");
    let mut l = labels(&[("__meta_zone", "a"), ("x", "1")]);
    relabel::apply(&r, &mut l);
    assert_eq!(
        l,
        labels(&[("__meta_zone", "a"), ("zone", "a"), ("x", "1")])
    );
    let r = rules("- regex: 'tmp.*'\n  action: labeldrop\n");
    let mut l = labels(&[("tmp1", "a"), ("x", "1")]);
    relabel::apply(&r, &mut l);
    assert_eq!(l, labels(&[("x", "1")]));
    let r = rules("- regex: 'x|__name__'\n  action: labelkeep\n");
    let mut l = labels(&[("tmp1", "a"), ("x", "1"), ("__name__", "m")]);
    relabel::apply(&r, &mut l);
    assert_eq!(l, labels(&[("x", "1"), ("__name__", "m")]));
    let r = rules(
        "- source_labels: [a]\n  target_label: lo\n  action: lowercase\n\
         - source_labels: [a]\n  target_label: up\n  action: uppercase\n",
    );
    let mut l = labels(&[("a", "AbÇ")]);
    relabel::apply(&r, &mut l);
    assert_eq!(l["lo"], "abç");
    assert_eq!(l["up"], "ABÇ");
}

#[test]
fn relabel_rules_missing_required_fields_are_refused() {
    assert!(rule_error("- action: replace\n").contains("target_label"));
    assert!(rule_error("- action: hashmod\n  target_label: x\n").contains("modulus"));
    assert!(rule_error("- action: labeldrop\n  source_labels: [a]\n").contains("only 'regex'"));
    assert!(
        rule_error("- action: lowercase\n  target_label: x\n  replacement: y\n")
            .contains("replacement")
    );
    assert!(rule_error("- regex: '('\n  target_label: x\n").contains("invalid regex"));
}

#[test]
fn native_histograms_put_the_protobuf_format_first_unless_protocols_are_set() {
    use hourglass::scrape::config::{DEFAULT_PROTOCOLS, PROTO_FIRST_PROTOCOLS, Protocol};
    use hourglass::scrape::negotiate::{Format, accept_header, format_for};
    let c = ScrapeConfig::parse(
        "global:\n  scrape_native_histograms: true\nscrape_configs:\n\
         - job_name: a\n\
         - job_name: b\n  scrape_native_histograms: false\n  scrape_classic_histograms: true\n\
         - job_name: c\n  scrape_protocols: [PrometheusText0.0.4]\n",
    )
    .unwrap();
    let (a, b, cj) = (&c.jobs[0], &c.jobs[1], &c.jobs[2]);
    assert_eq!(a.protocols, PROTO_FIRST_PROTOCOLS);
    assert!(a.histograms.native && !a.histograms.always_classic);
    // The global order (proto first) is inherited whatever the job says.
    assert_eq!(b.protocols, PROTO_FIRST_PROTOCOLS);
    assert!(!b.histograms.native && b.histograms.always_classic);
    assert_eq!(cj.protocols, [Protocol::PrometheusText004]);
    let plain = ScrapeConfig::parse(
        "scrape_configs:\n- job_name: a\n- job_name: b\n  scrape_native_histograms: true\n",
    )
    .unwrap();
    assert_eq!(plain.jobs[0].protocols, DEFAULT_PROTOCOLS);
    assert_eq!(plain.jobs[1].protocols, PROTO_FIRST_PROTOCOLS);
    assert_eq!(
        accept_header(&PROTO_FIRST_PROTOCOLS),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
         application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
         application/openmetrics-text;version=0.0.1;q=0.4,\
         text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,\
         text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    let proto = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    assert_eq!(format_for(Some(proto), None), Ok(Format::Protobuf));
    assert_eq!(
        format_for(Some("application/x-bogus"), Some(Protocol::PrometheusProto)),
        Ok(Format::Protobuf)
    );
}
