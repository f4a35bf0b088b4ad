//! Self-monitoring: the job that scrapes this server's own `/metrics`, as
//! Prometheus's default configuration scrapes itself, so the server's
//! health is queryable with PromQL. It joins the manager as the `"self"`
//! source.

use super::config::{ConfigError, Job, ScrapeConfig};
use super::format_duration;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The job's name, Prometheus's `job="prometheus"` counterpart.
pub const JOB_NAME: &str = "hourglass";

/// The source name under which the job is registered.
pub const SOURCE: &str = "self";

/// Where to reach a server listening on `listen`: an unspecified address
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The `hourglass` job: `listen`'s `/metrics` every `interval`, the
/// timeout Prometheus's default (10 s) capped at the interval.
pub fn job(listen: SocketAddr, interval: Duration) -> Result<Job, ConfigError> {
    let target = local_address(listen);
    let yaml = format!(
        "scrape_configs:\n  - job_name: {JOB_NAME}\n    scrape_interval: {}\n    static_configs:\n      - targets: ['{target}']\n",
        format_duration(interval),
    );
    let mut config = ScrapeConfig::parse(&yaml)?;
    config
        .jobs
        .pop()
        .ok_or_else(|| ConfigError::Invalid("self-scrape job missing".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_scrapes_the_listen_address_on_loopback_when_unspecified() {
        let j = job("0.0.0.0:9201".parse().unwrap(), Duration::from_secs(15)).unwrap();
        assert_eq!(j.name, "hourglass");
        assert_eq!(j.interval, Duration::from_secs(15));
        assert_eq!(j.timeout, Duration::from_secs(10));
        assert_eq!(j.metrics_path, "/metrics");
        assert_eq!(j.static_configs[0].targets, vec!["127.0.0.1:9201"]);
        let j = job("[::]:1".parse().unwrap(), Duration::from_secs(5)).unwrap();
        assert_eq!(j.static_configs[0].targets, vec!["[::1]:1"]);
        assert_eq!(j.timeout, Duration::from_secs(5));
        let j = job("10.1.2.3:80".parse().unwrap(), Duration::from_millis(500)).unwrap();
        assert_eq!(j.static_configs[0].targets, vec!["10.1.2.3:80"]);
        assert_eq!(j.interval, Duration::from_millis(500));
    }
}
