//! Broker sinks: the [`EventSink`] trait a broker implements, and the
//! runner that feeds one from its durable position in the outbox. The
//! position advances (and is persisted) only after the sink says a batch
//! is acknowledged, so delivery is at least once and in outbox order; a
//! broker that de-duplicates by `event_id` makes it exactly once.

use super::bus::{Bus, ReadError, Stored};
use hourglass_wal::fs::Fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Most events handed to a sink at once (a sink's publish window drains
/// at the end of each, so not too few).
const BATCH: usize = 4096;
/// Most events read from the bus at once: a sink behind the in-memory
/// ring reads the outbox from disk, and one read of many events decodes a
/// segment once instead of once per batch.
const READ_AHEAD: usize = 8192;
/// Longest wait between retries of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A boxed future, as the trait returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A broker that takes events in order.
pub trait EventSink: Send {
    /// `kind` for the subscriptions list and metrics (`nats`).
    fn kind(&self) -> &'static str;
    /// Where it delivers (for the list; no credentials).
    fn target(&self) -> String;
    /// Delivers `events` in order; `Ok` only once the broker acknowledged
    /// every one. On `Err` the same events (and maybe more) are handed
    /// again later, so the sink reconnects as needed.
    fn deliver<'a>(&'a mut self, events: &'a [Stored]) -> BoxFuture<'a, Result<(), String>>;
}

/// Counters of one sink, for `/metrics`.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events acknowledged.
    pub delivered: AtomicU64,
    /// Failed delivery attempts.
    pub failures: AtomicU64,
    /// Events retention removed before they were delivered.
    pub dropped_retention: AtomicU64,
    /// 1 while the last attempt failed.
    pub down: AtomicU64,
}

const POS_MAGIC: [u8; 4] = *b"HGSP";
const POS_LEN: usize = 20;

/// The bytes of a position file.
pub fn encode_position(next: u64) -> [u8; POS_LEN] {
    let mut b = [0u8; POS_LEN];
    b[..4].copy_from_slice(&POS_MAGIC);
    b[4] = 1;
    b[8..16].copy_from_slice(&next.to_le_bytes());
    let crc = crc32fast::hash(&b[..16]);
    b[16..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The position in a position file's bytes, if they are whole.
pub fn decode_position(b: &[u8]) -> Option<u64> {
    if b.len() != POS_LEN || b[..4] != POS_MAGIC || b[4] != 1 {
        return None;
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[16..]);
    if crc32fast::hash(&b[..16]) != u32::from_le_bytes(crc) {
        return None;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(n))
}

/// A sink's persisted position: `<events>/sinks/<name>.pos`.
#[derive(Debug)]
pub struct Position {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    path: PathBuf,
}

impl Position {
    /// The position file of sink `name` under the outbox directory.
    pub fn new(fs: Arc<dyn Fs>, events_dir: &Path, name: &str) -> Position {
        let dir = events_dir.join("sinks");
        Position {
            path: dir.join(format!("{name}.pos")),
            dir,
            fs,
        }
    }

    /// The stored position; `None` when missing or unreadable.
    pub fn load(&self) -> Option<u64> {
        let b = self.fs.read(&self.path).ok()?;
        let p = decode_position(&b);
        if p.is_none() {
            tracing::warn!(file = %self.path.display(), "sink position unreadable; starting at the oldest event kept");
        }
        p
    }

    /// Stores `next` durably (temporary file, fsync, rename).
    pub fn store(&self, next: u64) -> std::io::Result<()> {
        self.fs.create_dir_all(&self.dir)?;
        let tmp = self.path.with_extension("pos.tmp");
        let f = self.fs.create(&tmp)?;
        f.write_all(&encode_position(next))?;
        f.sync()?;
        self.fs.rename(&tmp, &self.path)?;
        self.fs.sync_dir(&self.dir)
    }
}

/// Persists the newest position handed to it, off the delivery path:
/// after a crash the sink repeats at most what was acknowledged since the
/// last store, which the broker's de-duplication absorbs.
async fn keep_position(pos: Arc<Position>, mut rx: tokio::sync::watch::Receiver<u64>) {
    while rx.changed().await.is_ok() {
        let at = *rx.borrow_and_update();
        let p = Arc::clone(&pos);
        let saved = tokio::task::spawn_blocking(move || p.store(at)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::warn!(
                "cannot persist the sink position; events may be delivered again after a restart"
            );
        }
    }
}

/// Feeds `sink` from its stored position until the server stops.
pub async fn run(bus: Bus, mut sink: Box<dyn EventSink>, pos: Position, stats: Arc<SinkStats>) {
    let pos = Arc::new(pos);
    let p = Arc::clone(&pos);
    let stored = tokio::task::spawn_blocking(move || p.load())
        .await
        .ok()
        .flatten();
    let mut next = stored.unwrap_or_else(|| bus.oldest());
    let (saved_tx, saved_rx) = tokio::sync::watch::channel(next);
    let keeper = tokio::spawn(keep_position(Arc::clone(&pos), saved_rx));
    let _stop_keeper = AbortOnDrop(keeper);
    let reg = bus.register(sink.kind(), sink.target(), String::new(), next);
    let mut head = bus.watch_head();
    let mut backoff = Duration::from_millis(100);
    let mut ahead: Vec<Stored> = Vec::new();
    tracing::info!(kind = sink.kind(), target = %sink.target(), from = next, "event sink started");
    loop {
        if bus.is_closing() {
            return;
        }
        // The head before the read: the read sees every event below it.
        let known = bus.head();
        ahead.retain(|e| e.seq >= next);
        if ahead.first().is_some_and(|e| e.seq != next) {
            ahead.clear();
        }
        let read = if ahead.is_empty() {
            bus.read(next, READ_AHEAD)
        } else {
            Ok(std::mem::take(&mut ahead))
        };
        let events = match read {
            Ok(mut e) => {
                if e.len() > BATCH {
                    ahead = e.split_off(BATCH);
                }
                e
            }
            Err(ReadError::Expired { oldest, .. }) => {
                let lost = oldest - next;
                tracing::warn!(
                    kind = sink.kind(),
                    lost,
                    "events removed by retention before the sink delivered them"
                );
                stats.dropped_retention.fetch_add(lost, Ordering::Relaxed);
                reg.consumer.dropped.fetch_add(lost, Ordering::Relaxed);
                next = oldest;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "event sink cannot read the outbox");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        if events.is_empty() {
            if next < known {
                // A damaged stretch: nothing readable before the head.
                next = known;
                continue;
            }
            let _ = head.changed().await;
            continue;
        }
        match sink.deliver(&events).await {
            Ok(()) => {
                let n = events.len() as u64;
                next = events.last().map_or(next, |e| e.seq + 1);
                saved_tx.send_replace(next);
                stats.delivered.fetch_add(n, Ordering::Relaxed);
                stats.down.store(0, Ordering::Relaxed);
                reg.consumer.delivered.fetch_add(n, Ordering::Relaxed);
                reg.consumer.position.store(next, Ordering::Relaxed);
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                if stats.down.swap(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(kind = sink.kind(), error = %e, "event sink down; events wait in the outbox");
                }
                stats.failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_wal::fs::FaultyFs;

    #[test]
    fn positions_round_trip_and_damage_is_refused() {
        let fs = Arc::new(FaultyFs::new());
        let p = Position::new(fs.clone(), Path::new("/d/events"), "nats");
        assert_eq!(p.load(), None);
        p.store(42).unwrap();
        assert_eq!(p.load(), Some(42));
        fs.crash();
        fs.restart();
        assert_eq!(p.load(), Some(42), "a stored position is durable");
        let mut b = encode_position(7);
        assert_eq!(decode_position(&b), Some(7));
        b[9] ^= 1;
        assert_eq!(decode_position(&b), None);
        assert_eq!(decode_position(b"HGSP"), None);
    }
}
