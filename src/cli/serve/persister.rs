//! The persist loop of `serve`: hours are written as partitions as soon as
//! one is ready (checked every second, a cheap look at the head), and
//! every `--persist-interval` in any case (retention, checkpoints of a
//! grown WAL, late samples); each round is followed by a compaction
//! (`compactor::round`), so a day is merged once its last hour is written
//! and it is old enough, not a timer later.

use crate::server::AppState;
use hourglass_storage::RetentionRule;
use hourglass_storage::compact::CompactOptions;
use std::time::{Duration, Instant};

/// How often the loop looks for a newly ready hour.
const POLL: Duration = Duration::from_secs(1);

/// Runs persist rounds until aborted. A failure is logged and counted; the
/// data stays in the head and the WAL, and the round after the next
/// `every` tries again.
pub(super) async fn persist_loop(
    state: AppState,
    every: Duration,
    compact: CompactOptions,
    rules: Vec<RetentionRule>,
) {
    let mut tick = tokio::time::interval(POLL.min(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = Instant::now();
    let mut failed = false;
    loop {
        tick.tick().await;
        let due = !failed && state.storage().persist_due();
        if !due && last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        failed = !persist_round(&state).await;
        let side = state.clone();
        let (compact, rules) = (compact.clone(), rules.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || {
            super::super::compactor::round(&side, &compact, &rules)
        })
        .await
        {
            tracing::error!(error = %e, "compaction task failed");
        }
    }
}

/// One persist (and the side state saved beside it); false when it failed.
async fn persist_round(state: &AppState) -> bool {
    let storage = state.storage();
    let side = state.clone();
    let t0 = Instant::now();
    let round = tokio::task::spawn_blocking(move || {
        let _span = tracing::debug_span!("persist").entered();
        side.save_side_state();
        storage.persist()
    })
    .await;
    state.persist_took(t0.elapsed());
    match round {
        Ok(Ok(stats)) => {
            state.persisted(&stats);
            if !stats.partitions.is_empty() || stats.retention.by_age + stats.retention.by_size > 0
            {
                tracing::info!(
                    partitions = stats.partitions.len(),
                    series = stats.series,
                    removed_by_age = stats.retention.by_age,
                    removed_by_size = stats.retention.by_size,
                    "persisted"
                );
            }
            true
        }
        Ok(Err(e)) => {
            state.persist_failed();
            tracing::error!(error = %e, "persisting partitions failed; will retry");
            false
        }
        Err(e) => {
            state.persist_failed();
            tracing::error!(error = %e, "persist task failed");
            false
        }
    }
}
