//! `/api/v1/targets` and `/api/v1/scrape_pools`, in the shape Prometheus
//! answers them, for the tools that read them (Grafana, promtool, scripts).

use super::envelope::{ApiResult, success};
use super::params::Params;
use crate::scrape::{ActiveTarget, DroppedTarget};
use crate::server::AppState;
use axum::extract::State;
use hourglass_storage::calendar::format_rfc3339_ns;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// This host's name: what Prometheus puts in `globalUrl` for loopback
/// targets when no external URL is configured.
static HOSTNAME: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
});

/// Which lists `state=` asks for: `(active, dropped)`. Any value but
/// `active`, `dropped`, `any` or none shows neither, as in Prometheus.
fn shown(state: Option<&str>) -> (bool, bool) {
    let s = state.unwrap_or("").trim().to_ascii_lowercase();
    (
        s.is_empty() || s == "any" || s == "active",
        s.is_empty() || s == "any" || s == "dropped",
    )
}

/// Go's `time.Time` JSON form (RFC 3339 with nanoseconds); the zero time
/// before the first scrape.
fn rfc3339(t: Option<SystemTime>) -> String {
    match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => format_rfc3339_ns(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

/// The scrape URL with a loopback host replaced by this host's name, as
/// Prometheus's `globalUrl` is without `--web.external-url`.
pub fn global_url(url: &str, hostname: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    if !loopback || hostname.is_empty() {
        return url.to_string();
    }
    match port {
        Some(p) => format!("{scheme}://{hostname}:{p}{tail}"),
        None => format!("{scheme}://{hostname}{tail}"),
    }
}

fn labels_json(l: &BTreeMap<String, String>) -> Value {
    Value::Object(
        l.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn active_json(t: &ActiveTarget) -> Value {
    json!({
        "discoveredLabels": labels_json(&t.discovered_labels),
        "labels": labels_json(&t.labels),
        "scrapePool": t.scrape_pool,
        "scrapeUrl": t.scrape_url,
        "globalUrl": global_url(&t.scrape_url, &HOSTNAME),
        "lastError": t.status.last_error,
        "lastScrape": rfc3339(t.status.last_scrape),
        "lastScrapeDuration": t.status.last_scrape_duration.as_secs_f64(),
        "health": t.status.health.as_str(),
        "scrapeInterval": t.scrape_interval,
        "scrapeTimeout": t.scrape_timeout,
    })
}

fn dropped_json(t: &DroppedTarget) -> Value {
    json!({
        "discoveredLabels": labels_json(&t.discovered_labels),
        "scrapePool": t.scrape_pool,
    })
}

/// `GET /api/v1/targets[?state=active|dropped|any][&scrapePool=<job>]`.
pub async fn targets(State(state): State<AppState>, params: Params) -> ApiResult {
    let (show_active, show_dropped) = shown(params.get("state"));
    let pool = params.get("scrapePool").filter(|p| !p.is_empty());
    let in_pool = |p: &str| pool.is_none_or(|want| want == p);
    let snap = state.scrape().targets();
    let active: Vec<Value> = if show_active {
        snap.active
            .iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(active_json)
            .collect()
    } else {
        Vec::new()
    };
    let (dropped, counts): (Vec<Value>, Value) = if show_dropped {
        let counts: Map<String, Value> = snap
            .dropped_counts
            .iter()
            .filter(|(p, _)| in_pool(p))
            .map(|(p, n)| (p.clone(), json!(n)))
            .collect();
        (
            snap.dropped
                .iter()
                .filter(|t| in_pool(&t.scrape_pool))
                .map(dropped_json)
                .collect(),
            Value::Object(counts),
        )
    } else {
        (Vec::new(), Value::Null)
    };
    Ok(success(
        json!({
            "activeTargets": active,
            "droppedTargets": dropped,
            "droppedTargetCounts": counts,
        }),
        &[],
    ))
}

/// `GET /api/v1/scrape_pools`: every job's name, sorted.
pub async fn scrape_pools(State(state): State<AppState>) -> ApiResult {
    let pools: Vec<String> = state
        .scrape()
        .config()
        .map(|c| {
            let mut v: Vec<String> = c.jobs.iter().map(|j| j.name.clone()).collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    Ok(success(json!({ "scrapePools": pools }), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_filter_follows_prometheus() {
        assert_eq!(shown(None), (true, true));
        assert_eq!(shown(Some("")), (true, true));
        assert_eq!(shown(Some("Any")), (true, true));
        assert_eq!(shown(Some("ACTIVE")), (true, false));
        assert_eq!(shown(Some(" dropped ")), (false, true));
        assert_eq!(shown(Some("bogus")), (false, false));
    }

    #[test]
    fn global_url_names_this_host_for_loopback_targets_only() {
        let h = "box";
        assert_eq!(
            global_url("http://127.0.0.1:9100/metrics", h),
            "http://box:9100/metrics"
        );
        assert_eq!(
            global_url("https://localhost/m?x=1", h),
            "https://box/m?x=1"
        );
        assert_eq!(
            global_url("http://[::1]:9/metrics", h),
            "http://box:9/metrics"
        );
        assert_eq!(
            global_url("http://10.0.0.1:9100/metrics", h),
            "http://10.0.0.1:9100/metrics"
        );
        assert_eq!(
            global_url("http://[fe80::1]:9100/metrics", h),
            "http://[fe80::1]:9100/metrics"
        );
    }

    #[test]
    fn last_scrape_is_go_zero_time_before_the_first_scrape() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5_000_000);
        assert_eq!(rfc3339(Some(t)), "2023-11-14T22:13:20.005Z");
    }
}
