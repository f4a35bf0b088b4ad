//! Alerts to Alertmanager (API v2, `POST /api/v2/alerts`): external labels
//! added where missing, `alert_relabel_configs` applied, one bounded queue
//! and one send loop per Alertmanager. A full queue drops its oldest
//! alerts; a failed POST is counted and not retried, as the periodic
//! re-send heals it. Evaluation never waits on any of it.

use super::alert::Outgoing;
use super::config::{AlertmanagerConfig, RulesConfig};
use crate::scrape::relabel::{self, Rule as RelabelRule};
use hourglass_wal::lock::lock;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// `--alertmanager.notification-queue-capacity`.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per POST.
pub const BATCH_SIZE: usize = 256;

/// Notification counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct NotifierCounters {
    /// Alerts posted successfully.
    pub sent: AtomicU64,
    /// POSTs that failed.
    pub errors: AtomicU64,
    /// Alerts dropped (full queue or failed POST).
    pub dropped: AtomicU64,
    /// Sum of enqueue-to-2xx latencies (µs) and their count.
    pub latency_micros: AtomicU64,
    /// Batches the latency sum covers.
    pub latency_count: AtomicU64,
    /// Longest enqueue-to-2xx latency (µs).
    pub latency_max_micros: AtomicU64,
}

struct Queue {
    url: String,
    timeout: Duration,
    items: Mutex<VecDeque<(Instant, Value)>>,
    wake: Arc<Notify>,
    relabel: Vec<RelabelRule>,
}

/// Hands alerts to every configured Alertmanager; cheap to clone.
#[derive(Clone, Default)]
pub struct Notifier {
    queues: Arc<Vec<Arc<Queue>>>,
    external_labels: Arc<BTreeMap<String, String>>,
    relabel: Arc<Vec<RelabelRule>>,
    counters: Arc<NotifierCounters>,
    tasks: Arc<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        self.wake.notify_waiters();
    }
}

fn rfc3339(ms: i64) -> String {
    hourglass_storage::calendar::format_rfc3339_ms(ms)
}

impl Notifier {
    /// Starts one send loop per Alertmanager of `config` (inside a Tokio
    /// runtime); counters are shared with earlier notifiers.
    pub fn start(config: &RulesConfig, counters: Arc<NotifierCounters>) -> Notifier {
        let mut queues = Vec::new();
        for am in &config.alertmanagers {
            queues.extend(queues_of(am));
        }
        let queues: Vec<Arc<Queue>> = queues.into_iter().map(Arc::new).collect();
        let tasks = queues
            .iter()
            .map(|q| tokio::spawn(send_loop(Arc::downgrade(q), Arc::clone(&counters))))
            .collect();
        Notifier {
            queues: Arc::new(queues),
            external_labels: Arc::new(config.external_labels.clone()),
            relabel: Arc::new(config.alert_relabel_configs.clone()),
            counters,
            tasks: Arc::new(tasks),
        }
    }

    /// The shared counters.
    pub fn counters(&self) -> &Arc<NotifierCounters> {
        &self.counters
    }

    /// Alerts waiting, over every queue.
    pub fn queue_length(&self) -> usize {
        self.queues.iter().map(|q| lock(&q.items).len()).sum()
    }

    /// Stops the send loops (a reload replaced this notifier).
    pub fn stop(&self) {
        for t in self.tasks.iter() {
            t.abort();
        }
    }

    /// Queues `alerts` for every Alertmanager; never blocks.
    pub fn send(&self, alerts: Vec<Outgoing>) {
        if self.queues.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut prepared = Vec::with_capacity(alerts.len());
        for a in alerts {
            let mut labels = a.labels;
            for (k, v) in self.external_labels.iter() {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if !relabel::apply(&self.relabel, &mut labels) || labels.is_empty() {
                continue;
            }
            prepared.push((
                labels,
                a.annotations,
                a.starts_at,
                a.ends_at,
                a.generator_url,
            ));
        }
        for q in self.queues.iter() {
            let mut items = lock(&q.items);
            for (labels, ann, starts, ends, url) in &prepared {
                let mut labels = labels.clone();
                if !relabel::apply(&q.relabel, &mut labels) || labels.is_empty() {
                    continue;
                }
                items.push_back((
                    now,
                    json!({
                        "labels": labels,
                        "annotations": ann,
                        "startsAt": rfc3339(*starts),
                        "endsAt": rfc3339(*ends),
                        "generatorURL": url,
                    }),
                ));
            }
            let over = items.len().saturating_sub(QUEUE_CAPACITY);
            if over > 0 {
                items.drain(..over);
                self.counters
                    .dropped
                    .fetch_add(over as u64, Ordering::Relaxed);
            }
            drop(items);
            q.wake.notify_one();
        }
    }
}

fn queues_of(am: &AlertmanagerConfig) -> Vec<Queue> {
    am.urls()
        .into_iter()
        .map(|url| Queue {
            url,
            timeout: am.timeout,
            items: Mutex::new(VecDeque::new()),
            wake: Arc::new(Notify::new()),
            relabel: am.alert_relabel_configs.clone(),
        })
        .collect()
}

async fn send_loop(queue: std::sync::Weak<Queue>, counters: Arc<NotifierCounters>) {
    loop {
        let Some(q) = queue.upgrade() else { return };
        let batch: Vec<(Instant, Value)> = {
            let mut items = lock(&q.items);
            let n = items.len().min(BATCH_SIZE);
            items.drain(..n).collect()
        };
        if batch.is_empty() {
            let wake = Arc::clone(&q.wake);
            drop(q);
            wake.notified().await;
            continue;
        }
        let oldest = batch
            .iter()
            .map(|(t, _)| *t)
            .min()
            .unwrap_or_else(Instant::now);
        let body = Value::Array(batch.iter().map(|(_, v)| v.clone()).collect()).to_string();
        let n = batch.len() as u64;
        match tokio::time::timeout(q.timeout, post(&q.url, body)).await {
            Ok(Ok(())) => {
                counters.sent.fetch_add(n, Ordering::Relaxed);
                let us = oldest.elapsed().as_micros() as u64;
                counters.latency_micros.fetch_add(us, Ordering::Relaxed);
                counters.latency_count.fetch_add(1, Ordering::Relaxed);
                counters.latency_max_micros.fetch_max(us, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                counters.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(url = %q.url, error = %e, alerts = n, "sending alerts to Alertmanager failed");
            }
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                counters.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(url = %q.url, alerts = n, "sending alerts to Alertmanager timed out");
            }
        }
    }
}

/// One `POST url` with a JSON body; any 2xx is success.
async fn post(url: &str, body: String) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported URL {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("dial {authority}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            format!(
                "Prometheus/{}",
                crate::build_info::PROMETHEUS_COMPAT_VERSION
            ),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    driver.abort();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("bad response status {status}"))
    }
}
