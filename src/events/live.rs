//! Live samples for dashboards: subscribers name series by selectors and
//! get each new sample of a matching series as it is stored (after the
//! WAL acknowledged it): a series' labels once, then its samples by id.
//!
//! Fed from storage's tap (`hourglass_storage::tap`), the seam every
//! ingest path's appends go through; an append pays one atomic load when
//! nobody subscribes. When someone does, the appending thread only hands
//! its flat batch to a bounded queue ([`PENDING`] batches, at most
//! [`PENDING_SAMPLES`] samples in all); one dispatcher
//! thread takes whatever has arrived since its last flush, matches it
//! against every subscriber's selectors and queues each subscriber one
//! [`Update`] (bounded, [`QUEUE`] messages); the subscriber's own task
//! encodes and sends it. Nothing here ever blocks an append: what does not
//! fit a queue is counted, and the subscriber is told how many of its
//! samples it missed.

use hourglass_storage::tap::{self, Stored};
use hourglass_storage::{Labels, Matcher, Sample};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// Messages queued per subscriber.
pub const QUEUE: usize = 1024;
/// Most series one subscriber follows; samples of more are counted missed.
pub const MAX_SERIES: usize = 100_000;
/// Appends' batches waiting for the dispatcher.
pub const PENDING: usize = 1024;
/// Samples waiting for the dispatcher, over all batches (≈ 2 s at
/// 500,000 samples/s; about 32 MB with the labels' references).
pub const PENDING_SAMPLES: usize = 1 << 20;
/// Most samples (of every series, matched or not) one flush takes, so one
/// update stays bounded.
const MAX_FLUSH_SAMPLES: usize = 262_144;

/// One flush's samples for one subscriber.
#[derive(Debug, Default, PartialEq)]
pub struct Update {
    /// Series first seen in this update: id and labels.
    pub new: Vec<(u64, Labels)>,
    /// Samples by series id, in the order they were stored.
    pub data: Vec<(u64, Vec<Sample>)>,
}

/// What a subscriber receives.
#[derive(Debug, PartialEq)]
pub enum Message {
    /// New samples.
    Samples(Update),
    /// This many of the subscriber's samples did not fit its queue.
    Overflow {
        /// Samples lost since the last notice.
        missed_samples: u64,
    },
}

/// One subscriber.
#[derive(Debug)]
struct Sub {
    sets: Vec<Vec<Matcher>>,
    tx: mpsc::Sender<Message>,
    /// Series id by labels; only the dispatcher thread takes it.
    ids: Mutex<HashMap<Labels, u64>>,
    missed: AtomicU64,
}

static SUBS: Mutex<Vec<Arc<Sub>>> = Mutex::new(Vec::new());
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static FEED: OnceLock<SyncSender<Stored>> = OnceLock::new();
/// Samples handed to the dispatcher and not yet taken.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

fn subs() -> std::sync::MutexGuard<'static, Vec<Arc<Sub>>> {
    SUBS.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether anyone subscribes (the collection paths' cheap check).
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed) > 0
}

/// A subscription; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    sub: Arc<Sub>,
    /// Messages to forward.
    pub rx: mpsc::Receiver<Message>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = subs();
        subs.retain(|s| !Arc::ptr_eq(s, &self.sub));
        ACTIVE.store(subs.len(), Ordering::Relaxed);
        tap::want(!subs.is_empty());
    }
}

/// Subscribes to series matching any of `sets`.
pub fn subscribe(sets: Vec<Vec<Matcher>>) -> Subscription {
    FEED.get_or_init(start_dispatcher);
    let (tx, rx) = mpsc::channel(QUEUE);
    let sub = Arc::new(Sub {
        sets,
        tx,
        ids: Mutex::new(HashMap::new()),
        missed: AtomicU64::new(0),
    });
    let mut subs = subs();
    subs.push(Arc::clone(&sub));
    ACTIVE.store(subs.len(), Ordering::Relaxed);
    tap::install(offer);
    tap::want(true);
    Subscription { sub, rx }
}

/// The queue appends hand their batches to, and the thread draining it.
fn start_dispatcher() -> SyncSender<Stored> {
    let (tx, rx) = std::sync::mpsc::sync_channel(PENDING);
    let spawned = std::thread::Builder::new()
        .name("live-stream".into())
        .spawn(move || dispatch(&rx));
    if let Err(e) = spawned {
        // The receiver is gone with the closure: every offer then counts
        // as missed, and subscribers are told so.
        tracing::error!(error = %e, "cannot start the live-stream thread");
    }
    tx
}

fn matches(sets: &[Vec<Matcher>], labels: &Labels) -> bool {
    sets.iter().any(|set| {
        set.iter()
            .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
    })
}

/// Hands an append's stored samples to the dispatcher (storage's tap
/// calls it on the appending thread). When the dispatcher is that far
/// behind, the batch is dropped and each subscriber's share of it counted.
pub fn offer(batch: Stored) {
    let Some(feed) = FEED.get() else { return };
    let n = batch.num_samples();
    let sent = if QUEUED.fetch_add(n, Ordering::Relaxed) + n > PENDING_SAMPLES {
        Err(TrySendError::Full(batch))
    } else {
        feed.try_send(batch)
    };
    match sent {
        Ok(()) => {}
        Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => {
            QUEUED.fetch_sub(n, Ordering::Relaxed);
            let subs: Vec<Arc<Sub>> = subs().clone();
            for sub in subs {
                let lost: usize = batch
                    .iter()
                    .filter(|(labels, _)| matches(&sub.sets, labels))
                    .map(|(_, s)| s.len())
                    .sum();
                if lost > 0 {
                    sub.missed.fetch_add(lost as u64, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The dispatcher: each flush is whatever arrived while the last one was
/// being matched (up to [`MAX_FLUSH_SAMPLES`]), so a quiet stream sends
/// each append at once and a busy one sends fewer, larger updates.
fn dispatch(rx: &Receiver<Stored>) {
    let mut flush: Vec<Stored> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut n = first.num_samples();
        flush.push(first);
        while n < MAX_FLUSH_SAMPLES {
            match rx.try_recv() {
                Ok(b) => {
                    n += b.num_samples();
                    flush.push(b);
                }
                Err(_) => break,
            }
        }
        QUEUED.fetch_sub(n, Ordering::Relaxed);
        let subs: Vec<Arc<Sub>> = subs().clone();
        for sub in &subs {
            deliver(sub, &flush);
        }
        flush.clear();
    }
}

/// Matches one flush against `sub` and queues its update.
fn deliver(sub: &Sub, flush: &[Stored]) {
    let mut ids = sub
        .ids
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut update = Update::default();
    let mut count = 0u64;
    let mut unfollowed = 0u64;
    for (labels, samples) in flush.iter().flat_map(Stored::iter) {
        if !matches(&sub.sets, labels) {
            continue;
        }
        let id = match ids.get(labels) {
            Some(id) => *id,
            None if ids.len() >= MAX_SERIES => {
                unfollowed += samples.len() as u64;
                continue;
            }
            None => {
                let next = ids.len() as u64 + 1;
                ids.insert(labels.clone(), next);
                update.new.push((next, labels.clone()));
                next
            }
        };
        update.data.push((id, samples.to_vec()));
        count += samples.len() as u64;
    }
    if unfollowed > 0 {
        sub.missed.fetch_add(unfollowed, Ordering::Relaxed);
    }
    if count == 0 {
        return;
    }
    let missed = sub.missed.load(Ordering::Relaxed);
    if missed > 0
        && sub
            .tx
            .try_send(Message::Overflow {
                missed_samples: missed,
            })
            .is_ok()
    {
        sub.missed.fetch_sub(missed, Ordering::Relaxed);
    }
    let first_new = update.new.first().map(|(id, _)| *id);
    if sub.tx.try_send(Message::Samples(update)).is_err() {
        // The labels of series first seen in a lost update are sent again
        // (ids are handed out in order, so the lost ones are the newest).
        if let Some(first) = first_new {
            ids.retain(|_, id| *id < first);
        }
        sub.missed.fetch_add(count, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_storage::MatchOp;
    use std::time::Duration;

    fn m(name: &str, v: &str) -> Matcher {
        Matcher::new(MatchOp::Equal, name, v).unwrap()
    }

    fn batch(series: &[(&Labels, Sample)]) -> Stored {
        let mut b = Stored::default();
        for (l, s) in series {
            b.push(l, &[*s]);
        }
        b
    }

    async fn next(s: &mut Subscription) -> Message {
        tokio::time::timeout(Duration::from_secs(10), s.rx.recv())
            .await
            .unwrap()
            .unwrap()
    }

    /// One test: the subscriber list is process-wide.
    #[tokio::test]
    async fn labels_once_then_values_and_overflow_is_counted() {
        let mut s = subscribe(vec![vec![m("__name__", "up")]]);
        assert!(active());
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "down")]);
        offer(batch(&[
            (&a, Sample::new(1000, 1.0)),
            (&b, Sample::new(1000, 1.0)),
        ]));
        let Message::Samples(first) = next(&mut s).await else {
            panic!("samples first")
        };
        assert_eq!(first.new, vec![(1, a.clone())]);
        assert_eq!(first.data, vec![(1, vec![Sample::new(1000, 1.0)])]);
        offer(batch(&[(&a, Sample::new(2000, 0.5))]));
        let Message::Samples(second) = next(&mut s).await else {
            panic!("samples")
        };
        assert!(second.new.is_empty(), "labels once");
        assert_eq!(second.data, vec![(1, vec![Sample::new(2000, 0.5)])]);

        // Nobody reads: the subscriber's queue fills, and what does not
        // fit is counted (one update per flush, so flushes are made here).
        for i in 0..(QUEUE + 5) {
            deliver(&s.sub, &[batch(&[(&a, Sample::new(3000 + i as i64, 1.0))])]);
        }
        for _ in 0..QUEUE {
            assert!(matches!(next(&mut s).await, Message::Samples(_)));
        }
        offer(batch(&[(&a, Sample::new(99_999, 1.0))]));
        assert_eq!(next(&mut s).await, Message::Overflow { missed_samples: 5 });
        let Message::Samples(last) = next(&mut s).await else {
            panic!("samples after the notice")
        };
        assert_eq!(last.data, vec![(1, vec![Sample::new(99_999, 1.0)])]);
        drop(s);
        assert!(!active());
    }
}
