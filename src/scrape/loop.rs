//! One target's scrape loop: wait for its tick, fetch, parse and append
//! its samples with the report series (`up`, `scrape_*`) and stale
//! markers in one batch through `Storage::append_handles` (series the
//! cache knows go by handle), and keep its health.

use super::cache::{Context, Processed, SeriesCache};
use super::config::Job;
use super::fetch::{Fetcher, Request};
use super::negotiate;
use super::schedule;
use super::target::Target;
use hourglass_storage::{
    BorrowedBatch, FloatHistogram, HandleBatch, Labels, STALE_NAN_BITS, Sample, SeriesTarget,
    Storage,
};
use hourglass_wal::lock::lock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// A target's health, as `/api/v1/targets` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The outcome of a target's last scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    /// Up, down or unknown.
    pub health: Health,
    /// "" when fine, else why the last scrape failed.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_scrape_duration: Duration,
    /// `scrape_samples_scraped` of the last scrape.
    pub samples_scraped: u64,
    /// Scrapes done since the loop started.
    pub scrapes: u64,
    /// Of those, scrapes that failed.
    pub failed_scrapes: u64,
    /// `scrape_samples_scraped` summed over every scrape of the loop.
    pub samples_scraped_total: u64,
}

impl Default for TargetStatus {
    fn default() -> Self {
        TargetStatus {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_scrape_duration: Duration::ZERO,
            samples_scraped: 0,
            scrapes: 0,
            failed_scrapes: 0,
            samples_scraped_total: 0,
        }
    }
}

/// What a loop scrapes and how.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// The job.
    pub job: Arc<Job>,
    /// The target.
    pub target: Target,
    /// Fail every scrape with this reason, without a request
    /// (`target_limit` exceeded).
    pub forced_error: Option<String>,
    /// Also write the extra report series ([`EXTRA_REPORT_SERIES`]).
    pub extra_metrics: bool,
    /// Server-wide ingest features.
    pub features: LoopFeatures,
}

/// Server-wide ingest features a loop applies (flags of `serve`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopFeatures {
    /// `__type__`/`__unit__` labels from the exposition's metadata.
    pub type_and_unit_labels: bool,
    /// A zero sample at a fresh created timestamp (protobuf).
    pub created_timestamp_zero: bool,
}

/// Why a loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep going.
    Run,
    /// The server stops: no stale markers.
    Shutdown,
    /// The target went away: its series get stale markers.
    Removed,
}

/// State shared between a loop and whoever inspects it.
#[derive(Debug)]
pub struct Shared {
    /// Last outcome.
    pub status: Mutex<TargetStatus>,
    /// Series and metadata.
    pub cache: Mutex<SeriesCache>,
    /// Current target and job.
    pub config: Mutex<Arc<LoopConfig>>,
}

impl Shared {
    /// Fresh state for `config`.
    pub fn new(config: Arc<LoopConfig>) -> Arc<Shared> {
        Arc::new(Shared {
            status: Mutex::new(TargetStatus::default()),
            cache: Mutex::new(SeriesCache::default()),
            config: Mutex::new(config),
        })
    }
}

/// Runs until told to stop.
pub async fn run(
    storage: Arc<Storage>,
    shared: Arc<Shared>,
    mut updates: watch::Receiver<Arc<LoopConfig>>,
    mut stop: watch::Receiver<Stop>,
    server_hash: u64,
) {
    let mut fetcher = Fetcher::default();
    let mut last_tick = 0u64;
    let mut prev: Option<Arc<LoopConfig>> = None;
    loop {
        let cfg = Arc::clone(&updates.borrow_and_update());
        if prev.as_ref().is_some_and(|p| labelling_changed(p, &cfg)) {
            lock(&shared.cache).clear();
        }
        prev = Some(Arc::clone(&cfg));
        *lock(&shared.config) = Arc::clone(&cfg);
        let interval = cfg.target.interval;
        let offset = schedule::offset_ns(&cfg.target.identity(), server_hash, interval);
        let now = schedule::unix_now_ns();
        let tick = schedule::next_tick(now.max(last_tick + 1), interval, offset);
        let wait = Duration::from_nanos(tick.saturating_sub(now));
        let updated = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            changed = updates.changed() => changed.is_ok(),
            _ = stop.changed() => false,
        };
        // The last value stays readable after the manager drops the sender.
        let mode = *stop.borrow();
        match mode {
            Stop::Run => {}
            Stop::Shutdown => return,
            Stop::Removed => {
                end_of_run(&storage, &shared, &cfg).await;
                return;
            }
        }
        if updated {
            continue;
        }
        if updates.has_changed().is_err() || stop.has_changed().is_err() {
            return;
        }
        last_tick = tick;
        scrape_once(&storage, &shared, &cfg, &mut fetcher, tick).await;
    }
}

/// Whether cached series labels may differ under `new`.
fn labelling_changed(old: &LoopConfig, new: &LoopConfig) -> bool {
    let (a, b) = (&old.job, &new.job);
    old.target.labels != new.target.labels
        || a.honor_labels != b.honor_labels
        || a.metric_relabel_configs != b.metric_relabel_configs
        || a.limits.label_limit != b.limits.label_limit
        || a.limits.label_name_length_limit != b.limits.label_name_length_limit
        || a.limits.label_value_length_limit != b.limits.label_value_length_limit
}

/// One scrape at the tick `tick_ns` (Unix ns).
pub async fn scrape_once(
    storage: &Arc<Storage>,
    shared: &Arc<Shared>,
    cfg: &Arc<LoopConfig>,
    fetcher: &mut Fetcher,
    tick_ns: u64,
) {
    let started = Instant::now();
    let start_wall = SystemTime::now();
    let ts = schedule::scrape_timestamp_ms(tick_ns, schedule::unix_now_ns(), cfg.target.interval);
    let job = &cfg.job;
    let accept = negotiate::accept_header(&job.protocols);
    let fetched = match &cfg.forced_error {
        Some(e) => Err(e.clone()),
        None => match authorization(job) {
            Ok(authorization) => {
                let req = Request {
                    url: &cfg.target.url,
                    accept: &accept,
                    gzip: job.enable_compression,
                    timeout: cfg.target.timeout,
                    body_limit: job.limits.body_size_limit,
                    authorization,
                    headers: vec![(
                        "X-Prometheus-Scrape-Timeout-Seconds",
                        cfg.target.timeout.as_secs_f64().to_string(),
                    )],
                    tls: job.tls.as_ref(),
                };
                fetcher.fetch(&req).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e),
        },
    };
    let body = match &fetched {
        Ok(_) => std::mem::take(&mut fetcher.body),
        Err(_) => Vec::new(),
    };
    let (storage2, shared2, cfg2) = (Arc::clone(storage), Arc::clone(shared), Arc::clone(cfg));
    let joined = tokio::task::spawn_blocking(move || {
        let result = process_and_append(&storage2, &shared2, &cfg2, fetched, &body, ts, started);
        (body, result)
    })
    .await;
    let (body, (error, scraped, summary)) = match joined {
        Ok(v) => v,
        Err(e) => (
            Vec::new(),
            (
                Some(format!("scrape task failed: {e}")),
                0,
                Default::default(),
            ),
        ),
    };
    fetcher.body = body;
    let failed = error.is_some();
    {
        let mut st = lock(&shared.status);
        let since_last = st
            .last_scrape
            .and_then(|t| start_wall.duration_since(t).ok());
        super::stats::global().record(
            &cfg.target.job,
            cfg.target.interval,
            since_last,
            error.as_deref(),
        );
        st.health = if error.is_none() {
            Health::Up
        } else {
            st.failed_scrapes += 1;
            Health::Down
        };
        st.last_error = error.unwrap_or_default();
        st.last_scrape = Some(start_wall);
        st.last_scrape_duration = started.elapsed();
        st.samples_scraped = scraped;
        st.samples_scraped_total += scraped;
        st.scrapes += 1;
    }
    crate::events::emit::batch(&crate::events::emit::Batch {
        source: &cfg.target.job,
        method: crate::events::Method::PullScraping,
        samples: scraped,
        duration: started.elapsed(),
        health: crate::events::model::Health::from_ok(!failed),
        summary,
        errors: u64::from(failed),
    })
    .await;
}

fn authorization(job: &Job) -> Result<Option<String>, String> {
    super::fetch::authorization_header(job.basic_auth.as_ref(), job.authorization.as_ref())
}

/// Parses, builds one batch (samples or nothing, stale markers, report
/// series) and appends it. Returns the error, `scrape_samples_scraped` and
/// the families by type (for the scrape's event).
fn process_and_append(
    storage: &Storage,
    shared: &Shared,
    cfg: &LoopConfig,
    fetched: Result<Option<String>, String>,
    body: &[u8],
    ts: i64,
    started: Instant,
) -> (Option<String>, u64, crate::events::Summary) {
    let job = &cfg.job;
    let target_labels: Vec<(String, String)> = cfg
        .target
        .public_labels()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ctx = Context {
        target_labels: &target_labels,
        honor_labels: job.honor_labels,
        honor_timestamps: job.honor_timestamps,
        track_timestamps_staleness: job.track_timestamps_staleness,
        metric_relabel: &job.metric_relabel_configs,
        limits: job.limits,
        histograms: job.histograms,
        type_and_unit_labels: cfg.features.type_and_unit_labels,
        created_timestamp_zero: cfg.features.created_timestamp_zero,
    };
    let mut cache = lock(&shared.cache);
    cache.begin();
    let processed = match fetched {
        Err(e) => Processed {
            error: Some(e),
            ..Processed::default()
        },
        Ok(content_type) => {
            match negotiate::format_for(content_type.as_deref(), job.fallback_protocol) {
                Ok(format) => cache.process(&ctx, body, format, ts),
                Err(e) => Processed {
                    error: Some(e),
                    ..Processed::default()
                },
            }
        }
    };
    let summary = if crate::events::emit::enabled() {
        cache.summary()
    } else {
        crate::events::Summary::default()
    };
    let mut batch = processed.batch;
    batch.series.extend(cache.stale_markers(ts).series);
    drop(cache);
    let slots = processed.slots;
    let up = if processed.error.is_none() { 1.0 } else { 0.0 };
    let duration = started.elapsed().as_secs_f64();
    for (name, v) in [
        ("up", up),
        ("scrape_duration_seconds", duration),
        ("scrape_samples_scraped", processed.scraped as f64),
        (
            "scrape_samples_post_metric_relabeling",
            processed.post_relabel as f64,
        ),
        ("scrape_series_added", processed.series_added as f64),
    ] {
        batch.push(
            SeriesTarget::Labels(report_labels(name, &target_labels)),
            Sample::new(ts, v),
        );
    }
    if cfg.extra_metrics {
        // Prometheus writes the body size of a failed scrape as 0.
        let body_bytes = if up == 1.0 { body.len() as f64 } else { 0.0 };
        for (name, v) in EXTRA_REPORT_SERIES.into_iter().zip([
            cfg.target.timeout.as_secs_f64(),
            job.limits.sample_limit as f64,
            body_bytes,
        ]) {
            batch.push(
                SeriesTarget::Labels(report_labels(name, &target_labels)),
                Sample::new(ts, v),
            );
        }
    }
    match storage.append_handles(&mut batch) {
        Ok(_) => lock(&shared.cache).keep_handles(batch, &slots),
        Err(e) => {
            tracing::error!(target = %cfg.target.url, error = %e, "appending scraped samples failed");
        }
    }
    if !processed.histograms.is_empty()
        && let Err(e) = append_histograms(storage, &processed.histograms)
    {
        tracing::error!(target = %cfg.target.url, error = %e, "appending scraped histograms failed");
    }
    super::latency::COLLECTION_LATENCY.observe_duration(started.elapsed());
    (processed.error, processed.scraped, summary)
}

/// Appends scraped native histograms (labels, time, start timestamp,
/// histogram) as one batch.
fn append_histograms(
    storage: &Storage,
    hs: &[(Labels, i64, i64, FloatHistogram)],
) -> Result<hourglass_storage::AppendStats, hourglass_storage::StorageError> {
    let pairs: Vec<Vec<(&str, &str)>> = hs
        .iter()
        .map(|(l, ..)| {
            l.iter()
                .map(|l| (l.name.as_ref(), l.value.as_ref()))
                .collect()
        })
        .collect();
    let samples: Vec<[(i64, FloatHistogram); 1]> =
        hs.iter().map(|(_, t, _, h)| [(*t, h.clone())]).collect();
    let starts: Vec<[i64; 1]> = hs.iter().map(|(_, _, st, _)| [*st]).collect();
    let mut batch = BorrowedBatch::default();
    for ((labels, h), st) in pairs.iter().zip(&samples).zip(&starts) {
        batch.push_histograms_with_starts(labels, h, st);
    }
    storage.append_borrowed(&batch)
}

fn report_labels(name: &str, target_labels: &[(String, String)]) -> Labels {
    Labels::from_pairs(
        std::iter::once(("__name__", name))
            .chain(target_labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

/// The names of the report series.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// The report series written with `--extra-scrape-metrics`.
pub const EXTRA_REPORT_SERIES: [&str; 3] = [
    "scrape_timeout_seconds",
    "scrape_sample_limit",
    "scrape_body_size_bytes",
];

/// Stale markers for every series of a target that went away, and for its
/// report series, at the current time.
async fn end_of_run(storage: &Arc<Storage>, shared: &Arc<Shared>, cfg: &Arc<LoopConfig>) {
    let ts = i64::try_from(schedule::unix_now_ns() / 1_000_000).unwrap_or(i64::MAX);
    let mut batch: HandleBatch = lock(&shared.cache).end_markers(ts);
    if lock(&shared.status).scrapes > 0 {
        let target_labels: Vec<(String, String)> = cfg
            .target
            .public_labels()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let extra = if cfg.extra_metrics {
            &EXTRA_REPORT_SERIES[..]
        } else {
            &[]
        };
        for name in REPORT_SERIES.iter().chain(extra) {
            batch.push(
                SeriesTarget::Labels(report_labels(name, &target_labels)),
                Sample::new(ts, f64::from_bits(STALE_NAN_BITS)),
            );
        }
    }
    let storage = Arc::clone(storage);
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = storage.append_handles(&mut batch) {
            tracing::error!(error = %e, "appending end-of-run stale markers failed");
        }
    })
    .await;
}
