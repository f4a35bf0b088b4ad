//! Service discovery entries of a job: `static_configs`, `file_sd_configs`,
//! `http_sd_configs`, `dns_sd_configs`.

use super::auth::{Authorization, BasicAuth};
use super::value::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A `static_configs` entry, also the shape of file SD groups.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels for every target of the group.
    pub labels: BTreeMap<String, String>,
}

/// A `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSd {
    /// Paths or globs (`*` in the last element), ending in .json, .yml or .yaml.
    pub files: Vec<String>,
    /// Re-read at least this often (default 5m).
    pub refresh_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSd {
    files: Vec<String>,
    refresh_interval: Option<Dur>,
}

impl<'de> Deserialize<'de> for FileSd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawFileSd::deserialize(d)?;
        for pattern in &raw.files {
            let lower = pattern.to_ascii_lowercase();
            if ![".json", ".yml", ".yaml"]
                .iter()
                .any(|e| lower.ends_with(e))
            {
                return Err(serde::de::Error::custom(format!(
                    "file_sd_configs: path {pattern:?} is not valid: it must end in .json, .yml or .yaml"
                )));
            }
        }
        Ok(FileSd {
            files: raw.files,
            refresh_interval: raw
                .refresh_interval
                .map_or(Duration::from_secs(300), |d| d.0),
        })
    }
}

/// An `http_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSd {
    /// `http://…` answering a JSON list of target groups.
    pub url: String,
    /// Fetched this often, and this is the request's deadline (default 60s).
    pub refresh_interval: Duration,
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    pub authorization: Option<Authorization>,
    /// `tls_config` for an https URL; none: the system's roots.
    pub tls: Option<crate::scrape::tls::TlsClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpSd {
    url: String,
    refresh_interval: Option<Dur>,
    basic_auth: Option<BasicAuth>,
    authorization: Option<Authorization>,
    tls_config: Option<crate::scrape::tls::TlsConfig>,
}

impl<'de> Deserialize<'de> for HttpSd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawHttpSd::deserialize(d)?;
        let scheme = raw.url.split_once("://").map(|(s, _)| s);
        match scheme {
            Some("http" | "https") => {}
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "http_sd_configs: URL scheme must be 'http' or 'https': {:?}",
                    raw.url
                )));
            }
        }
        let refresh = raw
            .refresh_interval
            .map_or(Duration::from_secs(60), |d| d.0);
        if refresh.is_zero() {
            return Err(serde::de::Error::custom(
                "http_sd_configs: refresh_interval must be positive",
            ));
        }
        let tls = match &raw.tls_config {
            Some(t) => Some(crate::scrape::tls::build(t).map_err(|e| {
                serde::de::Error::custom(format!("http_sd_configs: tls_config: {e}"))
            })?),
            None => None,
        };
        Ok(HttpSd {
            url: raw.url,
            refresh_interval: refresh,
            basic_auth: raw.basic_auth,
            authorization: raw.authorization,
            tls,
        })
    }
}

/// Record type a `dns_sd_configs` entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecord {
    /// `SRV` (default): `target:port` from each record.
    Srv,
    /// `A`: `ip:port`.
    A,
    /// `AAAA`: `[ip]:port`.
    Aaaa,
}

/// A `dns_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSd {
    /// Names to resolve.
    pub names: Vec<String>,
    /// Record type.
    pub record: DnsRecord,
    /// Port for A/AAAA targets (required for them).
    pub port: u16,
    /// Resolved this often (default 30s).
    pub refresh_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDnsSd {
    names: Vec<String>,
    #[serde(rename = "type")]
    record: Option<String>,
    port: Option<u16>,
    refresh_interval: Option<Dur>,
}

impl<'de> Deserialize<'de> for DnsSd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawDnsSd::deserialize(d)?;
        if raw.names.is_empty() {
            return Err(D::Error::custom(
                "DNS-SD config must contain at least one SRV record name",
            ));
        }
        let record = match raw
            .record
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("SRV") => DnsRecord::Srv,
            Some("A") => DnsRecord::A,
            Some("AAAA") => DnsRecord::Aaaa,
            Some(other @ ("MX" | "NS")) => {
                return Err(D::Error::custom(format!(
                    "dns_sd_configs: record type {other} is not supported (SRV, A, AAAA are)"
                )));
            }
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "invalid DNS-SD records type {other:?}"
                )));
            }
        };
        let port = match (record, raw.port) {
            (DnsRecord::Srv, p) => p.unwrap_or(0),
            (_, Some(p)) if p != 0 => p,
            _ => {
                return Err(D::Error::custom(
                    "a port is required in DNS-SD configs for all record types except SRV",
                ));
            }
        };
        let refresh = raw
            .refresh_interval
            .map_or(Duration::from_secs(30), |d| d.0);
        if refresh.is_zero() {
            return Err(D::Error::custom(
                "dns_sd_configs: refresh_interval must be positive",
            ));
        }
        Ok(DnsSd {
            names: raw.names,
            record,
            port,
            refresh_interval: refresh,
        })
    }
}
