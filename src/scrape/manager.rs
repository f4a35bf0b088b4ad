//! The scrape manager: one discovery task per job, one loop per target,
//! reloads that keep the loops (and their caches and health) of targets
//! that stay, and snapshots for the HTTP side.

use super::cache::Metadata;
use super::config::{ConfigError, Job, ScrapeConfig};
use super::discovery::JobDiscovery;
pub use super::r#loop::LoopFeatures;
use super::r#loop::{self, LoopConfig, Shared, Stop, TargetStatus};
use super::relabel::LabelSet;
use super::schedule;
use super::target::{self, JobTargets, format_duration};
use hourglass_storage::Storage;
use hourglass_wal::lock::lock;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often discovery providers are polled for changes.
const DISCOVERY_POLL: Duration = Duration::from_secs(1);

/// A target being scraped, for `/api/v1/targets` and the REST API.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTarget {
    /// The job.
    pub scrape_pool: String,
    /// Labels before relabelling (with `__meta_*` and the defaults).
    pub discovered_labels: LabelSet,
    /// Public labels after relabelling.
    pub labels: LabelSet,
    /// What is fetched.
    pub scrape_url: String,
    /// e.g. `15s`.
    pub scrape_interval: String,
    /// e.g. `10s`.
    pub scrape_timeout: String,
    /// Health and the last scrape.
    pub status: TargetStatus,
}

/// A target dropped by `relabel_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTarget {
    /// The job.
    pub scrape_pool: String,
    /// Labels before relabelling.
    pub discovered_labels: LabelSet,
}

/// All targets at one moment; pools sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetsSnapshot {
    /// Being scraped.
    pub active: Vec<ActiveTarget>,
    /// Dropped by relabelling (at most `keep_dropped_targets` per job when set).
    pub dropped: Vec<DroppedTarget>,
    /// Every dropped target counted, per job.
    pub dropped_counts: BTreeMap<String, usize>,
}

/// One family's metadata as a target exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMetadata {
    /// The target's public labels.
    pub target: LabelSet,
    /// The family name.
    pub metric: String,
    /// Type, help, unit.
    pub metadata: Metadata,
}

struct LoopHandle {
    shared: Arc<Shared>,
    update: watch::Sender<Arc<LoopConfig>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
}

struct JobState {
    job: Arc<Job>,
    discovery: JoinHandle<()>,
    loops: BTreeMap<String, LoopHandle>,
    dropped: Vec<LabelSet>,
}

struct Inner {
    storage: Arc<Storage>,
    hostname: String,
    server_hash: Mutex<u64>,
    jobs: Mutex<BTreeMap<String, JobState>>,
    config: Mutex<Option<Arc<ScrapeConfig>>>,
    /// The configuration file's part; jobs of other sources join it.
    file_config: Mutex<Option<ScrapeConfig>>,
    /// Jobs from other sources (registered targets, self-scrape), by source.
    sources: Mutex<BTreeMap<&'static str, Vec<Job>>>,
    config_file: Mutex<Option<std::path::PathBuf>>,
    dns_server: Mutex<Option<std::net::SocketAddr>>,
    reloads: std::sync::atomic::AtomicU64,
    failed_reloads: std::sync::atomic::AtomicU64,
    /// Whether the last load of the file succeeded, and when one last did.
    last_load: Mutex<(bool, Option<std::time::SystemTime>)>,
    /// Whether loops write the extra report series (`--extra-scrape-metrics`).
    extra_metrics: std::sync::atomic::AtomicBool,
    /// Ingest features loops apply.
    features: Mutex<LoopFeatures>,
}

/// Handle on the scrapers; cheap to clone. Create it inside a Tokio runtime.
#[derive(Clone)]
pub struct ScrapeManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager").finish_non_exhaustive()
    }
}

impl ScrapeManager {
    /// A manager with no jobs, appending to `storage`.
    pub fn new(storage: Arc<Storage>) -> ScrapeManager {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        ScrapeManager {
            inner: Arc::new(Inner {
                storage,
                hostname,
                server_hash: Mutex::new(0),
                jobs: Mutex::new(BTreeMap::new()),
                config: Mutex::new(None),
                file_config: Mutex::new(None),
                sources: Mutex::new(BTreeMap::new()),
                config_file: Mutex::new(None),
                dns_server: Mutex::new(None),
                reloads: Default::default(),
                failed_reloads: Default::default(),
                last_load: Mutex::new((true, None)),
                extra_metrics: Default::default(),
                features: Mutex::new(LoopFeatures::default()),
            }),
        }
    }

    /// Makes every loop started from now on also write
    /// `scrape_timeout_seconds`, `scrape_sample_limit` and
    /// `scrape_body_size_bytes`, as Prometheus's `extra-scrape-metrics`.
    pub fn set_extra_metrics(&self, on: bool) {
        self.inner
            .extra_metrics
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every loop started from now on apply `features`.
    pub fn set_features(&self, features: LoopFeatures) {
        *lock(&self.inner.features) = features;
    }

    /// A manager running the configuration in `path`, which later
    /// [`ScrapeManager::reload`]s read again. An invalid file is refused.
    /// `dns_server` replaces the system's resolvers for `dns_sd_configs`.
    pub fn from_file(
        storage: Arc<Storage>,
        path: &Path,
        dns_server: Option<std::net::SocketAddr>,
    ) -> Result<ScrapeManager, ConfigError> {
        let m = ScrapeManager::new(storage);
        m.set_dns_server(dns_server);
        m.load_file(path)?;
        Ok(m)
    }

    /// Runs the configuration in `path`, which later
    /// [`ScrapeManager::reload`]s read again. An invalid file is refused.
    pub fn load_file(&self, path: &Path) -> Result<(), ConfigError> {
        self.reload_file(path)?;
        *lock(&self.inner.config_file) = Some(path.to_path_buf());
        Ok(())
    }

    /// Reads the configuration file again (SIGHUP, `POST /-/reload`). An
    /// invalid file is refused and the running configuration stays; targets
    /// that stay keep their loops, caches and health.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let Some(path) = lock(&self.inner.config_file).clone() else {
            return Ok(());
        };
        let result = self.reload_file(&path);
        let counter = if result.is_ok() {
            &self.inner.reloads
        } else {
            &self.inner.failed_reloads
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        result
    }

    /// Successful and failed reloads so far.
    pub fn reload_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.inner.reloads.load(Relaxed),
            self.inner.failed_reloads.load(Relaxed),
        )
    }

    /// Whether the last load of the configuration file succeeded (true
    /// before any), and when the last successful one happened.
    pub fn last_load(&self) -> (bool, Option<std::time::SystemTime>) {
        *lock(&self.inner.last_load)
    }

    /// Reads `path` and applies it; an invalid file changes nothing.
    pub fn reload_file(&self, path: &Path) -> Result<(), ConfigError> {
        let loaded = ScrapeConfig::load(path);
        {
            let mut last = lock(&self.inner.last_load);
            last.0 = loaded.is_ok();
            if loaded.is_ok() {
                last.1 = Some(std::time::SystemTime::now());
            }
        }
        let config = loaded?;
        for section in &config.ignored_sections {
            tracing::info!(
                section,
                "scrape config: section not used by the scraper, ignored"
            );
        }
        self.apply(config);
        Ok(())
    }

    /// Resolves `dns_sd_configs` names through this server instead of the
    /// system's resolvers, from the next [`ScrapeManager::apply`] on.
    pub fn set_dns_server(&self, server: Option<std::net::SocketAddr>) {
        *lock(&self.inner.dns_server) = server;
    }

    /// The configuration in force.
    pub fn config(&self) -> Option<Arc<ScrapeConfig>> {
        lock(&self.inner.config).clone()
    }

    /// Applies a configuration file's content; the jobs of other sources
    /// ([`ScrapeManager::set_source_jobs`]) keep running beside it.
    pub fn apply(&self, config: ScrapeConfig) {
        let mut file = lock(&self.inner.file_config);
        *file = Some(config);
        self.recompose(&file);
    }

    /// Replaces the jobs one source contributes (`"targets"` for the
    /// registered targets, `"self"` for self-scrape). Their names must not
    /// collide with the file's jobs: a colliding job is skipped with a log
    /// line, the file's job wins.
    pub fn set_source_jobs(&self, source: &'static str, jobs: Vec<Job>) {
        // The file's lock orders concurrent recompositions.
        let file = lock(&self.inner.file_config);
        lock(&self.inner.sources).insert(source, jobs);
        self.recompose(&file);
    }

    /// The file's jobs and every source's, as one configuration.
    fn recompose(&self, file: &Option<ScrapeConfig>) {
        let mut config = file.clone().unwrap_or_default();
        let mut names: std::collections::BTreeSet<String> =
            config.jobs.iter().map(|j| j.name.clone()).collect();
        for (source, jobs) in lock(&self.inner.sources).iter() {
            for job in jobs {
                if names.insert(job.name.clone()) {
                    let mut job = job.clone();
                    if let Some(keys) = job.inherits_histograms {
                        job.histograms = keys.over(config.global.histograms);
                        job.protocols = config.global.protocols_for(job.histograms);
                    }
                    config.jobs.push(job);
                } else {
                    tracing::warn!(source, job = %job.name, "scrape job name already taken; skipped");
                }
            }
        }
        self.run(config);
    }

    /// Runs a whole configuration: jobs that vanished stop (their series get
    /// stale markers), new jobs start, and kept jobs re-run discovery with
    /// their new settings while targets that stay keep their loops.
    fn run(&self, config: ScrapeConfig) {
        let config = Arc::new(config);
        *lock(&self.inner.server_hash) =
            schedule::server_hash(&self.inner.hostname, &config.global.external_labels);
        let mut jobs = lock(&self.inner.jobs);
        let keep: Vec<&str> = config.jobs.iter().map(|j| j.name.as_str()).collect();
        let gone: Vec<String> = jobs
            .keys()
            .filter(|k| !keep.contains(&k.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(state) = jobs.remove(&name) {
                state.discovery.abort();
                for (_, h) in state.loops {
                    let _ = h.stop.send(Stop::Removed);
                }
            }
        }
        for job in &config.jobs {
            // An unchanged job keeps its discovery (as Prometheus keeps its
            // providers), so changing one source's job restarts nothing else.
            if jobs.get(&job.name).is_some_and(|s| *s.job == *job) {
                continue;
            }
            let job = Arc::new(job.clone());
            let discovery = tokio::spawn(discover(Arc::downgrade(&self.inner), Arc::clone(&job)));
            match jobs.get_mut(&job.name) {
                Some(state) => {
                    state.discovery.abort();
                    state.discovery = discovery;
                    state.job = job;
                }
                None => {
                    jobs.insert(
                        job.name.clone(),
                        JobState {
                            job,
                            discovery,
                            loops: BTreeMap::new(),
                            dropped: Vec::new(),
                        },
                    );
                }
            }
        }
        drop(jobs);
        *lock(&self.inner.config) = Some(config);
    }

    /// Every target now.
    pub fn targets(&self) -> TargetsSnapshot {
        let jobs = lock(&self.inner.jobs);
        let mut snap = TargetsSnapshot::default();
        for (name, state) in jobs.iter() {
            for h in state.loops.values() {
                let cfg = Arc::clone(&lock(&h.shared.config));
                snap.active.push(ActiveTarget {
                    scrape_pool: name.clone(),
                    discovered_labels: cfg.target.discovered.clone(),
                    labels: cfg
                        .target
                        .public_labels()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    scrape_url: cfg.target.url.clone(),
                    scrape_interval: format_duration(cfg.target.interval),
                    scrape_timeout: format_duration(cfg.target.timeout),
                    status: lock(&h.shared.status).clone(),
                });
            }
            let keep = match state.job.limits.keep_dropped_targets {
                0 => usize::MAX,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
            snap.dropped
                .extend(state.dropped.iter().take(keep).map(|d| DroppedTarget {
                    scrape_pool: name.clone(),
                    discovered_labels: d.clone(),
                }));
            snap.dropped_counts
                .insert(name.clone(), state.dropped.len());
        }
        snap
    }

    /// Exposition metadata of every target, by family.
    pub fn metadata(&self) -> Vec<TargetMetadata> {
        let jobs = lock(&self.inner.jobs);
        let mut out = Vec::new();
        for state in jobs.values() {
            for h in state.loops.values() {
                let target: LabelSet = lock(&h.shared.config)
                    .target
                    .public_labels()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                for (metric, m) in lock(&h.shared.cache).metadata() {
                    out.push(TargetMetadata {
                        target: target.clone(),
                        metric: metric.to_string(),
                        metadata: m.clone(),
                    });
                }
            }
        }
        out
    }

    /// Reloads on every SIGHUP until the manager is dropped; a refused file
    /// is logged with its line and reason.
    pub fn reload_on_sighup(&self) -> std::io::Result<JoinHandle<()>> {
        crate::sighup::reload_on_sighup(&self.inner, |inner| async move {
            match (ScrapeManager { inner }).reload() {
                Ok(()) => tracing::info!("scrape config reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "scrape config reload refused; the running configuration stays")
                }
            }
        })
    }

    /// Stops every loop without stale markers (server shutdown) and waits
    /// for them.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut jobs = lock(&self.inner.jobs);
            let mut tasks = Vec::new();
            for (_, state) in std::mem::take(&mut *jobs) {
                state.discovery.abort();
                for (_, h) in state.loops {
                    let _ = h.stop.send(Stop::Shutdown);
                    tasks.push(h.task);
                }
            }
            tasks
        };
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Inner {
    /// Replaces a job's targets with `built`, if `job` is still the job's
    /// current configuration.
    fn sync_job(&self, job: &Arc<Job>, built: JobTargets) {
        let server_hash = *lock(&self.server_hash);
        let mut jobs = lock(&self.jobs);
        let Some(state) = jobs.get_mut(&job.name) else {
            return;
        };
        if !Arc::ptr_eq(&state.job, job) {
            return;
        }
        let limit = job.limits.target_limit;
        let count = built.active.len() as u64;
        let forced_error = (limit > 0 && count > limit)
            .then(|| format!("target_limit exceeded (number of targets: {count}, limit: {limit})"));
        let mut next: BTreeMap<String, LoopHandle> = BTreeMap::new();
        for t in built.active {
            let id = t.identity();
            let cfg = Arc::new(LoopConfig {
                job: Arc::clone(job),
                target: t,
                forced_error: forced_error.clone(),
                extra_metrics: self
                    .extra_metrics
                    .load(std::sync::atomic::Ordering::Relaxed),
                features: *lock(&self.features),
            });
            let handle = match state.loops.remove(&id) {
                Some(h) => {
                    let _ = h.update.send(cfg);
                    h
                }
                None => {
                    let shared = Shared::new(Arc::clone(&cfg));
                    let (update, updates) = watch::channel(cfg);
                    let (stop, stops) = watch::channel(Stop::Run);
                    let task = tokio::spawn(r#loop::run(
                        Arc::clone(&self.storage),
                        Arc::clone(&shared),
                        updates,
                        stops,
                        server_hash,
                    ));
                    LoopHandle {
                        shared,
                        update,
                        stop,
                        task,
                    }
                }
            };
            next.insert(id, handle);
        }
        for (_, gone) in std::mem::replace(&mut state.loops, next) {
            let _ = gone.stop.send(Stop::Removed);
        }
        state.dropped = built.dropped;
    }
}

async fn discover(inner: Weak<Inner>, job: Arc<Job>) {
    let server = match inner.upgrade() {
        Some(i) => *lock(&i.dns_server),
        None => return,
    };
    let mut d = JobDiscovery::new(&job).with_dns_server(&job, server);
    loop {
        if d.poll().await {
            let built = target::build_all(&job, d.groups());
            match inner.upgrade() {
                Some(i) => i.sync_job(&job, built),
                None => return,
            }
        }
        tokio::time::sleep(DISCOVERY_POLL).await;
    }
}
