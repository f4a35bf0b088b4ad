//! The `global` and `scrape_configs` sections of a Prometheus
//! configuration file, with Prometheus's defaults and checks. Other
//! sections Prometheus knows are skipped (and named, so `serve` can log
//! them once); anything else is an error with its line.

mod auth;
mod histograms;
mod sd;
mod value;

pub use auth::{Authorization, BasicAuth};
pub use histograms::HistogramKeys;
pub use sd::{DnsRecord, DnsSd, FileSd, HttpSd, StaticConfig};

use super::relabel::Rule;
pub use crate::ingest::metric_family::series::Options as HistogramOptions;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use value::{Dur, Size};

/// Why a scrape configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// YAML syntax, an unknown key or a bad value, at a place in the file.
    #[error("line {line}, column {column}: {reason}")]
    Yaml {
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        reason: String,
    },
    /// A rule that spans several keys.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    global: Option<RawGlobal>,
    scrape_configs: Option<Vec<RawJob>>,
    rule_files: Option<IgnoredAny>,
    alerting: Option<IgnoredAny>,
    remote_write: Option<IgnoredAny>,
    remote_read: Option<IgnoredAny>,
    storage: Option<IgnoredAny>,
    tracing: Option<IgnoredAny>,
    otlp: Option<IgnoredAny>,
    runtime: Option<IgnoredAny>,
}

/// Declares a raw struct with its own keys followed by the limit keys
/// (shared by `global` and jobs), and `limits()` to resolve those: the limit
/// keys are written once, and each struct still refuses an unknown key at
/// its line (which `#[serde(flatten)]` would lose).
macro_rules! with_limit_keys {
    ($(#[$m:meta])* struct $name:ident { $($own:tt)* }) => {
        $(#[$m])*
        struct $name {
            $($own)*
            body_size_limit: Option<Size>,
            sample_limit: Option<u64>,
            label_limit: Option<u64>,
            label_name_length_limit: Option<u64>,
            label_value_length_limit: Option<u64>,
            target_limit: Option<u64>,
            keep_dropped_targets: Option<u64>,
        }

        impl $name {
            /// Its limits over `global`'s: an absent or 0 key inherits.
            fn limits(&self, global: &Limits) -> Limits {
                let pick = |own: Option<u64>, g: u64| own.filter(|&v| v != 0).unwrap_or(g);
                Limits {
                    body_size_limit: pick(
                        self.body_size_limit.map(|s| s.0),
                        global.body_size_limit,
                    ),
                    sample_limit: pick(self.sample_limit, global.sample_limit),
                    label_limit: pick(self.label_limit, global.label_limit),
                    label_name_length_limit: pick(
                        self.label_name_length_limit,
                        global.label_name_length_limit,
                    ),
                    label_value_length_limit: pick(
                        self.label_value_length_limit,
                        global.label_value_length_limit,
                    ),
                    target_limit: pick(self.target_limit, global.target_limit),
                    keep_dropped_targets: pick(
                        self.keep_dropped_targets,
                        global.keep_dropped_targets,
                    ),
                }
            }
        }
    };
}

with_limit_keys! {
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawGlobal {
        scrape_interval: Option<Dur>,
        scrape_timeout: Option<Dur>,
        scrape_protocols: Option<Vec<String>>,
        scrape_native_histograms: Option<bool>,
        #[serde(alias = "scrape_classic_histograms")]
        always_scrape_classic_histograms: Option<bool>,
        convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default)]
        external_labels: BTreeMap<String, String>,
        // Rule evaluation keys, not used by the scraper.
        #[serde(rename = "evaluation_interval")]
        _evaluation_interval: Option<IgnoredAny>,
        #[serde(rename = "rule_query_offset")]
        _rule_query_offset: Option<IgnoredAny>,
        #[serde(rename = "query_log_file")]
        _query_log_file: Option<IgnoredAny>,
    }
}

with_limit_keys! {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawJob {
        job_name: String,
        scrape_interval: Option<Dur>,
        scrape_timeout: Option<Dur>,
        scrape_protocols: Option<Vec<String>>,
        fallback_scrape_protocol: Option<String>,
        scrape_native_histograms: Option<bool>,
        #[serde(alias = "scrape_classic_histograms")]
        always_scrape_classic_histograms: Option<bool>,
        convert_classic_histograms_to_nhcb: Option<bool>,
        metrics_path: Option<String>,
        scheme: Option<String>,
        #[serde(default)]
        params: BTreeMap<String, Vec<String>>,
        honor_labels: Option<bool>,
        honor_timestamps: Option<bool>,
        track_timestamps_staleness: Option<bool>,
        enable_compression: Option<bool>,
        basic_auth: Option<BasicAuth>,
        authorization: Option<Authorization>,
        tls_config: Option<super::tls::TlsConfig>,
        #[serde(default)]
        static_configs: Vec<StaticConfig>,
        #[serde(default)]
        file_sd_configs: Vec<FileSd>,
        #[serde(default)]
        http_sd_configs: Vec<HttpSd>,
        #[serde(default)]
        dns_sd_configs: Vec<DnsSd>,
        #[serde(default)]
        relabel_configs: Vec<Rule>,
        #[serde(default)]
        metric_relabel_configs: Vec<Rule>,
    }
}

/// Per-scrape limits; 0 = none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed body bytes.
    pub body_size_limit: u64,
    /// Samples after metric relabelling.
    pub sample_limit: u64,
    /// Labels per series.
    pub label_limit: u64,
    /// Bytes per label name.
    pub label_name_length_limit: u64,
    /// Bytes per label value.
    pub label_value_length_limit: u64,
    /// Active targets of the job.
    pub target_limit: u64,
    /// Dropped targets kept for the API.
    pub keep_dropped_targets: u64,
}

/// An exposition protocol a job may negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `PrometheusProto`: delimited `MetricFamily` messages.
    PrometheusProto,
    /// `PrometheusText0.0.4`
    PrometheusText004,
    /// `PrometheusText1.0.0`
    PrometheusText100,
    /// `OpenMetricsText0.0.1`
    OpenMetricsText001,
    /// `OpenMetricsText1.0.0`
    OpenMetricsText100,
}

impl Protocol {
    fn from_name(s: &str) -> Option<Protocol> {
        Some(match s {
            "PrometheusProto" => Protocol::PrometheusProto,
            "PrometheusText0.0.4" => Protocol::PrometheusText004,
            "PrometheusText1.0.0" => Protocol::PrometheusText100,
            "OpenMetricsText0.0.1" => Protocol::OpenMetricsText001,
            "OpenMetricsText1.0.0" => Protocol::OpenMetricsText100,
            _ => return None,
        })
    }
}

/// Prometheus 3's default order when native histograms are scraped.
pub const PROTO_FIRST_PROTOCOLS: [Protocol; 5] = [
    Protocol::PrometheusProto,
    Protocol::OpenMetricsText100,
    Protocol::OpenMetricsText001,
    Protocol::PrometheusText100,
    Protocol::PrometheusText004,
];

/// Prometheus 3's default order.
pub const DEFAULT_PROTOCOLS: [Protocol; 4] = [
    Protocol::OpenMetricsText100,
    Protocol::OpenMetricsText001,
    Protocol::PrometheusText100,
    Protocol::PrometheusText004,
];

fn protocols(list: Option<&[String]>, whose: &str) -> Result<Vec<Protocol>, ConfigError> {
    let Some(list) = list else {
        return Ok(DEFAULT_PROTOCOLS.to_vec());
    };
    if list.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{whose}: scrape_protocols cannot be empty"
        )));
    }
    let mut out = Vec::new();
    for name in list {
        let p = Protocol::from_name(name).ok_or_else(|| {
            ConfigError::Invalid(format!("{whose}: unknown scrape protocol {name:?}"))
        })?;
        if out.contains(&p) {
            return Err(ConfigError::Invalid(format!(
                "{whose}: duplicated protocol in scrape_protocols: {name:?}"
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// The `global` section, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    /// Default 1m.
    pub scrape_interval: Duration,
    /// Default 10s.
    pub scrape_timeout: Duration,
    /// Default [`DEFAULT_PROTOCOLS`] ([`PROTO_FIRST_PROTOCOLS`] with
    /// native histograms).
    pub scrape_protocols: Vec<Protocol>,
    /// `scrape_protocols` was set.
    pub scrape_protocols_set: bool,
    /// Native histograms by default (`scrape_native_histograms`).
    pub histograms: HistogramOptions,
    /// Labels identifying this server (used for the schedule's phase).
    pub external_labels: BTreeMap<String, String>,
    /// Limits every job inherits.
    pub limits: Limits,
}

/// One scrape job, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// `job_name`, unique in the file.
    pub name: String,
    /// How often.
    pub interval: Duration,
    /// Deadline per scrape, ≤ interval.
    pub timeout: Duration,
    /// Negotiation order.
    pub protocols: Vec<Protocol>,
    /// Parser when the response's Content-Type is unusable.
    pub fallback_protocol: Option<Protocol>,
    /// `scrape_native_histograms`, `always_scrape_classic_histograms`,
    /// `convert_classic_histograms_to_nhcb`.
    pub histograms: HistogramOptions,
    /// Set on a job that does not come from the file (a registered
    /// target): its own histogram keys, taken over the file's `global` when
    /// the jobs are composed (`histograms` and `protocols` then follow).
    pub inherits_histograms: Option<HistogramKeys>,
    /// Default `/metrics`.
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// URL query parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// Exposed labels win over target labels.
    pub honor_labels: bool,
    /// Exposed timestamps are kept (default true).
    pub honor_timestamps: bool,
    /// Series with explicit timestamps go stale too.
    pub track_timestamps_staleness: bool,
    /// Ask for gzip (default true).
    pub enable_compression: bool,
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    pub authorization: Option<Authorization>,
    /// `tls_config` for https targets; none: the system's roots.
    pub tls: Option<super::tls::TlsClient>,
    /// Per-scrape limits.
    pub limits: Limits,
    /// Static targets.
    pub static_configs: Vec<StaticConfig>,
    /// File discovery.
    pub file_sd_configs: Vec<FileSd>,
    /// HTTP discovery.
    pub http_sd_configs: Vec<HttpSd>,
    /// DNS discovery.
    pub dns_sd_configs: Vec<DnsSd>,
    /// Rules over discovered labels.
    pub relabel_configs: Vec<Rule>,
    /// Rules over scraped series.
    pub metric_relabel_configs: Vec<Rule>,
}

/// The parts of a Prometheus configuration file a scraper needs.
#[derive(Debug, Clone)]
pub struct ScrapeConfig {
    /// `global`.
    pub global: Global,
    /// `scrape_configs`, in file order.
    pub jobs: Vec<Job>,
    /// Sections present but not used here (`rule_files`, `alerting`, …).
    pub ignored_sections: Vec<&'static str>,
}

impl Default for ScrapeConfig {
    /// No jobs, Prometheus's global defaults.
    fn default() -> ScrapeConfig {
        ScrapeConfig {
            global: Global::default(),
            jobs: Vec::new(),
            ignored_sections: Vec::new(),
        }
    }
}

impl Default for Global {
    /// Prometheus's defaults: 1m interval, 10s timeout.
    fn default() -> Global {
        Global {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: DEFAULT_PROTOCOLS.to_vec(),
            scrape_protocols_set: false,
            histograms: HistogramOptions::default(),
            external_labels: BTreeMap::new(),
            limits: Limits::default(),
        }
    }
}

impl ScrapeConfig {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<ScrapeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ScrapeConfig::parse(&text)
    }

    /// Parses and checks the text of a file.
    pub fn parse(text: &str) -> Result<ScrapeConfig, ConfigError> {
        let raw: RawFile = if text.trim().is_empty() {
            RawFile {
                global: None,
                scrape_configs: None,
                rule_files: None,
                alerting: None,
                remote_write: None,
                remote_read: None,
                storage: None,
                tracing: None,
                otlp: None,
                runtime: None,
            }
        } else {
            serde_saphyr::from_str(text).map_err(yaml_error)?
        };
        let ignored_sections = [
            ("rule_files", raw.rule_files.is_some()),
            ("alerting", raw.alerting.is_some()),
            ("remote_write", raw.remote_write.is_some()),
            ("remote_read", raw.remote_read.is_some()),
            ("storage", raw.storage.is_some()),
            ("tracing", raw.tracing.is_some()),
            ("otlp", raw.otlp.is_some()),
            ("runtime", raw.runtime.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        let global = resolve_global(raw.global.unwrap_or_default())?;
        let mut jobs: Vec<Job> = Vec::new();
        for rj in raw.scrape_configs.unwrap_or_default() {
            let job = resolve_job(rj, &global)?;
            if jobs.iter().any(|j| j.name == job.name) {
                return Err(ConfigError::Invalid(format!(
                    "found multiple scrape configs with job name {:?}",
                    job.name
                )));
            }
            jobs.push(job);
        }
        Ok(ScrapeConfig {
            global,
            jobs,
            ignored_sections,
        })
    }
}

fn yaml_error(e: serde_saphyr::Error) -> ConfigError {
    let (line, column, reason) = yaml_place(&e);
    ConfigError::Yaml {
        line,
        column,
        reason,
    }
}

/// Line, column and reason of a YAML error (scrape configs, rule files).
pub(crate) fn yaml_place(e: &serde_saphyr::Error) -> (u64, u64, String) {
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let reason = e.without_snippet().to_string();
    // The plain rendering may end with its own "at line …" suffix.
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(&reason)
        .trim()
        .to_string();
    (line, column, reason)
}

fn resolve_global(raw: RawGlobal) -> Result<Global, ConfigError> {
    let limits = raw.limits(&Limits::default());
    let histograms = HistogramOptions {
        native: raw.scrape_native_histograms.unwrap_or(false),
        always_classic: raw.always_scrape_classic_histograms.unwrap_or(false),
        convert_nhcb: raw.convert_classic_histograms_to_nhcb.unwrap_or(false),
    };
    let interval = raw.scrape_interval.map_or(Duration::from_secs(60), |d| d.0);
    let timeout = raw.scrape_timeout.map_or(Duration::from_secs(10), |d| d.0);
    if interval.is_zero() {
        return Err(ConfigError::Invalid(
            "global scrape_interval must be positive".into(),
        ));
    }
    if timeout.is_zero() {
        return Err(ConfigError::Invalid(
            "global scrape_timeout must be positive".into(),
        ));
    }
    if timeout > interval {
        // Prometheus caps the default timeout and refuses an explicit one.
        if raw.scrape_timeout.is_some() {
            return Err(ConfigError::Invalid(
                "global scrape timeout greater than scrape interval".into(),
            ));
        }
    }
    Ok(Global {
        scrape_interval: interval,
        scrape_timeout: timeout.min(interval),
        scrape_protocols: match raw.scrape_protocols.as_deref() {
            None if histograms.native => PROTO_FIRST_PROTOCOLS.to_vec(),
            list => protocols(list, "global")?,
        },
        scrape_protocols_set: raw.scrape_protocols.is_some(),
        histograms,
        external_labels: raw.external_labels,
        limits,
    })
}

fn resolve_job(raw: RawJob, global: &Global) -> Result<Job, ConfigError> {
    let limits = raw.limits(&global.limits);
    let name = raw.job_name;
    let invalid = |reason: String| ConfigError::Invalid(format!("job {name:?}: {reason}"));
    if name.is_empty() {
        return Err(ConfigError::Invalid("job_name is empty".into()));
    }
    let interval = raw.scrape_interval.map_or(global.scrape_interval, |d| d.0);
    if interval.is_zero() {
        return Err(invalid("scrape_interval must be positive".into()));
    }
    let timeout = match raw.scrape_timeout {
        Some(d) if d.0.is_zero() => return Err(invalid("scrape_timeout must be positive".into())),
        Some(d) if d.0 > interval => {
            return Err(invalid(
                "scrape timeout greater than scrape interval".into(),
            ));
        }
        Some(d) => d.0,
        None => global.scrape_timeout.min(interval),
    };
    let scheme = raw.scheme.unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(invalid(format!(
            "scheme must be http or https, got {scheme:?}"
        )));
    }
    let metrics_path = raw.metrics_path.unwrap_or_else(|| "/metrics".into());
    let histograms = HistogramKeys {
        scrape_native_histograms: raw.scrape_native_histograms,
        always_scrape_classic_histograms: raw.always_scrape_classic_histograms,
        convert_classic_histograms_to_nhcb: raw.convert_classic_histograms_to_nhcb,
    }
    .over(global.histograms);
    let protocols = match raw.scrape_protocols.as_deref() {
        Some(list) => protocols(Some(list), &format!("job {name:?}"))?,
        None => global.protocols_for(histograms),
    };
    let fallback_protocol = match raw.fallback_scrape_protocol.as_deref() {
        None => None,
        Some(p) => Some(
            Protocol::from_name(p)
                .ok_or_else(|| invalid(format!("unknown fallback_scrape_protocol {p:?}")))?,
        ),
    };
    if raw.basic_auth.is_some() && raw.authorization.is_some() {
        return Err(invalid(
            "at most one of basic_auth and authorization must be configured".into(),
        ));
    }
    if raw.relabel_configs.is_empty() {
        for group in &raw.static_configs {
            if let Some(t) = group.targets.iter().find(|t| t.contains('/')) {
                return Err(invalid(format!("{t:?} is not a valid hostname")));
            }
        }
    }
    let tls = match &raw.tls_config {
        Some(t) => Some(super::tls::build(t).map_err(|e| invalid(format!("tls_config: {e}")))?),
        None => None,
    };
    Ok(Job {
        tls,
        limits,
        name,
        interval,
        timeout,
        protocols,
        fallback_protocol,
        histograms,
        inherits_histograms: None,
        metrics_path,
        scheme,
        params: raw.params,
        honor_labels: raw.honor_labels.unwrap_or(false),
        honor_timestamps: raw.honor_timestamps.unwrap_or(true),
        track_timestamps_staleness: raw.track_timestamps_staleness.unwrap_or(false),
        enable_compression: raw.enable_compression.unwrap_or(true),
        basic_auth: raw.basic_auth,
        authorization: raw.authorization,
        static_configs: raw.static_configs,
        file_sd_configs: raw.file_sd_configs,
        http_sd_configs: raw.http_sd_configs,
        dns_sd_configs: raw.dns_sd_configs,
        relabel_configs: raw.relabel_configs,
        metric_relabel_configs: raw.metric_relabel_configs,
    })
}
