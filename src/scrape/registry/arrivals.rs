//! Health of registered push sources, from what arrives: each request on a
//! source's channel (Pushgateway job, remote-write token, custom-metrics
//! token) is noted as accepted or refused. Only registered sources are
//! tracked, so the table is bounded by the registry.

use super::Registry;
use hourglass_wal::lock::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Where a push source's samples arrive, by collection method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `PUSH_GATEWAY`: `/metrics/job/<source_id>`.
    Pushgateway,
    /// `STREAMING`: `/api/v1/write` with the write token named `<source_id>`.
    RemoteWrite,
    /// `BATCH_UPLOAD`: `/api/v1/metrics/custom` with the write token named
    /// `<source_id>`.
    CustomBatch,
}

impl Channel {
    /// The channel of a push collection method; none for `PULL_SCRAPING`
    /// and unknown methods.
    pub fn of(method: &str) -> Option<Channel> {
        Some(match method {
            "PUSH_GATEWAY" => Channel::Pushgateway,
            "STREAMING" => Channel::RemoteWrite,
            "BATCH_UPLOAD" => Channel::CustomBatch,
            _ => return None,
        })
    }
}

/// The last request on a source's channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// When it was answered, Unix ms.
    pub at_ms: i64,
    /// Whether it was answered 2xx.
    pub accepted: bool,
    /// Why it was refused (empty when accepted).
    pub error: String,
    /// Samples stored from it.
    pub samples: u64,
    /// Request handling time.
    pub duration: Duration,
}

/// What is known of one registered push source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tracked {
    /// Its registration.
    pub target_id: String,
    /// How often it is expected to send, ms.
    pub interval_ms: u64,
    /// The last request, if any came.
    pub last: Option<Arrival>,
    /// Requests seen.
    pub arrivals: u64,
    /// Of those, refused.
    pub refused: u64,
}

impl Tracked {
    /// How long since the last arrival when it is later than twice the
    /// expected interval.
    pub fn overdue(&self, now_ms: i64) -> Option<Duration> {
        let at = self.last.as_ref()?.at_ms;
        let since = u64::try_from(now_ms.saturating_sub(at)).unwrap_or(0);
        (since > self.interval_ms.saturating_mul(2)).then(|| Duration::from_millis(since))
    }

    /// Healthy: the last arrival was accepted and not overdue.
    pub fn healthy(&self, now_ms: i64) -> bool {
        self.last.as_ref().is_some_and(|l| l.accepted) && self.overdue(now_ms).is_none()
    }
}

/// The registered push sources' arrivals.
#[derive(Debug, Default)]
pub struct Arrivals {
    by_source: Mutex<HashMap<(Channel, String), Tracked>>,
}

impl Arrivals {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<(Channel, String), Tracked>> {
        lock(&self.by_source)
    }

    /// Tracks exactly the push sources of `reg`, keeping what is known of
    /// those still registered under the same id.
    pub fn sync(&self, reg: &Registry) {
        let mut table = self.table();
        let mut next = HashMap::new();
        for t in reg.iter() {
            let Some(ch) = Channel::of(&t.collection_method) else {
                continue;
            };
            let key = (ch, t.source_id.clone());
            let kept = table
                .remove(&key)
                .filter(|old| old.target_id == t.target_id)
                .unwrap_or_else(|| Tracked {
                    target_id: t.target_id.clone(),
                    ..Tracked::default()
                });
            let kept = Tracked {
                interval_ms: t.interval_ms,
                ..kept
            };
            next.insert(key, kept);
        }
        *table = next;
    }

    /// Whether `source` is a registered push source on `ch`.
    pub fn watched(&self, ch: Channel, source: &str) -> bool {
        self.table().contains_key(&(ch, source.to_string()))
    }

    /// Notes a request on `ch` from `source`; ignored when the source is not
    /// registered.
    pub fn record(&self, ch: Channel, source: &str, arrival: Arrival) {
        if let Some(t) = self.table().get_mut(&(ch, source.to_string())) {
            t.arrivals += 1;
            if !arrival.accepted {
                t.refused += 1;
            }
            t.last = Some(arrival);
        }
    }

    /// Every tracked source, by target id.
    pub fn snapshot(&self) -> HashMap<String, Tracked> {
        self.table()
            .values()
            .map(|t| (t.target_id.clone(), t.clone()))
            .collect()
    }
}
