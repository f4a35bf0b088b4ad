//! What rules need from the Prometheus configuration file that
//! `--scrape-config` names: `rule_files` (globs, relative to the file),
//! `global.evaluation_interval`, `global.rule_query_offset`,
//! `global.external_labels` and `alerting` (static Alertmanagers and
//! `alert_relabel_configs`). The scrape side checks the rest of the file.

use crate::scrape::relabel::Rule as RelabelRule;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most Alertmanagers one configuration may name.
pub const MAX_ALERTMANAGERS: usize = 64;

/// Why the rule part of a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A value that does not fit, with its place.
    #[error("{path}:{line}:{column}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line (0: unknown).
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        reason: String,
    },
}

/// One `alerting.alertmanagers` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    /// `http` or `https`.
    pub scheme: String,
    /// Prefix before `/api/v2/alerts`.
    pub path_prefix: String,
    /// Per-POST timeout (default 10s).
    pub timeout: Duration,
    /// `host:port` of every static target.
    pub targets: Vec<String>,
    /// Applied after the global `alert_relabel_configs`.
    pub alert_relabel_configs: Vec<RelabelRule>,
}

impl AlertmanagerConfig {
    /// The URLs alerts are posted to.
    pub fn urls(&self) -> Vec<String> {
        let prefix = self.path_prefix.trim_end_matches('/');
        self.targets
            .iter()
            .map(|t| format!("{}://{t}{prefix}/api/v2/alerts", self.scheme))
            .collect()
    }
}

/// The rule part of a Prometheus configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// Rule file patterns, made absolute against the configuration's directory.
    pub rule_files: Vec<String>,
    /// Default group interval (1m).
    pub evaluation_interval: Duration,
    /// Default group query offset (0).
    pub query_offset: Duration,
    /// Added to notifications (and `$externalLabels`).
    pub external_labels: BTreeMap<String, String>,
    /// Where alerts go.
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Applied to every alert before it is sent.
    pub alert_relabel_configs: Vec<RelabelRule>,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            rule_files: Vec::new(),
            evaluation_interval: Duration::from_secs(60),
            query_offset: Duration::ZERO,
            external_labels: BTreeMap::new(),
            alertmanagers: Vec::new(),
            alert_relabel_configs: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFile {
    global: RawGlobal,
    rule_files: Vec<String>,
    alerting: RawAlerting,
}

#[derive(Deserialize, Default)]
struct RawGlobal {
    evaluation_interval: Option<String>,
    rule_query_offset: Option<String>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAlerting {
    alert_relabel_configs: Vec<RelabelRule>,
    alertmanagers: Vec<RawAlertmanager>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawAlertmanager {
    scheme: Option<String>,
    path_prefix: Option<String>,
    timeout: Option<String>,
    api_version: Option<String>,
    static_configs: Vec<RawStatic>,
    alert_relabel_configs: Vec<RelabelRule>,
    relabel_configs: Vec<RelabelRule>,
    follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawStatic {
    targets: Vec<String>,
    labels: BTreeMap<String, String>,
}

impl RulesConfig {
    /// Reads the rule part of the Prometheus configuration at `path`.
    pub fn load(path: &Path) -> Result<RulesConfig, RulesConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesConfigError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        RulesConfig::parse(&path.display().to_string(), &text, &base)
    }

    /// Parses the text of a configuration file named `name`; relative rule
    /// file patterns are taken from `base`.
    pub fn parse(name: &str, text: &str, base: &Path) -> Result<RulesConfig, RulesConfigError> {
        let invalid = |line: u64, column: u64, reason: String| RulesConfigError::Invalid {
            path: name.to_string(),
            line,
            column,
            reason,
        };
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let (line, column, reason) = crate::scrape::config::yaml_place(&e);
                invalid(line, column, reason)
            })?
        };
        let dur = |key: &str, v: Option<&String>, default: Duration| match v {
            None => Ok(default),
            Some(s) => hourglass_query::duration::parse_duration(s)
                .map_err(|e| invalid(0, 0, format!("{key}: {e}"))),
        };
        let evaluation_interval = dur(
            "global.evaluation_interval",
            raw.global.evaluation_interval.as_ref(),
            Duration::from_secs(60),
        )?;
        if evaluation_interval.is_zero() {
            return Err(invalid(
                0,
                0,
                "global.evaluation_interval must be positive".into(),
            ));
        }
        let query_offset = dur(
            "global.rule_query_offset",
            raw.global.rule_query_offset.as_ref(),
            Duration::ZERO,
        )?;
        let mut alertmanagers = Vec::new();
        for (i, am) in raw.alerting.alertmanagers.into_iter().enumerate() {
            let what = format!("alerting.alertmanagers[{i}]");
            if let Some(v) = am.api_version.as_deref()
                && v != "v2"
            {
                return Err(invalid(
                    0,
                    0,
                    format!("{what}: api_version {v:?} is not supported (only v2)"),
                ));
            }
            let scheme = am.scheme.unwrap_or_else(|| "http".into());
            if scheme != "http" {
                return Err(invalid(
                    0,
                    0,
                    format!("{what}: scheme {scheme:?} is not supported (only http)"),
                ));
            }
            let timeout = dur(
                &format!("{what}.timeout"),
                am.timeout.as_ref(),
                Duration::from_secs(10),
            )?;
            let _ = (am.follow_redirects, am.enable_http2, am.relabel_configs);
            let mut targets = Vec::new();
            for s in am.static_configs {
                let _ = s.labels;
                for t in s.targets {
                    if t.is_empty() || t.contains('/') {
                        return Err(invalid(
                            0,
                            0,
                            format!("{what}: {t:?} is not a valid host:port"),
                        ));
                    }
                    targets.push(t);
                }
            }
            alertmanagers.push(AlertmanagerConfig {
                scheme,
                path_prefix: am.path_prefix.unwrap_or_default(),
                timeout,
                targets,
                alert_relabel_configs: am.alert_relabel_configs,
            });
        }
        let n: usize = alertmanagers.iter().map(|a| a.targets.len()).sum();
        if n > MAX_ALERTMANAGERS {
            return Err(invalid(
                0,
                0,
                format!("more than {MAX_ALERTMANAGERS} Alertmanagers"),
            ));
        }
        let rule_files = raw
            .rule_files
            .into_iter()
            .map(|p| absolute(base, &p))
            .collect();
        Ok(RulesConfig {
            rule_files,
            evaluation_interval,
            query_offset,
            external_labels: raw.global.external_labels,
            alertmanagers,
            alert_relabel_configs: raw.alerting.alert_relabel_configs,
        })
    }
}

fn absolute(base: &Path, pattern: &str) -> String {
    let p = PathBuf::from(pattern);
    if p.is_absolute() {
        pattern.to_string()
    } else {
        base.join(p).display().to_string()
    }
}

/// The files a list of patterns names, each once, in order.
pub fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in patterns {
        for f in crate::scrape::discovery::file::expand(p) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_prometheus_yml() {
        let c = RulesConfig::parse(
            "p.yml",
            "global:\n  evaluation_interval: 15s\n  external_labels: {dc: a}\nrule_files: ['rules/*.yml']\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:9093']\nscrape_configs: []\n",
            Path::new("/etc/p"),
        )
        .unwrap();
        assert_eq!(c.evaluation_interval, Duration::from_secs(15));
        assert_eq!(c.rule_files, vec!["/etc/p/rules/*.yml".to_string()]);
        assert_eq!(
            c.alertmanagers[0].urls(),
            vec!["http://127.0.0.1:9093/api/v2/alerts".to_string()]
        );
        assert_eq!(c.external_labels.get("dc").map(String::as_str), Some("a"));
    }
}
