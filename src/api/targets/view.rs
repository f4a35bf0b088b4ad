//! `MetricTarget`: a registered target with its scrape health, and the
//! list's filters, order and pages.

use super::TargetError;
use crate::api::params::Params;
use crate::scrape::registry::arrivals::Tracked;
use crate::scrape::registry::{Credentials, FilterKind, RegisteredTarget, job_name};
use crate::scrape::target::format_duration;
use crate::scrape::{ActiveTarget, Health, TargetsSnapshot};
use hourglass_storage::calendar::format_rfc3339_ms;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// Targets per page when the client gives no size.
pub const DEFAULT_PAGE: usize = 100;
/// Most targets per page.
pub const MAX_PAGE: usize = 1000;

/// A registered target's health as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The last scrape succeeded.
    Healthy,
    /// The last scrape failed.
    Unhealthy,
    /// Not scraped yet.
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "HEALTHY",
            Status::Unhealthy => "UNHEALTHY",
            Status::Unknown => "UNKNOWN",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Some(match s.to_ascii_lowercase().as_str() {
            "healthy" | "up" => Status::Healthy,
            "unhealthy" | "down" => Status::Unhealthy,
            "unknown" => Status::Unknown,
            _ => return None,
        })
    }
}

/// What is known of a registered target: its scrape loop, or what its
/// push source sent.
pub enum Seen {
    /// A pulled target's loop.
    Loop(Box<ActiveTarget>),
    /// A push source's arrivals.
    Pushed(Tracked),
}

/// The scrape loops of registered targets and the arrivals of push
/// sources, by job name.
pub fn loops(snap: TargetsSnapshot, pushed: HashMap<String, Tracked>) -> HashMap<String, Seen> {
    let mut out: HashMap<String, Seen> = snap
        .active
        .into_iter()
        .filter(|a| a.scrape_pool.starts_with("target:"))
        .map(|a| (a.scrape_pool.clone(), Seen::Loop(Box::new(a))))
        .collect();
    out.extend(
        pushed
            .into_iter()
            .map(|(id, t)| (job_name(&id), Seen::Pushed(t))),
    );
    out
}

/// A target's health and figures, whichever way it collects.
struct Figures {
    status: Status,
    last_error: Option<String>,
    last_ms: Option<i64>,
    duration: Duration,
    samples: u64,
    scrapes: u64,
    failed: u64,
}

fn millis(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A push source is healthy while its last arrival was accepted and came
/// within twice its expected interval.
fn figures(t: &RegisteredTarget, seen: Option<&Seen>, now_ms: i64) -> Figures {
    match seen {
        Some(Seen::Loop(a)) => {
            let s = &a.status;
            Figures {
                status: match s.health {
                    Health::Up => Status::Healthy,
                    Health::Down => Status::Unhealthy,
                    _ => Status::Unknown,
                },
                last_error: Some(s.last_error.clone()).filter(|e| !e.is_empty()),
                last_ms: s.last_scrape.map(millis),
                duration: s.last_scrape_duration,
                samples: s.samples_scraped,
                scrapes: s.scrapes,
                failed: s.failed_scrapes,
            }
        }
        Some(Seen::Pushed(p)) if p.last.is_some() => {
            let last = p.last.as_ref();
            let at = last.map_or(0, |l| l.at_ms);
            let (status, last_error) = match (last, p.overdue(now_ms)) {
                (Some(l), _) if !l.accepted => (Status::Unhealthy, Some(l.error.clone())),
                (_, Some(since)) => (
                    Status::Unhealthy,
                    Some(format!(
                        "nothing arrived for {} (expected every {})",
                        format_duration(since),
                        format_duration(Duration::from_millis(t.interval_ms))
                    )),
                ),
                _ => (Status::Healthy, None),
            };
            Figures {
                status,
                last_error,
                last_ms: Some(at),
                duration: last.map_or(Duration::ZERO, |l| l.duration),
                samples: last.map_or(0, |l| l.samples),
                scrapes: p.arrivals,
                failed: p.refused,
            }
        }
        _ => Figures {
            status: Status::Unknown,
            last_error: None,
            last_ms: None,
            duration: Duration::ZERO,
            samples: 0,
            scrapes: 0,
            failed: 0,
        },
    }
}

/// A target as the API shows it: stored settings (never credentials'
/// secrets) and its loop's health.
pub fn metric_target(t: &RegisteredTarget, seen: Option<&Seen>, now_ms: i64) -> Value {
    let labels: serde_json::Map<String, Value> = match seen {
        Some(Seen::Loop(a)) => a
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
        _ => {
            let mut l: serde_json::Map<String, Value> = t
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            if let Some(e) = &t.endpoint {
                l.entry("instance").or_insert(json!(e.address));
            }
            // Pushed series carry the source as `job` only on the
            // Pushgateway API; remote write and batches keep their own.
            if t.endpoint.is_some() || t.collection_method == "PUSH_GATEWAY" {
                l.insert("job".into(), json!(t.source_id));
            }
            l
        }
    };
    let f = figures(t, seen, now_ms);
    let pulled = t.endpoint.is_some();
    let authentication = match &t.credentials {
        None => Value::Null,
        Some(Credentials::Basic { username, .. }) => {
            json!({"type": "basic", "username": username})
        }
        Some(Credentials::Bearer { .. }) => json!({"type": "bearer"}),
    };
    let filters: Vec<Value> = t
        .filters
        .iter()
        .map(|f| {
            json!({
                "type": match f.kind { FilterKind::Include => "include", FilterKind::Exclude => "exclude" },
                "name_pattern": f.name_pattern,
                "label_matchers": f.label_matchers.iter().map(|m| json!({
                    "name": m.name, "op": m.op.as_str(), "value": m.value,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut v = json!({
        "target_id": t.target_id,
        "source_id": t.source_id,
        "collection_method": t.collection_method,
        "target_url": t.endpoint.as_ref().map(|e| e.url()),
        "labels": labels,
        "health_status": f.status.as_str(),
        "last_error": f.last_error,
        "last_scrape": f.last_ms.map(format_rfc3339_ms),
        "scrape_duration_ms": f.duration.as_secs_f64() * 1000.0,
        "samples_scraped": f.samples,
        "scrapes": f.scrapes,
        "failed_scrapes": f.failed,
        "scrape_interval": format_duration(Duration::from_millis(t.interval_ms)),
        "scrape_timeout": pulled.then(|| format_duration(Duration::from_millis(t.timeout_ms))),
        "scheme": t.endpoint.as_ref().map(|e| e.scheme.as_str()),
        "metrics_path": t.endpoint.as_ref().map(|e| e.metrics_path.as_str()),
        "authentication": authentication,
        "filters": filters,
        "retention_policy": t.retention_policy.as_ref().map(|r| json!({"duration": r.duration})),
        "created_at": format_rfc3339_ms(t.created_ms),
    });
    // The histogram keys the target sets, beside the other scrape settings.
    if let (Some(keys), Some(o)) = (t.histograms, v.as_object_mut())
        && let Ok(Value::Object(keys)) = serde_json::to_value(keys)
    {
        o.extend(keys);
    }
    v
}

/// What the list asks for.
#[derive(Debug, PartialEq)]
pub struct ListQuery {
    health: Option<Status>,
    source_id: Option<String>,
    sort: SortKey,
    descending: bool,
    /// First target shown (0-based).
    pub offset: usize,
    /// Most shown.
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SortKey {
    TargetId,
    SourceId,
    Health,
    LastScrape,
    CreatedAt,
    SamplesScraped,
    ScrapeDuration,
}

const SORT_KEYS: [(&str, SortKey); 7] = [
    ("target_id", SortKey::TargetId),
    ("source_id", SortKey::SourceId),
    ("health_status", SortKey::Health),
    ("last_scrape", SortKey::LastScrape),
    ("created_at", SortKey::CreatedAt),
    ("samples_scraped", SortKey::SamplesScraped),
    ("scrape_duration_ms", SortKey::ScrapeDuration),
];

impl ListQuery {
    /// Reads `health`, `source_id`, `sort` (`field` or `-field`), `order`
    /// (`asc`/`desc`), and either `limit`/`offset` or `page`/`page_size`.
    pub fn parse(p: &Params) -> Result<ListQuery, TargetError> {
        let health = p
            .get("health")
            .map(|h| {
                Status::parse(h).ok_or_else(|| {
                    TargetError::bad(
                        "health",
                        format!("health must be healthy, unhealthy or unknown, got {h:?}"),
                    )
                })
            })
            .transpose()?;
        let (sort, mut descending) = match p.get("sort") {
            None => (SortKey::TargetId, false),
            Some(s) => {
                let (name, desc) = match s.strip_prefix('-') {
                    Some(n) => (n, true),
                    None => (s, false),
                };
                let key = SORT_KEYS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, k)| *k)
                    .ok_or_else(|| {
                        let names: Vec<&str> = SORT_KEYS.iter().map(|(n, _)| *n).collect();
                        TargetError::bad(
                            "sort",
                            format!("cannot sort by {name:?}; one of {}", names.join(", ")),
                        )
                    })?;
                (key, desc)
            }
        };
        match p.get("order") {
            None => {}
            Some(o) if o.eq_ignore_ascii_case("asc") => {}
            Some(o) if o.eq_ignore_ascii_case("desc") => descending = !descending,
            Some(o) => {
                return Err(TargetError::bad(
                    "order",
                    format!("order must be asc or desc, got {o:?}"),
                ));
            }
        }
        let (offset, limit) = p.paging(DEFAULT_PAGE, MAX_PAGE)?;
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        Ok(ListQuery {
            health,
            source_id: p.get("source_id").map(str::to_string),
            sort,
            descending,
            offset,
            limit,
        })
    }

    /// The page of `targets`, and how many matched the filters.
    pub fn apply<'a>(
        &self,
        targets: impl Iterator<Item = &'a RegisteredTarget>,
        loops: &HashMap<String, Seen>,
        now_ms: i64,
    ) -> (Vec<Value>, usize) {
        let mut rows: Vec<(&RegisteredTarget, Option<&Seen>, Figures)> = targets
            .filter(|t| self.source_id.as_deref().is_none_or(|s| t.source_id == s))
            .map(|t| {
                let seen = loops.get(&job_name(&t.target_id));
                (t, seen, figures(t, seen, now_ms))
            })
            .filter(|(_, _, f)| self.health.is_none_or(|h| f.status == h))
            .collect();
        rows.sort_by(|(ta, _, fa), (tb, _, fb)| {
            let by = match self.sort {
                SortKey::TargetId => std::cmp::Ordering::Equal,
                SortKey::SourceId => ta.source_id.cmp(&tb.source_id),
                SortKey::Health => fa.status.cmp(&fb.status),
                SortKey::LastScrape => fa.last_ms.cmp(&fb.last_ms),
                SortKey::CreatedAt => ta.created_ms.cmp(&tb.created_ms),
                SortKey::SamplesScraped => {
                    (fa.scrapes > 0, fa.samples).cmp(&(fb.scrapes > 0, fb.samples))
                }
                SortKey::ScrapeDuration => {
                    (fa.scrapes > 0, fa.duration).cmp(&(fb.scrapes > 0, fb.duration))
                }
            };
            let by = by.then_with(|| ta.target_id.cmp(&tb.target_id));
            if self.descending { by.reverse() } else { by }
        });
        let total = rows.len();
        let page = rows
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(|(t, seen, _)| metric_target(t, seen, now_ms))
            .collect();
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_offsets_are_read_and_bounded() {
        let q =
            ListQuery::parse(&Params::from_pairs(&[("page", "3"), ("page_size", "10")])).unwrap();
        assert_eq!((q.offset, q.limit), (20, 10));
        let q = ListQuery::parse(&Params::from_pairs(&[("offset", "5")])).unwrap();
        assert_eq!((q.offset, q.limit), (5, DEFAULT_PAGE));
        for bad in [
            vec![("limit", "0")],
            vec![("limit", "1001")],
            vec![("page", "0")],
            vec![("page", "1"), ("limit", "5")],
            vec![("sort", "colour")],
            vec![("order", "sideways")],
            vec![("health", "so-so")],
            vec![("offset", "-1")],
        ] {
            let e = ListQuery::parse(&Params::from_pairs(&bad)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(e.field.is_some(), "{bad:?}");
        }
        let q = ListQuery::parse(&Params::from_pairs(&[
            ("sort", "-created_at"),
            ("order", "desc"),
        ]))
        .unwrap();
        assert!(!q.descending);
    }
}
