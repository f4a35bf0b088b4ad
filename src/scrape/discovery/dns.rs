//! `dns_sd_configs`: names resolved every `refresh_interval` as SRV, A or
//! AAAA records, through the servers and search list of
//! `/etc/resolv.conf` (or one given server, for tests and odd hosts).
//!
//! A name that does not exist (NXDOMAIN, no records) has no targets; a
//! name whose lookup fails keeps its previous targets. Each target gets
//! `__meta_dns_name` and, from SRV, `__meta_dns_srv_record_target` (with
//! its trailing dot) and `__meta_dns_srv_record_port`.

use super::TargetGroup;
use crate::scrape::config::{DnsRecord, DnsSd as DnsSdConfig};
use crate::scrape::relabel::LabelSet;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

/// State of one `dns_sd_configs` entry.
pub struct DnsSd {
    config: DnsSdConfig,
    server: Option<SocketAddr>,
    resolver: Option<TokioResolver>,
    groups: BTreeMap<String, TargetGroup>,
    last_try: Option<Instant>,
}

impl std::fmt::Debug for DnsSd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsSd")
            .field("config", &self.config)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl DnsSd {
    /// Resolves through `server` when given, else the system's resolvers.
    pub fn new(config: DnsSdConfig, server: Option<SocketAddr>) -> DnsSd {
        DnsSd {
            config,
            server,
            resolver: None,
            groups: BTreeMap::new(),
            last_try: None,
        }
    }

    /// Resolves when the refresh interval passed; `true` when the groups changed.
    pub async fn poll(&mut self) -> bool {
        if !super::due(&mut self.last_try, self.config.refresh_interval) {
            return false;
        }
        let resolver = match self.resolver() {
            Ok(r) => r.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "DNS SD: no resolver; keeping the previous targets");
                return false;
            }
        };
        let mut changed = false;
        for name in self.config.names.clone() {
            match lookup(&resolver, &self.config, &name).await {
                Ok(targets) => {
                    let group = TargetGroup {
                        source: name.clone(),
                        targets,
                        labels: LabelSet::new(),
                    };
                    if self.groups.get(&name) != Some(&group) {
                        changed = true;
                        self.groups.insert(name, group);
                    }
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e, "DNS SD: lookup failed; keeping the previous targets");
                }
            }
        }
        changed
    }

    /// The groups of the last good lookups, one per name.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.groups.values()
    }

    fn resolver(&mut self) -> Result<&TokioResolver, String> {
        if self.resolver.is_none() {
            let mut builder = match self.server {
                Some(addr) => {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_name_servers(vec![ns]),
                        TokioRuntimeProvider::default(),
                    )
                }
                None => TokioResolver::builder_tokio().map_err(|e| e.to_string())?,
            };
            // Every refresh asks the servers, as Prometheus does.
            builder.options_mut().cache_size = 0;
            self.resolver = Some(builder.build().map_err(|e| e.to_string())?);
        }
        self.resolver
            .as_ref()
            .ok_or_else(|| "no resolver".to_string())
    }
}

async fn lookup(
    resolver: &TokioResolver,
    config: &DnsSdConfig,
    name: &str,
) -> Result<Vec<LabelSet>, String> {
    let rtype = match config.record {
        DnsRecord::Srv => RecordType::SRV,
        DnsRecord::A => RecordType::A,
        DnsRecord::Aaaa => RecordType::AAAA,
    };
    let answer = match resolver.lookup(name, rtype).await {
        Ok(a) => a,
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for record in answer.answers() {
        let mut labels = LabelSet::new();
        labels.insert("__meta_dns_name".into(), name.to_string());
        let address = match (&record.data, config.record) {
            (RData::SRV(srv), DnsRecord::Srv) => {
                let target = srv.target.to_string();
                labels.insert("__meta_dns_srv_record_target".into(), target.clone());
                labels.insert("__meta_dns_srv_record_port".into(), srv.port.to_string());
                format!("{}:{}", target.trim_end_matches('.'), srv.port)
            }
            (RData::A(a), DnsRecord::A) => format!("{}:{}", a.0, config.port),
            (RData::AAAA(a), DnsRecord::Aaaa) => format!("[{}]:{}", a.0, config.port),
            // CNAMEs and anything else in the answer section.
            _ => continue,
        };
        labels.insert("__address__".into(), address);
        out.push(labels);
    }
    Ok(out)
}
