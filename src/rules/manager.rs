//! The rule manager: loads every rule file (from the Prometheus
//! configuration's `rule_files`, the TOML list and the ready-made set),
//! runs one task per group, and reloads all or nothing: a group that did
//! not change keeps running untouched, a changed one hands its alerts and
//! series to its successor, and a bad file keeps the running rules.

use super::config::{self, RulesConfig};
use super::file::{self, GroupSpec, RuleFileError};
use super::group::{Env, Group, RuleCounters};
use super::notifier::{Notifier, NotifierCounters};
use super::restore::RestoreOptions;
use super::task;
use hourglass_query::Engine;
use hourglass_storage::Storage;
use hourglass_wal::lock::lock;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most groups over all files.
pub const MAX_GROUPS: usize = 10_000;

/// The ready-made rule files shipped in `rules/`, by name.
pub const READY_MADE: &[(&str, &str)] = &[
    (
        "ready-made/collection-health.yml",
        include_str!("../../rules/collection-health.yml"),
    ),
    (
        "ready-made/missing-metrics.yml",
        include_str!("../../rules/missing-metrics.yml"),
    ),
    (
        "ready-made/node-rollups.yml",
        include_str!("../../rules/node-rollups.yml"),
    ),
];

/// Why rules could not be (re)loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RulesError {
    /// The Prometheus configuration's rule part.
    #[error("{0}")]
    Config(#[from] config::RulesConfigError),
    /// A rule file.
    #[error("{0}")]
    File(#[from] RuleFileError),
    /// Too many groups.
    #[error("more than {MAX_GROUPS} rule groups")]
    TooMany,
}

/// Where rules come from and how alerts behave.
#[derive(Debug, Clone, Default)]
pub struct RulesOptions {
    /// The Prometheus configuration file (`--scrape-config`).
    pub prometheus_config: Option<PathBuf>,
    /// More rule file patterns (the TOML `[rules] files`).
    pub extra_files: Vec<String>,
    /// Load the ready-made rules.
    pub ready_made: bool,
    /// Base of generator URLs and `$externalURL`.
    pub external_url: String,
    /// Re-send interval of firing alerts (1m).
    pub resend_delay: Duration,
    /// `for` restore settings.
    pub restore: RestoreOptions,
}

struct Running {
    group: Arc<Group>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Inner {
    storage: Arc<Storage>,
    engine: Arc<Engine>,
    opts: RulesOptions,
    env: Arc<Mutex<Arc<Env>>>,
    groups: Mutex<Vec<Running>>,
    counters: Arc<RuleCounters>,
    notifier_counters: Arc<NotifierCounters>,
    reloads: Mutex<(u64, u64)>,
    /// Serialises reloads.
    reloading: Mutex<()>,
}

/// Handle on the rule groups; cheap to clone.
#[derive(Clone)]
pub struct RuleManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RuleManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleManager").finish_non_exhaustive()
    }
}

/// Every group of every configured file, checked; any failure refuses all.
pub fn load_all(opts: &RulesOptions) -> Result<(RulesConfig, Vec<GroupSpec>), RulesError> {
    let cfg = match &opts.prometheus_config {
        Some(p) => RulesConfig::load(p)?,
        None => RulesConfig::default(),
    };
    let mut patterns = cfg.rule_files.clone();
    patterns.extend(opts.extra_files.iter().cloned());
    let mut groups = Vec::new();
    for path in config::expand(&patterns) {
        groups.extend(file::load(&path)?);
        if groups.len() > MAX_GROUPS {
            return Err(RulesError::TooMany);
        }
    }
    if opts.ready_made {
        for (name, text) in READY_MADE {
            groups.extend(file::parse(name, text)?);
        }
    }
    Ok((cfg, groups))
}

/// A group's identity and content, compared on reload.
fn same(a: &GroupSpec, b: &GroupSpec) -> bool {
    let shape = |g: &GroupSpec| {
        (
            g.file.clone(),
            g.name.clone(),
            g.interval,
            g.query_offset,
            g.limit,
            g.rules
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        r.query.clone(),
                        r.labels.clone(),
                        format!("{:?}", r.kind),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    shape(a) == shape(b)
}

impl RuleManager {
    /// Loads the rules and starts their groups (inside a Tokio runtime);
    /// alerting rules restore their `for` state after two evaluations.
    pub fn start(
        storage: Arc<Storage>,
        engine: Arc<Engine>,
        opts: RulesOptions,
    ) -> Result<RuleManager, RulesError> {
        let (cfg, specs) = load_all(&opts)?;
        let counters = Arc::new(RuleCounters::default());
        let notifier_counters = Arc::new(NotifierCounters::default());
        let env = Arc::new(Env {
            storage: Arc::clone(&storage),
            engine: Arc::clone(&engine),
            external_labels: cfg.external_labels.clone(),
            external_url: opts.external_url.clone(),
            resend_ms: opts.resend_delay.as_millis() as i64,
            notifier: Notifier::start(&cfg, Arc::clone(&notifier_counters)),
            counters: Arc::clone(&counters),
        });
        let m = RuleManager {
            inner: Arc::new(Inner {
                storage,
                engine,
                env: Arc::new(Mutex::new(env)),
                groups: Mutex::new(Vec::new()),
                counters,
                notifier_counters,
                reloads: Mutex::new((0, 0)),
                reloading: Mutex::new(()),
                opts,
            }),
        };
        m.apply(&cfg, specs, true);
        Ok(m)
    }

    fn spawn(&self, group: Arc<Group>, restore: bool) -> Running {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(task::run(
            Arc::clone(&group),
            Arc::clone(&self.inner.env),
            rx,
            restore.then_some(self.inner.opts.restore),
        ));
        Running { group, stop, task }
    }

    fn apply(&self, cfg: &RulesConfig, specs: Vec<GroupSpec>, startup: bool) {
        let mut running = lock(&self.inner.groups);
        let mut old: Vec<Running> = std::mem::take(&mut *running);
        let mut next = Vec::with_capacity(specs.len());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for spec in specs {
            let pos = old
                .iter()
                .position(|r| r.group.spec.file == spec.file && r.group.spec.name == spec.name);
            let previous = pos.map(|i| old.swap_remove(i));
            let g = Group::new(spec, cfg.evaluation_interval, cfg.query_offset);
            match previous {
                Some(r)
                    if same(&r.group.spec, &g.spec)
                        && r.group.interval_ms == g.interval_ms
                        && r.group.query_offset_ms == g.query_offset_ms =>
                {
                    next.push(r);
                }
                Some(r) => {
                    let _ = r.stop.send(true);
                    r.task.abort();
                    let g = Arc::new(g);
                    g.take_state(&r.group);
                    // Series of rules the new group no longer has.
                    r.group.mark_stale(&self.inner.storage, now);
                    next.push(self.spawn(g, false));
                }
                None => next.push(self.spawn(Arc::new(g), startup)),
            }
        }
        for r in old {
            let _ = r.stop.send(true);
            r.task.abort();
            r.group.mark_stale(&self.inner.storage, now);
        }
        *running = next;
        tracing::info!(groups = running.len(), "rules loaded");
    }

    /// Reads every rule file again (SIGHUP, `POST /-/reload`); a bad file
    /// refuses the whole reload and the running rules stay.
    pub fn reload(&self) -> Result<(), RulesError> {
        let _one = lock(&self.inner.reloading);
        let result = load_all(&self.inner.opts);
        let mut counts = lock(&self.inner.reloads);
        let (cfg, specs) = match result {
            Ok(x) => {
                counts.0 += 1;
                x
            }
            Err(e) => {
                counts.1 += 1;
                return Err(e);
            }
        };
        drop(counts);
        let old_env = Arc::clone(&lock(&self.inner.env));
        old_env.notifier.stop();
        let env = Arc::new(Env {
            storage: Arc::clone(&self.inner.storage),
            engine: Arc::clone(&self.inner.engine),
            external_labels: cfg.external_labels.clone(),
            external_url: self.inner.opts.external_url.clone(),
            resend_ms: self.inner.opts.resend_delay.as_millis() as i64,
            notifier: Notifier::start(&cfg, Arc::clone(&self.inner.notifier_counters)),
            counters: Arc::clone(&self.inner.counters),
        });
        *lock(&self.inner.env) = env;
        self.apply(&cfg, specs, false);
        Ok(())
    }

    /// Successful and failed reloads.
    pub fn reload_counts(&self) -> (u64, u64) {
        *lock(&self.inner.reloads)
    }

    /// The running groups, sorted by file then name.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        let mut g: Vec<Arc<Group>> = lock(&self.inner.groups)
            .iter()
            .map(|r| Arc::clone(&r.group))
            .collect();
        g.sort_by_key(|a| a.key());
        g
    }

    /// Rule counters.
    pub fn counters(&self) -> &RuleCounters {
        &self.inner.counters
    }

    /// Notification counters and the queue length.
    pub fn notifications(&self) -> (&NotifierCounters, usize) {
        let q = lock(&self.inner.env).notifier.queue_length();
        (&self.inner.notifier_counters, q)
    }

    /// Reloads on SIGHUP until the manager is dropped.
    pub fn reload_on_sighup(&self) -> std::io::Result<JoinHandle<()>> {
        crate::sighup::reload_on_sighup(&self.inner, |inner| async move {
            let m = RuleManager { inner };
            match tokio::task::spawn_blocking(move || m.reload()).await {
                Ok(Ok(())) => tracing::info!("rules reloaded"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "rules reload refused; the running rules stay")
                }
                Err(e) => tracing::error!(error = %e, "rules reload task failed"),
            }
        })
    }

    /// Stops every group (no stale markers) and the notifier.
    pub fn shutdown(&self) {
        for r in lock(&self.inner.groups).drain(..) {
            let _ = r.stop.send(true);
            r.task.abort();
        }
        lock(&self.inner.env).notifier.stop();
    }
}
