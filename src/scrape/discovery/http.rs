//! `http_sd_configs`: a JSON list of target groups fetched every
//! `refresh_interval` (which is also the request's deadline). The answer
//! must be 200 with `Content-Type: application/json`; a failed refresh
//! keeps the last good groups. Each group gets `__meta_url`.

use super::TargetGroup;
use crate::scrape::config::{HttpSd as HttpSdConfig, StaticConfig};
use crate::scrape::fetch::{self, Fetcher, Request};
use std::time::Instant;

/// Largest discovery answer read.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// State of one `http_sd_configs` entry.
#[derive(Debug)]
pub struct HttpSd {
    config: HttpSdConfig,
    fetcher: Fetcher,
    groups: Vec<TargetGroup>,
    last_try: Option<Instant>,
    failures: u64,
}

impl HttpSd {
    /// Starts with nothing fetched.
    pub fn new(config: HttpSdConfig) -> HttpSd {
        HttpSd {
            config,
            fetcher: Fetcher::default(),
            groups: Vec::new(),
            last_try: None,
            failures: 0,
        }
    }

    /// Fetches when the refresh interval passed; `true` when the groups changed.
    pub async fn poll(&mut self) -> bool {
        if !super::due(&mut self.last_try, self.config.refresh_interval) {
            return false;
        }
        match self.fetch().await {
            Ok(groups) => {
                let changed = groups != self.groups;
                self.groups = groups;
                changed
            }
            Err(e) => {
                self.failures += 1;
                tracing::warn!(url = %self.config.url, error = %e, "HTTP SD: keeping the previous targets");
                false
            }
        }
    }

    /// The groups of the last good answer.
    pub fn groups(&self) -> &[TargetGroup] {
        &self.groups
    }

    /// Refreshes that failed so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    async fn fetch(&mut self) -> Result<Vec<TargetGroup>, String> {
        let authorization = fetch::authorization_header(
            self.config.basic_auth.as_ref(),
            self.config.authorization.as_ref(),
        )?;
        let req = Request {
            url: &self.config.url,
            accept: "application/json",
            gzip: true,
            timeout: self.config.refresh_interval,
            body_limit: MAX_ANSWER_BYTES,
            authorization,
            headers: vec![(
                "X-Prometheus-Refresh-Interval-Seconds",
                self.config.refresh_interval.as_secs_f64().to_string(),
            )],
            tls: self.config.tls.as_ref(),
        };
        let content_type = self.fetcher.fetch(&req).await.map_err(|e| e.to_string())?;
        let media = content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        if media.as_deref() != Some("application/json") {
            return Err(format!(
                "unsupported content type {:?}",
                content_type.unwrap_or_default()
            ));
        }
        let configs: Vec<StaticConfig> =
            serde_json::from_slice(&self.fetcher.body).map_err(|e| e.to_string())?;
        Ok(TargetGroup::from_configs(
            configs,
            "__meta_url",
            &self.config.url,
        ))
    }
}
