//! Collection figures over every way samples arrive (scrapes, Pushgateway
//! and REST pushes, remote write), for `GET /api/v1/metrics/stats`: totals
//! since the server started, and rates over the last minute.
//!
//! A sampler ([`sample_loop`]) notes the running totals every second; a
//! rate is the difference between now and the note closest to a minute
//! ago, divided by the time between them. Scrape totals are kept per
//! target and summed as differences, so a target that is removed keeps
//! counting what it collected.

use super::AppState;
use crate::scrape::Health;
use hourglass_wal::lock::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How far back rates look.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How often the sampler notes the totals.
const EVERY: Duration = Duration::from_secs(1);

/// Routed paths of the push handlers.
const PUSH_PATHS: [&str; 2] = ["/metrics/{*grouping}", "/api/v1/metrics/custom"];
/// Routed path of remote write.
const REMOTE_WRITE_PATHS: [&str; 1] = ["/api/v1/write"];

/// Running totals of every collection path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Samples collected: scraped, pushed and remote-written.
    pub samples: u64,
    /// Scrapes, push requests and remote-write requests.
    pub attempts: u64,
    /// Of those, failed scrapes and requests answered 4xx/5xx.
    pub failures: u64,
}

impl Totals {
    fn add(self, o: Totals) -> Totals {
        Totals {
            samples: self.samples + o.samples,
            attempts: self.attempts + o.attempts,
            failures: self.failures + o.failures,
        }
    }

    fn since(self, earlier: Totals) -> Totals {
        Totals {
            samples: self.samples.saturating_sub(earlier.samples),
            attempts: self.attempts.saturating_sub(earlier.attempts),
            failures: self.failures.saturating_sub(earlier.failures),
        }
    }
}

/// What a target's loop had counted when last looked at.
#[derive(Clone, Copy)]
struct Seen {
    scrapes: u64,
    failed: u64,
    samples: u64,
}

#[derive(Default)]
struct Window {
    /// Scrape totals of loops seen so far, removed ones included.
    scraped: Totals,
    /// Per target (pool and URL), what its loop had counted.
    seen: HashMap<String, Seen>,
    /// Notes, oldest first, none older than the window plus one step.
    notes: VecDeque<(Instant, [Totals; 3])>,
}

/// The counters and the sampler's notes.
#[derive(Default)]
pub struct Collection {
    remote_write_samples: AtomicU64,
    window: Mutex<Window>,
}

impl Collection {
    /// Counts samples stored from one remote-write request.
    pub fn remote_write(&self, samples: u64) {
        self.remote_write_samples
            .fetch_add(samples, Ordering::Relaxed);
    }

    /// Samples stored from remote write since start.
    pub fn remote_write_samples(&self) -> u64 {
        self.remote_write_samples.load(Ordering::Relaxed)
    }
}

/// `CollectionStats`, as the API answers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CollectionStats {
    /// Targets being scraped (configuration file, registered, self) and
    /// registered push sources.
    pub total_targets: u64,
    /// Of those, whose last scrape succeeded, and push sources whose last
    /// arrival was accepted and on time.
    pub healthy_targets: u64,
    /// Targets registered over the REST API (scraped or about to be).
    pub registered_targets: u64,
    /// Samples collected since start (scraped, pushed, remote-written).
    pub total_metrics_collected: u64,
    /// Samples collected per second over the window.
    pub collection_rate_per_second: f64,
    /// Mean of every target's last scrape duration.
    pub average_scrape_duration_ms: f64,
    /// Failed attempts (scrapes, pushes, remote writes) over all attempts
    /// in the window; 0 when there were none.
    pub error_rate: f64,
    /// The span the rates cover (up to 60 s; less just after start).
    pub window_seconds: f64,
    /// The window's figures by path.
    pub by_path: ByPath,
}

/// Samples per second and error rate of one path over the window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PathFigures {
    /// Samples collected since start.
    pub samples_total: u64,
    /// Samples per second over the window.
    pub samples_per_second: f64,
    /// Attempts in the window.
    pub attempts: u64,
    /// Failed attempts in the window.
    pub failures: u64,
}

/// Figures per collection path.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ByPath {
    /// Scrapes.
    pub scrape: PathFigures,
    /// Pushgateway and REST custom-metrics pushes.
    pub push: PathFigures,
    /// Remote write.
    pub remote_write: PathFigures,
}

impl AppState {
    /// Running totals (scrape, push, remote write), updating the per-target
    /// bookkeeping.
    fn collection_totals(&self, w: &mut Window) -> [Totals; 3] {
        let targets = self.scrape().targets();
        let mut next = HashMap::with_capacity(targets.active.len());
        for t in &targets.active {
            let key = format!("{}\u{0}{}", t.scrape_pool, t.scrape_url);
            let now = Seen {
                scrapes: t.status.scrapes,
                failed: t.status.failed_scrapes,
                samples: t.status.samples_scraped_total,
            };
            // A loop that restarted counts from zero again.
            let before = w
                .seen
                .get(&key)
                .copied()
                .filter(|b| b.scrapes <= now.scrapes)
                .unwrap_or(Seen {
                    scrapes: 0,
                    failed: 0,
                    samples: 0,
                });
            w.scraped = w.scraped.add(Totals {
                samples: now.samples.saturating_sub(before.samples),
                attempts: now.scrapes - before.scrapes,
                failures: now.failed.saturating_sub(before.failed),
            });
            next.insert(key, now);
        }
        w.seen = next;
        let inner = &self.inner;
        let pushed: u64 = inner
            .push
            .sample_counts()
            .iter()
            .filter(|(_, result, _)| *result == "accepted")
            .map(|(_, _, n)| n)
            .sum();
        let (push_all, push_failed) = inner.http.answered(&PUSH_PATHS);
        let (rw_all, rw_failed) = inner.http.answered(&REMOTE_WRITE_PATHS);
        [
            w.scraped,
            Totals {
                samples: pushed,
                attempts: push_all,
                failures: push_failed,
            },
            Totals {
                samples: inner.collection.remote_write_samples(),
                attempts: rw_all,
                failures: rw_failed,
            },
        ]
    }

    /// The notes, locked (a poisoned lock still holds usable figures).
    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        lock(&self.inner.collection.window)
    }

    /// Notes the totals now; drops notes older than the window.
    fn note(&self, w: &mut Window, at: Instant) -> [Totals; 3] {
        let parts = self.collection_totals(w);
        w.notes.push_back((at, parts));
        while w
            .notes
            .get(1)
            .is_some_and(|(t, _)| at.duration_since(*t) >= WINDOW)
        {
            w.notes.pop_front();
        }
        parts
    }

    /// The figures now.
    pub fn collection_stats(&self) -> CollectionStats {
        let mut w = self.window();
        let now = Instant::now();
        let first = w.notes.front().copied();
        let parts = self.note(&mut w, now);
        drop(w);
        let (start, span) = match first {
            Some((t, start)) if now > t => (start, now.duration_since(t).as_secs_f64()),
            _ => (parts, 0.0),
        };
        let window: Vec<Totals> = (0..3).map(|i| parts[i].since(start[i])).collect();
        let sum = parts[0].add(parts[1]).add(parts[2]);
        let since = window[0].add(window[1]).add(window[2]);
        let per_second = |n: u64| if span > 0.0 { n as f64 / span } else { 0.0 };
        let targets = self.scrape().targets();
        let scraped: Vec<_> = targets
            .active
            .iter()
            .filter(|t| t.status.scrapes > 0)
            .collect();
        let average_scrape_duration_ms = if scraped.is_empty() {
            0.0
        } else {
            scraped
                .iter()
                .map(|t| t.status.last_scrape_duration.as_secs_f64() * 1000.0)
                .sum::<f64>()
                / scraped.len() as f64
        };
        let registered = lock(self.registry()).len();
        // Registered push sources count as targets; healthy by what arrived.
        let pushed = self.arrivals().snapshot();
        let now_ms = crate::push::now_ms();
        let pushed_healthy = pushed.values().filter(|t| t.healthy(now_ms)).count() as u64;
        let path = |p: &Totals, share: Totals| PathFigures {
            samples_total: p.samples,
            samples_per_second: per_second(share.samples),
            attempts: share.attempts,
            failures: share.failures,
        };
        CollectionStats {
            total_targets: targets.active.len() as u64 + pushed.len() as u64,
            healthy_targets: targets
                .active
                .iter()
                .filter(|t| t.status.health == Health::Up)
                .count() as u64
                + pushed_healthy,
            registered_targets: registered as u64,
            total_metrics_collected: sum.samples,
            collection_rate_per_second: per_second(since.samples),
            average_scrape_duration_ms,
            error_rate: if since.attempts == 0 {
                0.0
            } else {
                since.failures as f64 / since.attempts as f64
            },
            window_seconds: span,
            by_path: ByPath {
                scrape: path(&parts[0], window[0]),
                push: path(&parts[1], window[1]),
                remote_write: path(&parts[2], window[2]),
            },
        }
    }
}

/// Notes the totals every second until the server stops.
pub async fn sample_loop(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            s.note(&mut s.window(), Instant::now());
        })
        .await;
    }
}
