//! Where targets come from. Every provider hands over complete lists of
//! target groups, the shape of `static_configs` and file SD entries.

pub mod dns;
pub mod file;
pub mod http;
pub mod r#static;

use super::config::StaticConfig;
use super::relabel::LabelSet;
use std::net::SocketAddr;

/// Targets that share labels, from one source (a file, a config entry).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group inside its provider (`<path>:<index>`, `<index>`).
    pub source: String,
    /// One label set per target, each holding at least `__address__`.
    pub targets: Vec<LabelSet>,
    /// Labels for every target of the group (`__meta_*` included).
    pub labels: LabelSet,
}

impl TargetGroup {
    /// A group from addresses and labels as written in a config or file.
    pub fn from_addresses<'a>(
        source: String,
        addresses: impl IntoIterator<Item = &'a String>,
        labels: LabelSet,
    ) -> TargetGroup {
        TargetGroup {
            source,
            targets: addresses
                .into_iter()
                .map(|a| LabelSet::from([("__address__".to_string(), a.clone())]))
                .collect(),
            labels,
        }
    }

    /// The groups of a discovered list of static configs (a file, an HTTP
    /// answer): each labelled `meta` = `origin` and named `origin:index`.
    pub fn from_configs(configs: Vec<StaticConfig>, meta: &str, origin: &str) -> Vec<TargetGroup> {
        configs
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let mut labels = c.labels;
                labels.insert(meta.into(), origin.to_string());
                TargetGroup::from_addresses(format!("{origin}:{i}"), &c.targets, labels)
            })
            .collect()
    }
}

/// All providers of one job.
#[derive(Debug)]
pub struct JobDiscovery {
    static_groups: Vec<TargetGroup>,
    files: Vec<file::FileSd>,
    http: Vec<http::HttpSd>,
    dns: Vec<dns::DnsSd>,
    started: bool,
}

impl JobDiscovery {
    /// The providers a job configures.
    pub fn new(job: &crate::scrape::config::Job) -> JobDiscovery {
        JobDiscovery {
            static_groups: r#static::groups(&job.static_configs),
            files: job
                .file_sd_configs
                .iter()
                .cloned()
                .map(file::FileSd::new)
                .collect(),
            http: job
                .http_sd_configs
                .iter()
                .cloned()
                .map(http::HttpSd::new)
                .collect(),
            dns: job
                .dns_sd_configs
                .iter()
                .map(|c| dns::DnsSd::new(c.clone(), None))
                .collect(),
            started: false,
        }
    }

    /// Resolves DNS SD names through `server` instead of the system's
    /// resolvers.
    pub fn with_dns_server(
        mut self,
        job: &crate::scrape::config::Job,
        server: Option<SocketAddr>,
    ) -> JobDiscovery {
        if server.is_some() {
            self.dns = job
                .dns_sd_configs
                .iter()
                .map(|c| dns::DnsSd::new(c.clone(), server))
                .collect();
        }
        self
    }

    /// Refreshes what is due; `true` on the first call and whenever the
    /// groups may have changed.
    pub async fn poll(&mut self) -> bool {
        let mut changed = !self.started;
        self.started = true;
        for f in &mut self.files {
            changed |= f.poll();
        }
        for h in &mut self.http {
            changed |= h.poll().await;
        }
        for d in &mut self.dns {
            changed |= d.poll().await;
        }
        changed
    }

    /// Every group, static first.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.static_groups
            .iter()
            .chain(self.files.iter().flat_map(file::FileSd::groups))
            .chain(self.http.iter().flat_map(http::HttpSd::groups))
            .chain(self.dns.iter().flat_map(dns::DnsSd::groups))
    }
}

/// Whether a provider last tried at `last_try` is due again after
/// `every`; when it is, now becomes its last try.
fn due(last_try: &mut Option<std::time::Instant>, every: std::time::Duration) -> bool {
    if last_try.is_some_and(|t| t.elapsed() < every) {
        return false;
    }
    *last_try = Some(std::time::Instant::now());
    true
}
