//! The `metrics_collected` event, exactly the JSON shape issue #16 fixes,
//! and the filters consumers select events with.

use serde::{Deserialize, Serialize};

/// How a batch arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Method {
    /// A scrape.
    PullScraping,
    /// A Pushgateway or custom-metrics push.
    PushGateway,
    /// Remote write, aggregated per sender per second.
    Streaming,
    /// An import.
    BatchUpload,
}

impl Method {
    /// The spelling in events and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::PullScraping => "PULL_SCRAPING",
            Method::PushGateway => "PUSH_GATEWAY",
            Method::Streaming => "STREAMING",
            Method::BatchUpload => "BATCH_UPLOAD",
        }
    }

    /// Parses the spelling in events and filters.
    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::PullScraping,
            Method::PushGateway,
            Method::Streaming,
            Method::BatchUpload,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// The health of what the batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Collected without error.
    Healthy,
    /// The collection failed or was refused in part.
    Unhealthy,
    /// Not known (nothing says either way).
    Unknown,
}

impl Health {
    /// The spelling in events and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
        }
    }

    /// `Healthy` when the collection went without error, else `Unhealthy`.
    pub fn from_ok(ok: bool) -> Health {
        if ok {
            Health::Healthy
        } else {
            Health::Unhealthy
        }
    }

    /// Parses the spelling in events and filters.
    pub fn parse(s: &str) -> Option<Health> {
        [Health::Healthy, Health::Unhealthy, Health::Unknown]
            .into_iter()
            .find(|h| h.as_str() == s)
    }
}

/// Metric families of the batch by declared type (a family with no type
/// is in none of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Counter families.
    pub counters: u64,
    /// Gauge families.
    pub gauges: u64,
    /// Histogram families (classic and native).
    pub histograms: u64,
    /// Summary families.
    pub summaries: u64,
}

impl Summary {
    /// Counts one family of Prometheus type `kind` (`counter`, `gauge`,
    /// `histogram`, `gaugehistogram`, `summary`; others are not counted).
    pub fn count(&mut self, kind: &str) {
        match kind.to_ascii_lowercase().as_str() {
            "counter" => self.counters += 1,
            "gauge" => self.gauges += 1,
            "histogram" | "gaugehistogram" | "gauge_histogram" => self.histograms += 1,
            "summary" => self.summaries += 1,
            _ => {}
        }
    }
}

/// What one collection batch brought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collected {
    /// Unique per batch.
    pub collection_batch_id: String,
    /// The registered target's source, the scrape job, the push job or the
    /// write token's name (the remote address without one).
    pub source_id: String,
    /// Samples stored.
    pub metrics_count: u64,
    /// How long the collection took (summed over the second for remote
    /// write).
    pub collection_duration_ms: u64,
    /// How the batch arrived.
    pub collection_method: Method,
    /// Whether it went well.
    pub target_health: Health,
    /// Families by type.
    pub metrics_summary: Summary,
    /// Failures in the batch (a failed scrape, refused samples, refused
    /// requests).
    pub error_count: u64,
    /// `metrics_count` over the collection duration (0 when it took no
    /// measurable time).
    pub samples_per_second: u64,
}

/// One event as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// A v4 UUID; the broker's de-duplication id.
    pub event_id: String,
    /// When the batch ended (RFC 3339, milliseconds, UTC).
    pub timestamp: String,
    /// The batch.
    pub metrics_collected: Collected,
}

impl Event {
    /// An event for a batch that ended at `at_ms` (Unix ms).
    pub fn new(at_ms: i64, collected: Collected) -> Event {
        Event {
            event_id: uuid::Uuid::new_v4().to_string(),
            timestamp: hourglass_storage::calendar::format_rfc3339_ms(at_ms),
            metrics_collected: collected,
        }
    }

    /// A healthy Pushgateway batch `batch` of `source` with `n` metrics,
    /// at time 0: the events the bus and consumer tests emit.
    #[cfg(test)]
    pub(crate) fn pushed(source: &str, batch: String, n: u64) -> Event {
        Event::new(
            0,
            Collected {
                collection_batch_id: batch,
                source_id: source.to_string(),
                metrics_count: n,
                collection_duration_ms: 0,
                collection_method: Method::PushGateway,
                target_health: Health::Healthy,
                metrics_summary: Summary::default(),
                error_count: 0,
                samples_per_second: 0,
            },
        )
    }
}

/// Rate of `count` over `duration_ms`, 0 when the duration is 0.
pub fn per_second(count: u64, duration: std::time::Duration) -> u64 {
    let secs = duration.as_secs_f64();
    if secs > 0.0 {
        (count as f64 / secs).round() as u64
    } else {
        0
    }
}

/// Which events a consumer wants: each field empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Sources to keep.
    pub source_id: Vec<String>,
    /// Methods to keep.
    pub collection_method: Vec<Method>,
    /// Health values to keep.
    pub target_health: Vec<Health>,
}

/// Longest list one filter field may hold.
pub const MAX_FILTER_VALUES: usize = 256;

/// A filter field that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not one of the three fields.
    #[error("unknown filter field {0:?}: filter by source_id, collection_method or target_health")]
    UnknownField(String),
    /// A value the field does not have.
    #[error("invalid {field} {value:?}: expected one of {expected}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// What was given.
        value: String,
        /// The values it takes.
        expected: &'static str,
    },
    /// Too many values.
    #[error("too many values for {0} (at most {MAX_FILTER_VALUES})")]
    TooMany(&'static str),
}

impl Filter {
    /// Adds one `field=value` pair (a value may be comma-separated).
    pub fn add(&mut self, field: &str, value: &str) -> Result<(), FilterError> {
        for v in value.split(',').filter(|v| !v.is_empty()) {
            match field {
                "source_id" => push(&mut self.source_id, v.to_string(), "source_id")?,
                "collection_method" => {
                    let expected = "PULL_SCRAPING, PUSH_GATEWAY, STREAMING, BATCH_UPLOAD";
                    let m = known(Method::parse(v), "collection_method", v, expected)?;
                    push(&mut self.collection_method, m, "collection_method")?;
                }
                "target_health" => {
                    let expected = "healthy, unhealthy, unknown";
                    let h = known(Health::parse(v), "target_health", v, expected)?;
                    push(&mut self.target_health, h, "target_health")?;
                }
                other => return Err(FilterError::UnknownField(other.to_string())),
            }
        }
        Ok(())
    }

    /// Whether `c` passes.
    pub fn matches(&self, c: &Collected) -> bool {
        (self.source_id.is_empty() || self.source_id.contains(&c.source_id))
            && (self.collection_method.is_empty()
                || self.collection_method.contains(&c.collection_method))
            && (self.target_health.is_empty() || self.target_health.contains(&c.target_health))
    }
}

/// `parsed`, or the error naming `field`, the `value` given and the values
/// it takes.
fn known<T>(
    parsed: Option<T>,
    field: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<T, FilterError> {
    parsed.ok_or_else(|| FilterError::BadValue {
        field,
        value: value.to_string(),
        expected,
    })
}

fn push<T: PartialEq>(list: &mut Vec<T>, v: T, field: &'static str) -> Result<(), FilterError> {
    if !list.contains(&v) {
        if list.len() >= MAX_FILTER_VALUES {
            return Err(FilterError::TooMany(field));
        }
        list.push(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected() -> Collected {
        Collected {
            collection_batch_id: "b1".into(),
            source_id: "node".into(),
            metrics_count: 1250,
            collection_duration_ms: 85,
            collection_method: Method::PullScraping,
            target_health: Health::Healthy,
            metrics_summary: Summary {
                counters: 450,
                gauges: 600,
                histograms: 150,
                summaries: 50,
            },
            error_count: 0,
            samples_per_second: 14705,
        }
    }

    #[test]
    fn event_json_has_exactly_the_issue_shape() {
        let e = Event::new(1_700_000_000_123, collected());
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["event_id", "metrics_collected", "timestamp"]);
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.123Z");
        assert!(uuid::Uuid::parse_str(v["event_id"].as_str().unwrap()).is_ok());
        let mc = &v["metrics_collected"];
        assert_eq!(mc.as_object().unwrap().len(), 9);
        assert_eq!(mc["collection_method"], "PULL_SCRAPING");
        assert_eq!(mc["target_health"], "healthy");
        assert_eq!(mc["metrics_summary"]["summaries"], 50);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn filters_parse_and_match() {
        let mut f = Filter::default();
        f.add("source_id", "node,api").unwrap();
        f.add("target_health", "healthy").unwrap();
        assert!(f.matches(&collected()));
        f.add("collection_method", "STREAMING").unwrap();
        assert!(!f.matches(&collected()));
        assert!(matches!(
            f.add("source", "x"),
            Err(FilterError::UnknownField(_))
        ));
        let e = f.add("target_health", "sick").unwrap_err().to_string();
        assert!(e.contains("target_health") && e.contains("sick"), "{e}");
    }
}
