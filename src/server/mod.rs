//! The transport and the state every handler shares: [`AppState`] and its
//! [`Limits`], the accept loop (`connections`), credentials per route class
//! (`auth`), the in-flight body budget (`inflight`, `request_body`), and
//! the request counters and histograms recorded around every request.
//! Imports no handler: `api` builds the router from its route table and
//! hands it to [`connections::serve`].

pub(crate) mod auth;
mod collection;
pub mod connections;
mod http_metrics;
pub(crate) mod inflight;
pub(crate) mod request_body;
mod request_target;
mod write_through;
#[doc(hidden)]
pub use request_target::fuzz_request_target;

use crate::metadata::{MetadataLimits, MetadataStore};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hourglass_query::Engine;
use hourglass_storage::Storage;
use hourglass_wal::lock::lock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use auth::Caller;
pub use collection::sample_loop;
pub use http_metrics::HttpMetrics;

/// Request limits and settings handlers report.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, compressed or decompressed.
    pub max_body_bytes: usize,
    /// Retention as configured, for `/api/v1/status/runtimeinfo`.
    pub retention: String,
    /// Most series in one write request.
    pub max_series_per_request: usize,
    /// Most bytes all request bodies in flight may hold together:
    /// received, decompressed and decoded.
    pub max_inflight_body_bytes: usize,
    /// Longest a request body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// How much sender-reported metadata is kept.
    pub metadata: MetadataLimits,
    /// Most targets registered over `/api/v1/metrics/targets`.
    pub max_registered_targets: usize,
    /// Queries taking at least this long are logged; zero logs none.
    pub slow_query_threshold: std::time::Duration,
    /// Admin endpoints (`/api/v1/admin/tsdb/*`) answer 503 when set (the
    /// default: `serve --enable-admin-api` clears it).
    pub disable_admin_api: bool,
    /// How compaction runs (`clean_tombstones` uses the background
    /// compactor's settings).
    pub compact: hourglass_storage::compact::CompactOptions,
    /// OTLP resource attributes copied onto every series of the resource.
    pub otlp_promote_resource_attributes: Vec<String>,
    /// Remote write 2.0 series carry their family's type and unit as
    /// `__type__`/`__unit__` labels (`--type-and-unit-labels`).
    pub type_and_unit_labels: bool,
    /// Remote write 2.0 start timestamps add a zero sample
    /// (`--created-timestamp-zero-ingestion`).
    pub created_timestamp_zero_ingestion: bool,
    /// OTLP explicit-bucket histograms are stored as custom-bucket native
    /// histograms (`--otlp-convert-histograms-to-nhcb`).
    pub otlp_convert_histograms_to_nhcb: bool,
}

/// What the background persister did, for `/metrics`.
#[derive(Default)]
pub(crate) struct PersistCounters {
    pub(crate) runs: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) partitions_written: AtomicU64,
    pub(crate) removed_by_age: AtomicU64,
    pub(crate) removed_by_size: AtomicU64,
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<Storage>,
    engine: Arc<Engine>,
    limits: Limits,
    bodies: Arc<inflight::BodyBudget>,
    metadata: MetadataStore,
    ready: AtomicBool,
    http: HttpMetrics,
    observe: crate::observe::Observer,
    write_gate: auth::Gate,
    read_gate: auth::Gate,
    /// Requests refused before storage: `(kind, reason)` → count.
    refusals: std::sync::Mutex<std::collections::BTreeMap<(&'static str, String), u64>>,
    persist: PersistCounters,
    push: crate::push::PushState,
    scrape: crate::scrape::ScrapeManager,
    registry: std::sync::Mutex<crate::scrape::registry::Registry>,
    arrivals: crate::scrape::registry::arrivals::Arrivals,
    collection: collection::Collection,
    start_time_unix: f64,
    /// Whether `/-/reload` may be called.
    lifecycle: AtomicBool,
    /// Recording and alerting rules, once started.
    rules: std::sync::OnceLock<crate::rules::RuleManager>,
}

impl AppState {
    /// State over open storage and its scrapers; not ready until
    /// [`AppState::set_ready`].
    pub fn new(
        storage: Arc<Storage>,
        engine: Engine,
        scrape: crate::scrape::ScrapeManager,
        limits: Limits,
        auth: &crate::config::Auth,
    ) -> AppState {
        let start_time_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let push = crate::push::PushState::open(storage.dir());
        let registry =
            crate::scrape::registry::Registry::open(storage.dir(), limits.max_registered_targets);
        scrape.set_source_jobs(crate::scrape::registry::SOURCE, registry.jobs());
        let arrivals = crate::scrape::registry::arrivals::Arrivals::default();
        arrivals.sync(&registry);
        AppState {
            inner: Arc::new(Inner {
                storage,
                engine: Arc::new(engine),
                bodies: inflight::BodyBudget::new(limits.max_inflight_body_bytes),
                metadata: MetadataStore::new(limits.metadata),
                observe: crate::observe::Observer::new(limits.slow_query_threshold),
                limits,
                ready: AtomicBool::new(false),
                http: HttpMetrics::default(),
                write_gate: auth::Gate::new(&auth.write),
                read_gate: auth::Gate::new(&auth.read),
                refusals: Default::default(),
                persist: PersistCounters::default(),
                push,
                scrape,
                registry: std::sync::Mutex::new(registry),
                arrivals,
                collection: collection::Collection::default(),
                start_time_unix,
                lifecycle: AtomicBool::new(false),
                rules: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The scrapers: the configuration file's jobs and every other source's.
    pub fn scrape(&self) -> &crate::scrape::ScrapeManager {
        &self.inner.scrape
    }

    /// The rule manager, if rules were started.
    pub fn rules(&self) -> Option<&crate::rules::RuleManager> {
        self.inner.rules.get()
    }

    /// Hands the started rule manager to the handlers (once).
    pub fn set_rules(&self, rules: crate::rules::RuleManager) {
        let _ = self.inner.rules.set(rules);
    }

    /// Lets `/-/reload` reload the scrape configuration (off by default).
    pub fn set_lifecycle(&self, enabled: bool) {
        self.inner.lifecycle.store(enabled, Ordering::SeqCst);
    }

    pub(crate) fn lifecycle_enabled(&self) -> bool {
        self.inner.lifecycle.load(Ordering::SeqCst)
    }

    /// The targets registered over the REST API. Whoever changes it hands
    /// the new jobs to [`AppState::scrape`] while still holding the lock, so
    /// concurrent changes reach the scrapers in order.
    pub fn registry(&self) -> &std::sync::Mutex<crate::scrape::registry::Registry> {
        &self.inner.registry
    }

    /// What arrived from registered push sources; resynced with the
    /// registry whenever it changes.
    pub fn arrivals(&self) -> &crate::scrape::registry::arrivals::Arrivals {
        &self.inner.arrivals
    }

    /// Whether `/-/ready` answers 200.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether serving has begun (and not yet ended).
    pub(crate) fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// Saves state kept beside storage (Pushgateway groups) if it changed.
    pub fn save_side_state(&self) {
        self.inner.push.save_groups(self.inner.storage.dir());
    }

    /// The storage engine.
    pub fn storage(&self) -> Arc<Storage> {
        Arc::clone(&self.inner.storage)
    }

    /// Counts a request refused before storage (auth, rate, limits).
    pub fn refused(&self, kind: &'static str, reason: &str) {
        *lock(&self.inner.refusals)
            .entry((kind, reason.to_string()))
            .or_default() += 1;
    }

    /// Records a successful persist round.
    pub fn persisted(&self, stats: &hourglass_storage::PersistStats) {
        let p = &self.inner.persist;
        p.runs.fetch_add(1, Ordering::Relaxed);
        p.partitions_written
            .fetch_add(stats.partitions.len() as u64, Ordering::Relaxed);
        p.removed_by_age
            .fetch_add(stats.retention.by_age as u64, Ordering::Relaxed);
        p.removed_by_size
            .fetch_add(stats.retention.by_size as u64, Ordering::Relaxed);
    }

    /// Records a failed persist round.
    pub fn persist_failed(&self) {
        let p = &self.inner.persist;
        p.runs.fetch_add(1, Ordering::Relaxed);
        p.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long a persist round took, whatever its outcome.
    pub fn persist_took(&self, took: std::time::Duration) {
        self.inner.observe.latency.persist(took);
    }

    /// Latency histograms and the slow-query log.
    pub fn observe(&self) -> &crate::observe::Observer {
        &self.inner.observe
    }

    /// The PromQL engine.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.inner.engine)
    }

    /// When the server started, in Unix seconds.
    pub fn start_time_unix(&self) -> f64 {
        self.inner.start_time_unix
    }

    /// The request limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Sender-reported metric metadata.
    pub(crate) fn metadata(&self) -> &MetadataStore {
        &self.inner.metadata
    }

    /// Pushgateway groups and the push counters.
    pub(crate) fn push(&self) -> &crate::push::PushState {
        &self.inner.push
    }

    /// Remote write's sample count and the collection windows.
    pub(crate) fn collection(&self) -> &collection::Collection {
        &self.inner.collection
    }

    /// The in-flight body budget.
    pub(crate) fn bodies(&self) -> &inflight::BodyBudget {
        &self.inner.bodies
    }

    /// What the background persister did.
    pub(crate) fn persist(&self) -> &PersistCounters {
        &self.inner.persist
    }

    /// Requests answered, by route and status.
    pub(crate) fn http(&self) -> &HttpMetrics {
        &self.inner.http
    }

    /// Requests refused before storage: `(kind, reason)` → count.
    pub(crate) fn refusals(&self) -> std::collections::BTreeMap<(&'static str, String), u64> {
        lock(&self.inner.refusals).clone()
    }

    /// Retention as configured.
    pub fn retention_text(&self) -> String {
        self.inner.limits.retention.clone()
    }
}

/// Counts and times every routed request by route pattern (never the raw
/// path), method and status, inside a `request` span.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = crate::observe::method_label(req.method());
    let span = tracing::debug_span!("request", method, route = %handler);
    let t0 = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let took = t0.elapsed();
    let code = resp.status().as_u16();
    tracing::debug!(parent: &span, status = code, took_us = took.as_micros() as u64, "answered");
    state.inner.http.observe(&handler, code, took);
    state
        .inner
        .observe
        .latency
        .http(&handler, method, code, took);
    resp
}
