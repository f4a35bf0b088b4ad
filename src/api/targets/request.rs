//! `MetricCollectionRequest`: read field by field from JSON, so every
//! refusal names the field (`scrape_config.scrape_interval`,
//! `filters[2].name_pattern`) and says why.

use super::TargetError;
use super::fields::{MAX_TEXT, Obj, bad, bounded, field, object, only, string};
use super::filters::filters;
use crate::scrape::config::HistogramKeys;
use crate::scrape::registry::{Credentials, Endpoint, RegisteredTarget, Retention};
use hourglass_query::prom_text::is_legacy_label_name;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Shortest scrape interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest scrape interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// Interval when none is given (Prometheus's global default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// A push source's expected interval when none is given.
pub const PUSH_INTERVAL: Duration = Duration::from_secs(300);
/// Timeout when none is given, capped at the interval.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most extra labels per target.
const MAX_LABELS: usize = 32;
/// Longest id and source.
const MAX_ID: usize = 128;

/// A duration: a string as Prometheus writes one (`15s`, `100ms`, `1m30s`)
/// or a number of seconds.
fn duration(v: &Value, field: &str) -> Result<Duration, TargetError> {
    let d = match v {
        Value::String(s) => hourglass_query::duration::parse_duration(s)
            .map_err(|e| bad(field, format!("cannot parse {s:?} as a duration: {e}")))?,
        Value::Number(n) => {
            let secs = n.as_f64().unwrap_or(f64::NAN);
            if !secs.is_finite() || secs < 0.0 || secs > MAX_INTERVAL.as_secs_f64() * 2.0 {
                return Err(bad(field, format!("{n} is not a usable number of seconds")));
            }
            Duration::from_millis((secs * 1000.0).round() as u64)
        }
        _ => {
            return Err(bad(
                field,
                format!("{field} must be a duration such as \"15s\" or a number of seconds"),
            ));
        }
    };
    Ok(d)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A registration request, checked; `id` names it when the client gave
/// none. `now_ms` stamps it.
pub fn parse(
    body: &[u8],
    id: impl FnOnce(&str, &str) -> String,
    now_ms: i64,
) -> Result<RegisteredTarget, TargetError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TargetError::bad_body(format!("the body is not valid JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| TargetError::bad_body("the body must be a JSON object"))?;
    only(
        o,
        &[
            "target_id",
            "source_id",
            "collection_method",
            "scrape_config",
            "filters",
            "retention_policy",
            "labels",
        ],
        "",
    )?;
    let source_id = match field(o, "source_id") {
        Some(v) => bounded(v, "source_id", MAX_ID)?.to_string(),
        None => return Err(bad("source_id", "source_id is required")),
    };
    let method = match field(o, "collection_method") {
        Some(v) => string(v, "collection_method")?,
        None => "PULL_SCRAPING",
    };
    let pushed = collection_method(method)?;
    let sc = field(o, "scrape_config")
        .map(|v| object(v, "scrape_config"))
        .transpose()?;
    let (endpoint, interval, timeout, credentials, histograms) = match (pushed, sc) {
        (false, Some(sc)) => {
            let (e, i, t, c, h) = scrape_config(sc)?;
            (Some(e), i, t, c, h)
        }
        (false, None) => {
            return Err(bad(
                "scrape_config",
                "scrape_config is required (with target_url)",
            ));
        }
        (true, sc) => (None, push_interval(sc, method)?, Duration::ZERO, None, None),
    };
    if pushed && field(o, "filters").is_some() {
        return Err(bad(
            "filters",
            format!(
                "filters run on scrapes; a {method} source's samples are stored as it sends them"
            ),
        ));
    }
    let filters = match field(o, "filters") {
        Some(v) => filters(v)?,
        None => Vec::new(),
    };
    let retention_policy = match field(o, "retention_policy") {
        Some(v) => Some(retention(v)?),
        None => None,
    };
    let labels = match field(o, "labels") {
        Some(v) => labels(v)?,
        None => BTreeMap::new(),
    };
    let target_id = match field(o, "target_id") {
        Some(v) => {
            let s = bounded(v, "target_id", MAX_ID)?;
            if !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return Err(bad(
                    "target_id",
                    "target_id may hold only letters, digits, '_', '-' and '.'",
                ));
            }
            s.to_string()
        }
        None => id(
            &source_id,
            &endpoint
                .as_ref()
                .map_or_else(|| method.to_string(), |e| e.url()),
        ),
    };
    let t = RegisteredTarget {
        target_id,
        source_id,
        collection_method: method.into(),
        endpoint,
        interval_ms: ms(interval),
        timeout_ms: ms(timeout),
        credentials,
        filters,
        retention_policy,
        labels,
        created_ms: now_ms,
        histograms,
    };
    crate::scrape::registry::validate(&t).map_err(|e| bad("scrape_config", e))?;
    Ok(t)
}

/// A push source's expected arrival interval: `scrape_config.scrape_interval`
/// when given, else [`PUSH_INTERVAL`]. Nothing else in `scrape_config`
/// applies to a source that is not scraped.
fn push_interval(sc: Option<&Obj>, method: &str) -> Result<Duration, TargetError> {
    let Some(sc) = sc else {
        return Ok(PUSH_INTERVAL);
    };
    if let Some(k) = sc.keys().find(|k| k.as_str() != "scrape_interval") {
        return Err(bad(
            format!("scrape_config.{k}"),
            format!(
                "a {method} source is not scraped: its scrape_config may hold only \
                 scrape_interval (how often it is expected to send)"
            ),
        ));
    }
    let interval = scrape_interval(sc, PUSH_INTERVAL)?;
    Ok(interval)
}

/// Whether `m` is a push method (`false` for `PULL_SCRAPING`).
fn collection_method(m: &str) -> Result<bool, TargetError> {
    match m {
        "PULL_SCRAPING" => Ok(false),
        "PUSH_GATEWAY" | "STREAMING" | "BATCH_UPLOAD" => Ok(true),
        other => Err(bad(
            "collection_method",
            format!(
                "unknown collection_method {other:?}; one of PULL_SCRAPING, PUSH_GATEWAY, STREAMING, BATCH_UPLOAD"
            ),
        )),
    }
}

type ScrapeParts = (
    Endpoint,
    Duration,
    Duration,
    Option<Credentials>,
    Option<HistogramKeys>,
);

/// The histogram keys of `scrape_config` (booleans, as in a scrape job);
/// none when none is given.
fn histogram_keys(sc: &Obj) -> Result<Option<HistogramKeys>, TargetError> {
    let flag = |key: &str| -> Result<Option<bool>, TargetError> {
        match field(sc, key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(bad(
                format!("scrape_config.{key}"),
                format!("{key} must be true or false, got {v}"),
            )),
        }
    };
    let keys = HistogramKeys {
        scrape_native_histograms: flag("scrape_native_histograms")?,
        always_scrape_classic_histograms: flag("always_scrape_classic_histograms")?,
        convert_classic_histograms_to_nhcb: flag("convert_classic_histograms_to_nhcb")?,
    };
    Ok((!keys.is_empty()).then_some(keys))
}

fn scrape_config(sc: &Obj) -> Result<ScrapeParts, TargetError> {
    const P: &str = "scrape_config.";
    only(
        sc,
        &[
            "target_url",
            "scrape_interval",
            "scrape_timeout",
            "metrics_path",
            "scheme",
            "authentication",
            "scrape_native_histograms",
            "always_scrape_classic_histograms",
            "convert_classic_histograms_to_nhcb",
        ],
        P,
    )?;
    let url_field = "scrape_config.target_url";
    let url = match field(sc, "target_url") {
        Some(v) => bounded(v, url_field, MAX_TEXT)?,
        None => return Err(bad(url_field, "target_url is required")),
    };
    let scheme_field = "scrape_config.scheme";
    let scheme = field(sc, "scheme")
        .map(|v| string(v, scheme_field))
        .transpose()?;
    if let Some(s) = scheme
        && s != "http"
        && s != "https"
    {
        return Err(bad(
            scheme_field,
            format!("scheme must be http or https, got {s:?}"),
        ));
    }
    let path_field = "scrape_config.metrics_path";
    let metrics_path = field(sc, "metrics_path")
        .map(|v| bounded(v, path_field, MAX_TEXT))
        .transpose()?;
    if let Some(p) = metrics_path
        && !p.starts_with('/')
    {
        return Err(bad(
            path_field,
            format!("metrics_path {p:?} must start with /"),
        ));
    }
    let endpoint = endpoint(url, scheme, metrics_path)?;
    let interval = scrape_interval(sc, DEFAULT_INTERVAL)?;
    let timeout = match field(sc, "scrape_timeout") {
        Some(v) => duration(v, "scrape_config.scrape_timeout")?,
        None => DEFAULT_TIMEOUT.min(interval),
    };
    if timeout.as_millis() == 0 {
        return Err(bad(
            "scrape_config.scrape_timeout",
            "scrape_timeout must be at least 1ms",
        ));
    }
    if timeout > interval {
        return Err(bad(
            "scrape_config.scrape_timeout",
            format!(
                "scrape_timeout {} is longer than scrape_interval {}",
                crate::scrape::target::format_duration(timeout),
                crate::scrape::target::format_duration(interval)
            ),
        ));
    }
    let credentials = match field(sc, "authentication") {
        Some(v) => authentication(v)?,
        None => None,
    };
    let histograms = histogram_keys(sc)?;
    Ok((endpoint, interval, timeout, credentials, histograms))
}

/// `http://host:port/path?query`, or `host:port` (then `scheme` and
/// `metrics_path` or their defaults). A path in the URL and a different
/// `metrics_path` conflict, as do two schemes.
fn endpoint(
    url: &str,
    scheme: Option<&str>,
    metrics_path: Option<&str>,
) -> Result<Endpoint, TargetError> {
    const F: &str = "scrape_config.target_url";
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("{}://{url}", scheme.unwrap_or("http"))
    };
    if full.contains('#') {
        return Err(bad(F, "target_url must not have a fragment (#…)"));
    }
    let uri: axum::http::Uri = full
        .parse()
        .map_err(|e| bad(F, format!("{url:?} is not a valid URL: {e}")))?;
    let url_scheme = uri.scheme_str().unwrap_or("http");
    if url_scheme != "http" && url_scheme != "https" {
        return Err(bad(
            F,
            format!("scheme {url_scheme:?} is not supported; use http or https"),
        ));
    }
    if let Some(s) = scheme
        && s != url_scheme
    {
        return Err(bad(
            "scrape_config.scheme",
            format!("scheme {s:?} conflicts with target_url's {url_scheme:?}"),
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| bad(F, format!("{url:?} has no host")))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            F,
            "target_url must not hold credentials; use scrape_config.authentication",
        ));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(bad(F, format!("{url:?} has no host")));
    }
    // The text after the host, so an out-of-range port is refused rather
    // than read as absent.
    let port_text = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, rest)| rest)
        .rsplit_once(':')
        .map(|(_, p)| p);
    let port = match port_text {
        Some("") => return Err(bad(F, format!("{url:?} has an empty port"))),
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(bad(F, format!("port {p:?} is not a port from 1 to 65535")));
            }
            Ok(n) => n,
        },
        None if url_scheme == "https" => 443,
        None => 80,
    };
    let url_path = uri.path();
    let path = match (url_path, metrics_path) {
        ("" | "/", None) => "/metrics".to_string(),
        ("" | "/", Some(p)) => p.to_string(),
        (u, None) => u.to_string(),
        (u, Some(p)) if u == p => p.to_string(),
        (u, Some(p)) => {
            return Err(bad(
                "scrape_config.metrics_path",
                format!("metrics_path {p:?} conflicts with target_url's path {u:?}"),
            ));
        }
    };
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(q) = uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            params
                .entry(k.into_owned())
                .or_default()
                .push(v.into_owned());
        }
    }
    Ok(Endpoint {
        scheme: url_scheme.to_string(),
        address: format!("{host}:{port}"),
        metrics_path: path,
        params,
    })
}

/// `{"basic": {"username", "password"}}`, `{"bearer": {"token"}}`, or the
/// flat `{"type": "basic"|"bearer", …}`.
fn authentication(v: &Value) -> Result<Option<Credentials>, TargetError> {
    const F: &str = "scrape_config.authentication";
    let o = object(v, F)?;
    let (kind, fields, prefix) = if let Some(t) = field(o, "type") {
        let kind = string(t, &format!("{F}.type"))?.to_ascii_lowercase();
        (kind, o, format!("{F}."))
    } else {
        only(o, &["basic", "bearer"], &format!("{F}."))?;
        match (field(o, "basic"), field(o, "bearer")) {
            (Some(b), None) => (
                "basic".to_string(),
                object(b, &format!("{F}.basic"))?,
                format!("{F}.basic."),
            ),
            (None, Some(b)) => (
                "bearer".to_string(),
                object(b, &format!("{F}.bearer"))?,
                format!("{F}.bearer."),
            ),
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(bad(F, "give one of basic and bearer, not both"));
            }
        }
    };
    let text = |key: &str| -> Result<String, TargetError> {
        let name = format!("{prefix}{key}");
        match field(fields, key) {
            Some(v) => Ok(bounded(v, &name, MAX_TEXT)?.to_string()),
            None => Err(bad(name, format!("{key} is required"))),
        }
    };
    match kind.as_str() {
        "basic" => {
            only(fields, &["type", "username", "password"], &prefix)?;
            let username = text("username")?;
            if username.contains(':') {
                return Err(bad(
                    format!("{prefix}username"),
                    "a basic-auth username cannot hold ':'",
                ));
            }
            Ok(Some(Credentials::Basic {
                username,
                password: text("password")?,
            }))
        }
        "bearer" => {
            only(fields, &["type", "token"], &prefix)?;
            Ok(Some(Credentials::Bearer {
                token: text("token")?,
            }))
        }
        other => Err(bad(
            format!("{F}.type"),
            format!("unknown authentication type {other:?}; basic or bearer"),
        )),
    }
}

/// `"30d"` or `{"duration": "30d"}`.
fn retention(v: &Value) -> Result<Retention, TargetError> {
    const F: &str = "retention_policy";
    let (d, at) = match v {
        Value::String(_) => (v, F.to_string()),
        Value::Object(o) => {
            only(o, &["duration"], "retention_policy.")?;
            match field(o, "duration") {
                Some(d) => (d, "retention_policy.duration".to_string()),
                None => {
                    return Err(bad(
                        "retention_policy.duration",
                        "duration is required (e.g. \"30d\")",
                    ));
                }
            }
        }
        _ => {
            return Err(bad(
                F,
                "retention_policy must be a duration such as \"30d\" or {\"duration\": \"30d\"}",
            ));
        }
    };
    let text = string(d, &at)?;
    let parsed = hourglass_query::duration::parse_duration(text)
        .map_err(|e| bad(&at, format!("cannot parse {text:?} as a duration: {e}")))?;
    if parsed.is_zero() {
        return Err(bad(at, "the retention duration must be positive"));
    }
    Ok(Retention {
        duration: text.to_string(),
        duration_ms: ms(parsed),
    })
}

fn labels(v: &Value) -> Result<BTreeMap<String, String>, TargetError> {
    let o = object(v, "labels")?;
    if o.len() > MAX_LABELS {
        return Err(bad("labels", format!("at most {MAX_LABELS} labels")));
    }
    let mut out = BTreeMap::new();
    for (k, v) in o {
        let at = format!("labels.{k}");
        if !is_legacy_label_name(k) || k.starts_with("__") {
            return Err(bad(at, format!("{k:?} is not a valid target label name")));
        }
        if k == "job" {
            return Err(bad(at, "the job label is the source_id"));
        }
        out.insert(k.clone(), bounded(v, &at, MAX_TEXT)?.to_string());
    }
    Ok(out)
}

/// `scrape_config.scrape_interval`, `default` when absent, within
/// 100ms..=24h.
fn scrape_interval(sc: &Obj, default: Duration) -> Result<Duration, TargetError> {
    let interval = match field(sc, "scrape_interval") {
        Some(v) => duration(v, "scrape_config.scrape_interval")?,
        None => default,
    };
    if interval < MIN_INTERVAL || interval > MAX_INTERVAL {
        return Err(bad(
            "scrape_config.scrape_interval",
            format!(
                "scrape_interval must be between 100ms and 24h, got {}",
                crate::scrape::target::format_duration(interval)
            ),
        ));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(url: &str, scheme: Option<&str>, path: Option<&str>) -> Result<String, String> {
        endpoint(url, scheme, path)
            .map(|e| e.url())
            .map_err(|e| format!("{}: {}", e.field.unwrap_or_default(), e.error))
    }

    #[test]
    fn target_urls_in_every_accepted_form() {
        assert_eq!(
            ep("127.0.0.1:9100", None, None).unwrap(),
            "http://127.0.0.1:9100/metrics"
        );
        assert_eq!(ep("h", None, None).unwrap(), "http://h:80/metrics");
        assert_eq!(
            ep("h", Some("https"), None).unwrap(),
            "https://h:443/metrics"
        );
        assert_eq!(ep("http://h:1/", None, Some("/m")).unwrap(), "http://h:1/m");
        assert_eq!(
            ep("http://h:1/x?b=2&a=1&a=3", None, None).unwrap(),
            "http://h:1/x?a=1&a=3&b=2"
        );
        assert_eq!(
            ep("http://[::1]:9/metrics", None, None).unwrap(),
            "http://[::1]:9/metrics"
        );
        for (bad, field) in [
            ("http://h:1/x", Some("https")),
            ("http://h:0/", None),
            ("http://h:/", None),
            ("http://h:1/#frag", None),
            ("unix:///var/run/x", None),
            ("http://h:99999/", None),
        ] {
            assert!(ep(bad, field, None).is_err(), "{bad} accepted");
        }
        assert!(
            ep("http://h:1/x", None, Some("/y"))
                .unwrap_err()
                .contains("metrics_path")
        );
    }

    #[test]
    fn durations_as_text_or_seconds() {
        assert_eq!(
            duration(&serde_json::json!("1m30s"), "f").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            duration(&serde_json::json!(0.25), "f").unwrap(),
            Duration::from_millis(250)
        );
        assert!(duration(&serde_json::json!(true), "f").is_err());
        assert!(duration(&serde_json::json!(1e300), "f").is_err());
    }
}
