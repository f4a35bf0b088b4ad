//! Live samples for dashboards: subscribers name series by selectors and
//! get each new sample of a matching series as it is stored (after the
//! WAL acknowledged it): a series' labels once, then `[t, v]` batches.
//! Fed from storage's tap (`hourglass_storage::tap`), the seam every
//! ingest path's appends go through; an append pays one atomic load when
//! nobody subscribes. Each
//! subscriber has a bounded queue; what does not fit is counted and the
//! subscriber is told how many samples it missed.

use hourglass_storage::tap::{self, Stored};
use hourglass_storage::{Labels, Matcher};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Batches queued per subscriber.
pub const QUEUE: usize = 1024;
/// Most series one subscriber follows; samples of more are counted missed.
pub const MAX_SERIES: usize = 100_000;

/// One subscriber.
#[derive(Debug)]
struct Sub {
    sets: Vec<Vec<Matcher>>,
    tx: mpsc::Sender<String>,
    state: Mutex<State>,
    missed: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    ids: HashMap<Labels, u64>,
}

static SUBS: Mutex<Vec<Arc<Sub>>> = Mutex::new(Vec::new());
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether anyone subscribes (the collection paths' cheap check).
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed) > 0
}

/// A subscription; unsubscribes when dropped.
#[derive(Debug)]
pub struct Subscription {
    sub: Arc<Sub>,
    /// Messages (JSON) to forward.
    pub rx: mpsc::Receiver<String>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = SUBS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        subs.retain(|s| !Arc::ptr_eq(s, &self.sub));
        ACTIVE.store(subs.len(), Ordering::Relaxed);
        tap::want(!subs.is_empty());
    }
}

/// Subscribes to series matching any of `sets`.
pub fn subscribe(sets: Vec<Vec<Matcher>>) -> Subscription {
    let (tx, rx) = mpsc::channel(QUEUE);
    let sub = Arc::new(Sub {
        sets,
        tx,
        state: Mutex::new(State::default()),
        missed: AtomicU64::new(0),
    });
    let mut subs = SUBS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    subs.push(Arc::clone(&sub));
    ACTIVE.store(subs.len(), Ordering::Relaxed);
    tap::install(offer);
    tap::want(true);
    Subscription { sub, rx }
}

fn matches(sets: &[Vec<Matcher>], labels: &Labels) -> bool {
    sets.iter().any(|set| {
        set.iter()
            .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
    })
}

/// Offers stored series to every subscriber (storage's tap calls it).
pub fn offer(series: &[Stored]) {
    let subs: Vec<Arc<Sub>> = SUBS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for sub in subs {
        offer_one(&sub, series);
    }
}

fn offer_one(sub: &Sub, series: &[Stored]) {
    let mut state = sub
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut new = String::new();
    let mut data = String::new();
    let mut count = 0u64;
    let mut unfollowed = 0u64;
    for (labels, samples) in series {
        if samples.is_empty() || !matches(&sub.sets, labels) {
            continue;
        }
        let next = state.ids.len() as u64 + 1;
        let id = match state.ids.get(labels) {
            Some(id) => *id,
            None if state.ids.len() >= MAX_SERIES => {
                unfollowed += samples.len() as u64;
                continue;
            }
            None => {
                state.ids.insert(labels.clone(), next);
                let obj: serde_json::Map<String, serde_json::Value> = labels
                    .iter()
                    .map(|l| (l.name.to_string(), (*l.value).into()))
                    .collect();
                if !new.is_empty() {
                    new.push(',');
                }
                let _ = write!(
                    new,
                    "{{\"id\":{next},\"labels\":{}}}",
                    serde_json::Value::Object(obj)
                );
                next
            }
        };
        if !data.is_empty() {
            data.push(',');
        }
        let _ = write!(data, "{{\"id\":{id},\"values\":[");
        for (i, s) in samples.iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            let _ = write!(data, "[{},\"", s.t as f64 / 1000.0);
            hourglass_query::prom_text::write_api_value(s.v, &mut data);
            data.push_str("\"]");
        }
        data.push_str("]}");
        count += samples.len() as u64;
    }
    if unfollowed > 0 {
        sub.missed.fetch_add(unfollowed, Ordering::Relaxed);
    }
    if count == 0 {
        return;
    }
    let missed = sub.missed.load(Ordering::Relaxed);
    if missed > 0 {
        let note = format!("{{\"type\":\"overflow\",\"missed_samples\":{missed}}}");
        if sub.tx.try_send(note).is_ok() {
            sub.missed.fetch_sub(missed, Ordering::Relaxed);
        }
    }
    let msg = format!("{{\"type\":\"samples\",\"series\":[{new}],\"data\":[{data}]}}");
    if sub.tx.try_send(msg).is_err() {
        // The labels of series first seen in a lost batch are sent again.
        if !new.is_empty() {
            state.ids.retain(|_, id| *id < state_first_new(&new));
        }
        sub.missed.fetch_add(count, Ordering::Relaxed);
    }
}

/// The smallest id announced in `new` (ids are given in order).
fn state_first_new(new: &str) -> u64 {
    new.strip_prefix("{\"id\":")
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_storage::{MatchOp, Sample};

    fn m(name: &str, v: &str) -> Matcher {
        Matcher::new(MatchOp::Equal, name, v).unwrap()
    }

    #[tokio::test]
    async fn labels_once_then_values_and_overflow_is_counted() {
        let mut s = subscribe(vec![vec![m("__name__", "up")]]);
        assert!(active());
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "down")]);
        let one = vec![Sample::new(1000, 1.0)];
        let at = |t: i64, v: f64| [(a.clone(), vec![Sample::new(t, v)])];
        offer(&[(a.clone(), one.clone()), (b, one)]);
        offer(&at(2000, 0.5));
        let first: serde_json::Value = serde_json::from_str(&s.rx.recv().await.unwrap()).unwrap();
        assert_eq!(first["series"][0]["labels"]["job"], "a");
        assert_eq!(first["data"][0]["values"][0][1], "1");
        let second: serde_json::Value = serde_json::from_str(&s.rx.recv().await.unwrap()).unwrap();
        assert_eq!(second["series"].as_array().unwrap().len(), 0, "labels once");
        assert_eq!(second["data"][0]["values"][0][0], 2.0);
        for i in 0..(QUEUE + 5) {
            offer(&at(3000 + i as i64, 1.0));
        }
        let mut overflow = None;
        for _ in 0..QUEUE {
            s.rx.recv().await.unwrap();
        }
        offer(&at(9999, 1.0));
        while let Ok(msg) = s.rx.try_recv() {
            if msg.contains("overflow") {
                overflow = Some(msg);
            }
        }
        assert_eq!(
            overflow.unwrap(),
            "{\"type\":\"overflow\",\"missed_samples\":5}"
        );
        drop(s);
        assert!(!active());
    }
}
