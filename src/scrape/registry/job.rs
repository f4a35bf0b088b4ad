//! A registered target as a scrape job: a static target at its address,
//! `job` = its source, and its filters as `metric_relabel_configs`.

use super::{Credentials, Filter, FilterKind, MatchOp, RegisteredTarget};
use crate::scrape::config::{
    Authorization, BasicAuth, DEFAULT_PROTOCOLS, Job, Limits, StaticConfig,
};
use crate::scrape::relabel::{Action, AnchoredRegex, Rule};
use std::collections::BTreeMap;
use std::time::Duration;

/// Decompressed body bytes a registered target may serve per scrape.
pub const BODY_SIZE_LIMIT: u64 = 64 << 20;

/// Prefix of the labels the filter rules use while they run; removed by
/// the last rule.
const TMP: &str = "__hg_filter_";

/// The scrape manager's job name for a target: unique per target, while
/// the series' `job` label is the target's source.
pub fn job_name(target_id: &str) -> String {
    format!("target:{target_id}")
}

/// Whether `t` is a registration this build can keep: a pulled target
/// that makes a scrape job, or a push source of a known method.
pub fn validate(t: &RegisteredTarget) -> Result<(), String> {
    match super::arrivals::Channel::of(&t.collection_method) {
        None if t.collection_method == "PULL_SCRAPING" => to_job(t).map(|_| ()),
        None => Err(format!(
            "unknown collection method {:?}",
            t.collection_method
        )),
        Some(_) if t.endpoint.is_some() || t.credentials.is_some() || !t.filters.is_empty() => {
            Err(format!(
                "a {} source has no endpoint, credentials or filters",
                t.collection_method
            ))
        }
        Some(_) if t.interval_ms < 100 || t.interval_ms > 86_400_000 => Err(format!(
            "expected interval {}ms is not between 100ms and 24h",
            t.interval_ms
        )),
        Some(_) => Ok(()),
    }
}

/// The job that scrapes `t`, or why it cannot be built.
pub fn to_job(t: &RegisteredTarget) -> Result<Job, String> {
    let Some(endpoint) = &t.endpoint else {
        return Err(format!("a {} source is not scraped", t.collection_method));
    };
    if t.interval_ms < 100 {
        return Err(format!(
            "scrape interval {}ms is under 100ms",
            t.interval_ms
        ));
    }
    if t.timeout_ms == 0 || t.timeout_ms > t.interval_ms {
        return Err(format!(
            "scrape timeout {}ms must be positive and at most the interval {}ms",
            t.timeout_ms, t.interval_ms
        ));
    }
    if endpoint.scheme != "http" && endpoint.scheme != "https" {
        return Err(format!("scheme {:?} is not http or https", endpoint.scheme));
    }
    if endpoint.address.is_empty() || endpoint.address.contains('/') {
        return Err(format!("{:?} is not host:port", endpoint.address));
    }
    if !endpoint.metrics_path.starts_with('/') {
        return Err(format!(
            "metrics path {:?} does not start with /",
            endpoint.metrics_path
        ));
    }
    let mut labels: BTreeMap<String, String> = t.labels.clone();
    labels.insert("job".into(), t.source_id.clone());
    let (basic_auth, authorization) = match &t.credentials {
        None => (None, None),
        Some(Credentials::Basic { username, password }) => (
            Some(BasicAuth {
                username: username.clone(),
                password: Some(password.clone()),
                password_file: None,
            }),
            None,
        ),
        Some(Credentials::Bearer { token }) => (
            None,
            Some(Authorization {
                kind: Some("Bearer".into()),
                credentials: Some(token.clone()),
                credentials_file: None,
            }),
        ),
    };
    Ok(Job {
        name: job_name(&t.target_id),
        interval: Duration::from_millis(t.interval_ms),
        timeout: Duration::from_millis(t.timeout_ms),
        protocols: DEFAULT_PROTOCOLS.to_vec(),
        fallback_protocol: None,
        histograms: Default::default(),
        inherits_histograms: Some(t.histograms.unwrap_or_default()),
        metrics_path: endpoint.metrics_path.clone(),
        scheme: endpoint.scheme.clone(),
        params: endpoint.params.clone(),
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        enable_compression: true,
        basic_auth,
        authorization,
        tls: None,
        limits: Limits {
            body_size_limit: BODY_SIZE_LIMIT,
            ..Limits::default()
        },
        static_configs: vec![StaticConfig {
            targets: vec![endpoint.address.clone()],
            labels,
        }],
        file_sd_configs: Vec::new(),
        http_sd_configs: Vec::new(),
        dns_sd_configs: Vec::new(),
        relabel_configs: Vec::new(),
        metric_relabel_configs: filter_rules(&t.filters)?,
    })
}

fn regex(source: &str) -> Result<AnchoredRegex, String> {
    AnchoredRegex::new(source).map_err(|e| format!("invalid regex {source:?}: {e}"))
}

fn rule(action: Action, sources: &[&str], re: &str, target: &str) -> Result<Rule, String> {
    Ok(Rule {
        source_labels: sources.iter().map(|s| s.to_string()).collect(),
        separator: ";".into(),
        target_label: target.to_string(),
        regex: regex(re)?,
        modulus: 0,
        replacement: "1".into(),
        action,
    })
}

/// Filters as relabelling rules. Each filter's conditions are chained
/// through temporary labels: stage 0 is set to `1` when the name matches,
/// stage i+1 when stage i is `1` and condition i holds (the joined input
/// `1;<value>` cannot be mistaken for another split). A series is kept
/// when some include filter's last stage is set (if there are includes)
/// and no exclude filter's is; the temporary labels are then dropped.
pub fn filter_rules(filters: &[Filter]) -> Result<Vec<Rule>, String> {
    if filters.is_empty() {
        return Ok(Vec::new());
    }
    let mut rules = Vec::new();
    let mut includes = Vec::new();
    let mut excludes = Vec::new();
    for (k, f) in filters.iter().enumerate() {
        let stage = |i: usize| format!("{TMP}{k}_{i}");
        let name = f.name_pattern.as_deref().unwrap_or(".*");
        rules.push(rule(Action::Replace, &["__name__"], name, &stage(0))?);
        for (i, m) in f.label_matchers.iter().enumerate() {
            let (prev, next) = (stage(i), stage(i + 1));
            let value = match m.op {
                MatchOp::Equal | MatchOp::NotEqual => regex_escape(&m.value),
                MatchOp::Regex | MatchOp::NotRegex => {
                    regex(&m.value)?;
                    m.value.clone()
                }
            };
            match m.op {
                MatchOp::Equal | MatchOp::Regex => {
                    let re = format!("1;(?:{value})");
                    rules.push(rule(Action::Replace, &[&prev, &m.name], &re, &next)?);
                }
                MatchOp::NotEqual | MatchOp::NotRegex => {
                    let hit = format!("{TMP}{k}_{i}_hit");
                    rules.push(rule(Action::Replace, &[&m.name], &value, &hit)?);
                    rules.push(rule(Action::Replace, &[&prev, &hit], "1;", &next)?);
                }
            }
        }
        let last = stage(f.label_matchers.len());
        match f.kind {
            FilterKind::Include => includes.push(last),
            FilterKind::Exclude => excludes.push(last),
        }
    }
    if !includes.is_empty() {
        let mut r = rule(Action::Keep, &[], ".*1.*", "")?;
        r.source_labels = includes;
        r.separator = String::new();
        rules.push(r);
    }
    if !excludes.is_empty() {
        let mut r = rule(Action::Drop, &[], ".*1.*", "")?;
        r.source_labels = excludes;
        r.separator = String::new();
        rules.push(r);
    }
    let mut cleanup = rule(Action::LabelDrop, &[], &format!("{TMP}.*"), "")?;
    cleanup.replacement = "$1".into();
    rules.push(cleanup);
    Ok(rules)
}

/// `s` as a regex matching exactly `s`.
fn regex_escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::registry::LabelMatcher;

    fn kept(filters: &[Filter], pairs: &[(&str, &str)]) -> bool {
        let rules = filter_rules(filters).unwrap();
        let mut labels: crate::scrape::relabel::LabelSet = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let before = labels.clone();
        let keep = crate::scrape::relabel::apply(&rules, &mut labels);
        if keep {
            assert_eq!(labels, before, "filters must not change labels");
        }
        keep
    }

    fn filter(kind: FilterKind, name: Option<&str>, label_matchers: Vec<LabelMatcher>) -> Filter {
        Filter {
            kind,
            name_pattern: name.map(str::to_string),
            label_matchers,
        }
    }

    fn m(name: &str, op: MatchOp, value: &str) -> LabelMatcher {
        LabelMatcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn includes_keep_only_what_some_include_matches() {
        let f = vec![
            filter(
                FilterKind::Include,
                Some("node_cpu.*"),
                vec![m("mode", MatchOp::NotEqual, "idle")],
            ),
            filter(FilterKind::Include, Some("up"), vec![]),
        ];
        assert!(kept(
            &f,
            &[("__name__", "node_cpu_seconds_total"), ("mode", "user")]
        ));
        assert!(!kept(
            &f,
            &[("__name__", "node_cpu_seconds_total"), ("mode", "idle")]
        ));
        assert!(kept(&f, &[("__name__", "node_cpu_seconds_total")]));
        assert!(kept(&f, &[("__name__", "up")]));
        assert!(!kept(&f, &[("__name__", "node_load1")]));
        // Anchored: a prefix is not a match.
        assert!(!kept(&f, &[("__name__", "upx")]));
    }

    #[test]
    fn excludes_drop_what_all_conditions_match() {
        let f = vec![filter(
            FilterKind::Exclude,
            None,
            vec![
                m("code", MatchOp::Regex, "5.."),
                m("path", MatchOp::Equal, "/a;1;b"),
            ],
        )];
        assert!(!kept(
            &f,
            &[("__name__", "x"), ("code", "500"), ("path", "/a;1;b")]
        ));
        assert!(kept(
            &f,
            &[("__name__", "x"), ("code", "500"), ("path", "/a")]
        ));
        assert!(kept(
            &f,
            &[("__name__", "x"), ("code", "200"), ("path", "/a;1;b")]
        ));
        // A value holding the separator does not fool the chain.
        assert!(kept(&f, &[("__name__", "x"), ("code", "1;500")]));
    }

    #[test]
    fn a_missing_label_has_the_empty_value() {
        let f = vec![filter(
            FilterKind::Exclude,
            Some("m"),
            vec![m("env", MatchOp::Equal, "")],
        )];
        assert!(!kept(&f, &[("__name__", "m")]));
        assert!(kept(&f, &[("__name__", "m"), ("env", "prod")]));
        let f = vec![filter(
            FilterKind::Include,
            None,
            vec![m("env", MatchOp::NotRegex, "dev|test")],
        )];
        assert!(kept(&f, &[("__name__", "m")]));
        assert!(!kept(&f, &[("__name__", "m"), ("env", "dev")]));
    }

    #[test]
    fn include_and_exclude_together() {
        let f = vec![
            filter(FilterKind::Include, Some("http_.*"), vec![]),
            filter(FilterKind::Exclude, Some("http_debug_.*"), vec![]),
        ];
        assert!(kept(&f, &[("__name__", "http_requests_total")]));
        assert!(!kept(&f, &[("__name__", "http_debug_x")]));
        assert!(!kept(&f, &[("__name__", "rpc_x")]));
    }

    #[test]
    fn bad_regexes_are_refused() {
        let f = vec![filter(FilterKind::Include, Some("("), vec![])];
        assert!(filter_rules(&f).unwrap_err().contains("invalid regex"));
        let f = vec![filter(
            FilterKind::Include,
            None,
            vec![m("a", MatchOp::Regex, "[")],
        )];
        assert!(filter_rules(&f).is_err());
    }
}
