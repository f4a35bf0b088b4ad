//! The task that runs a group on its interval until stopped: sleeps to
//! the next slot, counts skipped slots, evaluates off the async threads,
//! and restores alerts' `for` state after the second evaluation.

use super::group::{Env, Group};
use super::restore::{self, RestoreOptions};
use super::schedule;
use hourglass_wal::lock::lock;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs `group` on its interval until `stop` says so. With `restore`,
/// alerting rules read their `for` state back after the second evaluation.
pub async fn run(
    group: Arc<Group>,
    env: Arc<Mutex<Arc<Env>>>,
    mut stop: watch::Receiver<bool>,
    restore: Option<RestoreOptions>,
) {
    let interval = group.interval_ms;
    let offset = schedule::offset_ms(&group.spec.file, &group.spec.name, interval);
    let mut due = schedule::slot(now_ms(), offset, interval) + interval;
    let mut evaluations = 0u32;
    if restore.is_none() {
        for r in &group.rules {
            lock(r).restored = true;
        }
    }
    loop {
        let wait = Duration::from_millis((due - now_ms()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let (slot, missed) = schedule::next_due(due, now_ms(), interval);
        let current = Arc::clone(&lock(&env));
        if missed > 0 {
            current.counters.missed.fetch_add(missed, Ordering::Relaxed);
            lock(&group.stats).missed += missed;
            tracing::warn!(group = %group.spec.name, missed, "rule group evaluations missed");
        }
        let g = Arc::clone(&group);
        let e = Arc::clone(&current);
        if let Err(err) = tokio::task::spawn_blocking(move || g.evaluate(&e, slot)).await {
            tracing::error!(error = %err, group = %group.spec.name, "rule group evaluation task failed");
        }
        evaluations += 1;
        if evaluations == 2
            && let Some(opts) = restore
        {
            let g = Arc::clone(&group);
            let e = Arc::clone(&current);
            let _ = tokio::task::spawn_blocking(move || restore::restore(&g, &e, &opts, now_ms()))
                .await;
        }
        due = slot + interval;
    }
}
