//! From a discovered label set to a scrape target, as Prometheus's
//! `scrape/target.go`: defaults, `relabel_configs`, checks, the URL.

use super::config::Job;
use super::relabel::{self, LabelSet};
use std::fmt::Write;
use std::time::Duration;

/// A target ready to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its job's name.
    pub job: String,
    /// Labels before relabelling, with the defaults filled in.
    pub discovered: LabelSet,
    /// Labels after relabelling, `__meta_*` removed (other `__` labels kept).
    pub labels: LabelSet,
    /// `scheme://address/path?params`.
    pub url: String,
    /// How often.
    pub interval: Duration,
    /// Deadline per scrape.
    pub timeout: Duration,
}

impl Target {
    /// Labels that go on every series: those not starting with `__`.
    pub fn public_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A stable identity: the final labels and the URL.
    pub fn identity(&self) -> String {
        let mut id = String::new();
        for (k, v) in &self.labels {
            let _ = write!(id, "{k}={v:?},");
        }
        id.push_str(&self.url);
        id
    }
}

/// What became of a discovered label set.
#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    /// Scraped.
    Active(Target),
    /// Dropped by `relabel_configs`; the discovered labels are kept for the API.
    Dropped(LabelSet),
    /// Unusable after relabelling (no address, bad interval…); logged.
    Invalid {
        /// The discovered labels.
        discovered: LabelSet,
        /// Why.
        reason: String,
    },
}

/// Prints a duration as Prometheus does: `1m`, `15s`, `1m30s`, `100ms`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000u128),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            let _ = write!(out, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    out
}

/// Builds a target from one discovered target's labels and its group's.
pub fn build(job: &Job, target: &LabelSet, group: &LabelSet) -> Built {
    let mut labels = target.clone();
    for (k, v) in group {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut defaults = vec![
        ("job".to_string(), job.name.clone()),
        ("__scrape_interval__".into(), format_duration(job.interval)),
        ("__scrape_timeout__".into(), format_duration(job.timeout)),
        ("__metrics_path__".into(), job.metrics_path.clone()),
        ("__scheme__".into(), job.scheme.clone()),
    ];
    for (k, values) in &job.params {
        if let Some(first) = values.first() {
            defaults.push((format!("__param_{k}"), first.clone()));
        }
    }
    for (k, v) in defaults {
        if !v.is_empty() {
            labels.entry(k).or_insert(v);
        }
    }
    let discovered = labels.clone();
    if !relabel::apply(&job.relabel_configs, &mut labels) {
        return Built::Dropped(discovered);
    }
    match finish(job, labels) {
        Ok(t) => Built::Active(Target { discovered, ..t }),
        Err(reason) => Built::Invalid { discovered, reason },
    }
}

fn finish(job: &Job, mut labels: LabelSet) -> Result<Target, String> {
    let address = labels.get("__address__").cloned().ok_or("no address")?;
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    let parse = |name: &str| -> Result<Duration, String> {
        let v = labels.get(name).map_or("", String::as_str);
        hourglass_query::duration::parse_duration(v)
            .map_err(|e| format!("error parsing {name}: {e}"))
            .and_then(|d| {
                if d.is_zero() {
                    Err(format!("{name} cannot be 0"))
                } else {
                    Ok(d)
                }
            })
    };
    let interval = parse("__scrape_interval__")?;
    let timeout = parse("__scrape_timeout__")?;
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            format_duration(timeout),
            format_duration(interval)
        ));
    }
    labels.retain(|k, _| !k.starts_with("__meta_"));
    labels
        .entry("instance".into())
        .or_insert_with(|| address.clone());
    let scheme = labels.get("__scheme__").map_or("http", String::as_str);
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?}"));
    }
    let path = labels.get("__metrics_path__").map_or("", String::as_str);
    let mut url = format!("{scheme}://{address}{path}");
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    let mut keys: Vec<&String> = job.params.keys().collect();
    for k in labels.keys() {
        if let Some(p) = k.strip_prefix("__param_")
            && !job.params.contains_key(p)
        {
            keys.push(k);
        }
    }
    for key in keys {
        let name = key.strip_prefix("__param_").unwrap_or(key);
        let over = labels.get(&format!("__param_{name}"));
        let values = job.params.get(name).map(Vec::as_slice).unwrap_or(&[]);
        match over {
            Some(v) => {
                query.append_pair(name, v);
                for rest in values.iter().skip(1) {
                    query.append_pair(name, rest);
                }
            }
            None => {
                for v in values {
                    query.append_pair(name, v);
                }
            }
        }
        any = true;
    }
    if any {
        url.push('?');
        url.push_str(&query.finish());
    }
    Ok(Target {
        job: job.name.clone(),
        discovered: LabelSet::new(),
        labels,
        url,
        interval,
        timeout,
    })
}

/// A job's targets after relabelling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobTargets {
    /// To scrape, one per identity.
    pub active: Vec<Target>,
    /// Dropped by relabelling (discovered labels).
    pub dropped: Vec<LabelSet>,
    /// Unusable, with the reason.
    pub invalid: Vec<(LabelSet, String)>,
}

/// Builds every target of `groups` for `job`; duplicates collapse.
pub fn build_all<'a>(
    job: &Job,
    groups: impl IntoIterator<Item = &'a crate::scrape::discovery::TargetGroup>,
) -> JobTargets {
    let mut out = JobTargets::default();
    let mut ids = std::collections::HashSet::new();
    for group in groups {
        for t in &group.targets {
            match build(job, t, &group.labels) {
                Built::Active(t) => {
                    if ids.insert(t.identity()) {
                        out.active.push(t);
                    }
                }
                Built::Dropped(d) => out.dropped.push(d),
                Built::Invalid { discovered, reason } => {
                    tracing::warn!(job = %job.name, %reason, "target dropped: invalid");
                    out.invalid.push((discovered, reason));
                }
            }
        }
    }
    out
}
