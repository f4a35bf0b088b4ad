//! A rule group: its rules evaluated one after another at the group's
//! slot time (a rule sees what the rules before it wrote), its statistics,
//! and handing its state to a successor on reload.

use super::alerting::{self, TemplateEnv};
use super::file::{GroupSpec, RuleKind};
use super::notifier::Notifier;
use super::rule::{Health, RuleState};
use super::template::QueryFn;
use hourglass_query::Engine;
use hourglass_storage::{Labels, STALE_NAN_BITS, Sample, Storage, WriteBatch};
use hourglass_wal::lock::lock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Counters over every group, for `/metrics`.
#[derive(Debug, Default)]
pub struct RuleCounters {
    /// Rule evaluations.
    pub evaluations: AtomicU64,
    /// Rule evaluations that failed.
    pub failures: AtomicU64,
    /// Group evaluations.
    pub iterations: AtomicU64,
    /// Group slots skipped because an evaluation ran late.
    pub missed: AtomicU64,
    /// CPU-ish cost: wall time spent evaluating, in µs.
    pub eval_micros: AtomicU64,
}

/// What every group evaluates with; replaced as a whole on reload.
pub struct Env {
    /// Where results go and queries read.
    pub storage: Arc<Storage>,
    /// The PromQL engine and its limits.
    pub engine: Arc<Engine>,
    /// `$externalLabels`, added to notifications.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` and the generator URL's base.
    pub external_url: String,
    /// How often firing alerts are re-sent (ms).
    pub resend_ms: i64,
    /// Where alerts go.
    pub notifier: Notifier,
    /// Counters.
    pub counters: Arc<RuleCounters>,
}

/// A group's evaluation statistics.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    /// Wall clock when the last evaluation started.
    pub last_evaluation: Option<SystemTime>,
    /// How long it took (s).
    pub evaluation_seconds: f64,
    /// Samples written by it.
    pub last_samples: usize,
    /// Evaluations so far.
    pub iterations: u64,
    /// Slots skipped.
    pub missed: u64,
}

/// A running group.
pub struct Group {
    /// As loaded.
    pub spec: GroupSpec,
    /// Interval (ms), the global one when the group sets none.
    pub interval_ms: i64,
    /// Query offset (ms).
    pub query_offset_ms: i64,
    /// Rules in order, each locked only while it evaluates.
    pub rules: Vec<Mutex<RuleState>>,
    /// Statistics.
    pub stats: Mutex<GroupStats>,
}

struct EngineQuery<'a> {
    engine: &'a Engine,
    storage: &'a Storage,
    t_ms: i64,
}

impl QueryFn for EngineQuery<'_> {
    fn query(&self, q: &str) -> Result<super::template::Rows, String> {
        let expr = hourglass_query::parse(q).map_err(|e| e.message().to_string())?;
        let rows = super::rule::instant(self.engine, self.storage, &expr, self.t_ms)?;
        Ok(rows
            .into_iter()
            .map(|(l, v)| (super::rule::to_map(&l), v))
            .collect())
    }
}

impl Group {
    /// A group not evaluated yet.
    pub fn new(spec: GroupSpec, default_interval: Duration, default_offset: Duration) -> Group {
        let interval_ms = spec.interval.unwrap_or(default_interval).as_millis().max(1) as i64;
        let query_offset_ms = spec.query_offset.unwrap_or(default_offset).as_millis() as i64;
        let rules = spec
            .rules
            .iter()
            .map(|r| Mutex::new(RuleState::new(r.clone())))
            .collect();
        Group {
            spec,
            interval_ms,
            query_offset_ms,
            rules,
            stats: Mutex::new(GroupStats::default()),
        }
    }

    /// `(file, name)`: a group's identity.
    pub fn key(&self) -> (String, String) {
        (self.spec.file.clone(), self.spec.name.clone())
    }

    /// Evaluates every rule at the slot `slot_ms` and hands due alerts to
    /// the notifier; returns the samples written.
    pub fn evaluate(&self, env: &Env, slot_ms: i64) -> usize {
        let started = Instant::now();
        let wall = SystemTime::now();
        let ts = slot_ms - self.query_offset_ms;
        let mut samples = 0;
        let mut outgoing = Vec::new();
        for r in &self.rules {
            let mut rule = lock(r);
            let t0 = Instant::now();
            rule.last_evaluation = Some(SystemTime::now());
            samples += match rule.spec.kind {
                RuleKind::Recording => super::recording::evaluate(
                    &mut rule,
                    &env.engine,
                    &env.storage,
                    ts,
                    self.spec.limit,
                ),
                RuleKind::Alerting { .. } => {
                    let q = EngineQuery {
                        engine: &env.engine,
                        storage: &env.storage,
                        t_ms: slot_ms,
                    };
                    let tenv = TemplateEnv {
                        external_labels: &env.external_labels,
                        external_url: &env.external_url,
                        query: &q,
                    };
                    let n = alerting::evaluate(
                        &mut rule,
                        &env.engine,
                        &env.storage,
                        slot_ms,
                        self.query_offset_ms,
                        self.spec.limit,
                        &tenv,
                    );
                    outgoing.extend(alerting::due(
                        &mut rule,
                        slot_ms,
                        env.resend_ms,
                        self.interval_ms,
                        &env.external_url,
                    ));
                    n
                }
            };
            rule.evaluation_seconds = t0.elapsed().as_secs_f64();
            env.counters.evaluations.fetch_add(1, Ordering::Relaxed);
            if rule.health == Health::Err {
                env.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(group = %self.spec.name, rule = %rule.spec.name, error = ?rule.last_error, "rule evaluation failed");
            }
        }
        if !outgoing.is_empty() {
            env.notifier.send(outgoing);
        }
        let took = started.elapsed();
        env.counters.iterations.fetch_add(1, Ordering::Relaxed);
        env.counters
            .eval_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let mut stats = lock(&self.stats);
        stats.last_evaluation = Some(wall);
        stats.evaluation_seconds = took.as_secs_f64();
        stats.last_samples = samples;
        stats.iterations += 1;
        samples
    }

    /// Takes over the state of `old`'s rules with the same name and labels
    /// (a reload that changed the group).
    pub fn take_state(&self, old: &Group) {
        for r in &self.rules {
            let mut new = lock(r);
            for o in &old.rules {
                let mut o = lock(o);
                if o.spec.name == new.spec.name && o.spec.labels == new.spec.labels {
                    new.alerts = std::mem::take(&mut o.alerts);
                    new.series = std::mem::take(&mut o.series);
                    new.restored = o.restored;
                    break;
                }
            }
        }
    }

    /// Stale markers at `t_ms` for every series the group's rules wrote
    /// last (the group was removed).
    pub fn mark_stale(&self, storage: &Storage, t_ms: i64) {
        let mut batch = WriteBatch::new();
        for r in &self.rules {
            for l in lock(r).series.drain() {
                batch.push(
                    l,
                    vec![Sample {
                        t: t_ms,
                        v: f64::from_bits(STALE_NAN_BITS),
                    }],
                );
            }
        }
        if !batch.is_empty()
            && let Err(e) = storage.append(&batch)
        {
            tracing::warn!(error = %e, group = %self.spec.name, "stale markers of a removed group not written");
        }
    }

    /// Labels of the series a rule wrote last (tests, restore).
    pub fn series_of(&self, rule: usize) -> Vec<Labels> {
        self.rules
            .get(rule)
            .map(|r| lock(r).series.iter().cloned().collect())
            .unwrap_or_default()
    }
}
