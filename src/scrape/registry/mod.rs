//! Targets registered over the REST API (`/api/v1/metrics/targets`): kept
//! in the data directory (`targets.registry`, see `FORMAT.md` beside this
//! file) and each scraped as a job of its own, handed to the scrape
//! manager as the `"targets"` source.

pub mod arrivals;
pub mod file;
mod job;

pub use job::{job_name, to_job, validate};

use super::config::{HistogramKeys, Job};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The scrape manager's name for this source of jobs.
pub const SOURCE: &str = "targets";
/// The registry's file in the data directory.
pub const FILE_NAME: &str = "targets.registry";
/// Default bound on registered targets (`--max-registered-targets`).
pub const DEFAULT_MAX_TARGETS: usize = 10_000;

/// Where a registered target is scraped: `scheme://address metrics_path?params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// `host:port`.
    pub address: String,
    /// Starts with `/`.
    pub metrics_path: String,
    /// URL query parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
}

impl Endpoint {
    /// The URL scraped.
    pub fn url(&self) -> String {
        let mut url = format!("{}://{}{}", self.scheme, self.address, self.metrics_path);
        if !self.params.is_empty() {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, values) in &self.params {
                for v in values {
                    q.append_pair(k, v);
                }
            }
            url.push('?');
            url.push_str(&q.finish());
        }
        url
    }
}

/// Credentials sent with each scrape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// `Authorization: Basic …`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …`.
    Bearer {
        /// The token.
        token: String,
    },
}

/// Whether a filter keeps or drops what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// Keep only series that some include filter matches.
    Include,
    /// Drop series that an exclude filter matches.
    Exclude,
}

/// A label matcher's operator, as in PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// `=`
    #[serde(rename = "=")]
    Equal,
    /// `!=`
    #[serde(rename = "!=")]
    NotEqual,
    /// `=~` (anchored)
    #[serde(rename = "=~")]
    Regex,
    /// `!~` (anchored)
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// From its spelling.
    pub fn parse(s: &str) -> Option<MatchOp> {
        Some(match s {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::Regex,
            "!~" => MatchOp::NotRegex,
            _ => return None,
        })
    }
}

/// One label condition of a filter; a missing label has the value "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMatcher {
    /// The label.
    pub name: String,
    /// How the value is compared.
    pub op: MatchOp,
    /// A literal, or an anchored regex for `=~`/`!~`.
    pub value: String,
}

/// Includes or excludes series by name pattern and label matchers (all
/// must hold); applied as metric relabelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Keep or drop.
    pub kind: FilterKind,
    /// Anchored regex over the metric name; none matches every name.
    pub name_pattern: Option<String>,
    /// Further conditions.
    #[serde(default)]
    pub label_matchers: Vec<LabelMatcher>,
}

/// How long the target's series are to be kept (stored and returned;
/// applied once per-selector retention exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// As the client wrote it (`30d`).
    pub duration: String,
    /// The same in ms.
    pub duration_ms: u64,
}

/// A registered target, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredTarget {
    /// Unique; `[A-Za-z0-9_.-]`, 1–128 bytes.
    pub target_id: String,
    /// The `job` label of its series.
    pub source_id: String,
    /// `PULL_SCRAPING`, or a push source's `PUSH_GATEWAY`, `STREAMING`,
    /// `BATCH_UPLOAD`.
    pub collection_method: String,
    /// Where it is scraped; none for a push source.
    pub endpoint: Option<Endpoint>,
    /// How often, ms (≥ 100); a push source's expected arrival interval.
    pub interval_ms: u64,
    /// Deadline per scrape, ms (≤ interval); 0 for a push source.
    pub timeout_ms: u64,
    /// Sent with each scrape.
    pub credentials: Option<Credentials>,
    /// Metric filters, in order.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Stored and returned.
    pub retention_policy: Option<Retention>,
    /// Extra target labels (not `job`, none starting `__`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When it was registered, Unix ms.
    pub created_ms: i64,
    /// Its histogram keys (`scrape_config.scrape_native_histograms`,
    /// `always_scrape_classic_histograms`,
    /// `convert_classic_histograms_to_nhcb`); absent ones are the scrape
    /// file's `global` ones (registry version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<HistogramKeys>,
}

/// Why a registration or removal was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The same `target_id` is registered.
    #[error("target {0:?} is already registered")]
    DuplicateId(String),
    /// A push source of the same `source_id` and method is registered.
    #[error("source {source_id:?} is already registered as {method} under {existing:?}")]
    DuplicateSource {
        /// The source.
        source_id: String,
        /// Its collection method.
        method: String,
        /// The registration already there.
        existing: String,
    },
    /// The same `source_id` and URL are registered under another id.
    #[error("source {source_id:?} already has target {existing:?} for {url}")]
    DuplicateUrl {
        /// The source.
        source_id: String,
        /// The URL.
        url: String,
        /// The target already registered.
        existing: String,
    },
    /// At the `--max-registered-targets` bound.
    #[error("{0} targets are registered, the most this server keeps (--max-registered-targets)")]
    Full(usize),
    /// The file could not be written; nothing changed.
    #[error(transparent)]
    File(#[from] file::RegistryFileError),
}

/// The registered targets, in memory and on disk.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    max: usize,
    targets: BTreeMap<String, RegisteredTarget>,
    load_problem: Option<String>,
}

impl Registry {
    /// The registry of `data_dir`; none when the file is missing. A damaged
    /// file is set aside (`targets.registry.corrupt`), logged, and reported
    /// by [`Registry::load_problem`]; the server starts without it.
    pub fn open(data_dir: &Path, max: usize) -> Registry {
        let path = data_dir.join(FILE_NAME);
        let (targets, load_problem) = match std::fs::read(&path) {
            Ok(bytes) => match file::decode(&bytes) {
                Ok(list) => {
                    tracing::info!(targets = list.len(), file = %path.display(), "registered targets loaded");
                    (
                        list.into_iter().map(|t| (t.target_id.clone(), t)).collect(),
                        None,
                    )
                }
                Err(e) => {
                    let aside = path.with_extension("registry.corrupt");
                    let moved = std::fs::rename(&path, &aside);
                    let problem = match &moved {
                        Ok(()) => format!(
                            "{} not loaded ({e}); set aside as {}",
                            path.display(),
                            aside.display()
                        ),
                        Err(m) => format!(
                            "{} not loaded ({e}); could not be set aside: {m}",
                            path.display()
                        ),
                    };
                    tracing::error!(problem = %problem, "registered targets: starting without them");
                    (BTreeMap::new(), Some(problem))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (BTreeMap::new(), None),
            Err(e) => {
                let problem = format!("{} not readable: {e}", path.display());
                tracing::error!(problem = %problem, "registered targets: starting without them");
                (BTreeMap::new(), Some(problem))
            }
        };
        Registry {
            path,
            max,
            targets,
            load_problem,
        }
    }

    /// Why the file was not loaded at startup, if it was not.
    pub fn load_problem(&self) -> Option<&str> {
        self.load_problem.as_deref()
    }

    /// The most targets kept.
    pub fn max(&self) -> usize {
        self.max
    }

    /// One scrape job per pulled target (push sources are not scraped).
    pub fn jobs(&self) -> Vec<Job> {
        self.targets
            .values()
            .filter(|t| t.endpoint.is_some())
            .filter_map(|t| match to_job(t) {
                Ok(j) => Some(j),
                Err(e) => {
                    tracing::error!(target_id = %t.target_id, error = %e, "registered target not scraped");
                    None
                }
            })
            .collect()
    }

    /// A target by id.
    pub fn get(&self, id: &str) -> Option<&RegisteredTarget> {
        self.targets.get(id)
    }

    /// Every target, by id.
    pub fn iter(&self) -> impl Iterator<Item = &RegisteredTarget> {
        self.targets.values()
    }

    /// How many are registered.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Whether `id` is free and no target of `source_id` scrapes `url`.
    pub fn check_new(&self, t: &RegisteredTarget) -> Result<(), RegistryError> {
        if self.targets.contains_key(&t.target_id) {
            return Err(RegistryError::DuplicateId(t.target_id.clone()));
        }
        match &t.endpoint {
            Some(e) => {
                let url = e.url();
                if let Some(existing) = self.targets.values().find(|o| {
                    o.source_id == t.source_id
                        && o.endpoint.as_ref().map(Endpoint::url) == Some(url.clone())
                }) {
                    return Err(RegistryError::DuplicateUrl {
                        source_id: t.source_id.clone(),
                        url,
                        existing: existing.target_id.clone(),
                    });
                }
            }
            None => {
                if let Some(existing) = self.targets.values().find(|o| {
                    o.source_id == t.source_id && o.collection_method == t.collection_method
                }) {
                    return Err(RegistryError::DuplicateSource {
                        source_id: t.source_id.clone(),
                        method: t.collection_method.clone(),
                        existing: existing.target_id.clone(),
                    });
                }
            }
        }
        if self.targets.len() >= self.max {
            return Err(RegistryError::Full(self.max));
        }
        Ok(())
    }

    /// Registers `t` and writes the file; on any refusal nothing changes.
    pub fn insert(&mut self, t: RegisteredTarget) -> Result<(), RegistryError> {
        self.check_new(&t)?;
        let id = t.target_id.clone();
        self.targets.insert(id.clone(), t);
        if let Err(e) = self.save() {
            self.targets.remove(&id);
            return Err(e.into());
        }
        Ok(())
    }

    /// Removes `id` and writes the file; `None` when unknown. On a write
    /// failure the target stays.
    pub fn remove(&mut self, id: &str) -> Result<Option<RegisteredTarget>, RegistryError> {
        let Some(t) = self.targets.remove(id) else {
            return Ok(None);
        };
        if let Err(e) = self.save() {
            self.targets.insert(id.to_string(), t);
            return Err(e.into());
        }
        Ok(Some(t))
    }

    fn save(&self) -> Result<(), file::RegistryFileError> {
        let list: Vec<&RegisteredTarget> = self.targets.values().collect();
        file::write(&self.path, &file::encode(&list))
    }
}

#[cfg(test)]
mod tests;
