//! The event bus: collection paths hand events to [`Bus::commit`] (a
//! bounded queue; the caller awaits its event's fsync before it
//! acknowledges the batch) or [`Bus::emit`] (no wait). One writer thread
//! appends whatever is queued as one group (one write and one fsync), so
//! concurrent batches share an fsync as appends share the WAL's; it keeps
//! the newest in memory and announces the new head. Every consumer (SSE,
//! WebSocket, a broker sink) pulls from its own position, so none can slow
//! collection or another consumer.

use super::model::{Collected, Event};
use super::outbox::{Outbox, Recovered};
use super::segment::Record;
use hourglass_wal::lock::lock;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events waiting for the writer at most; more are dropped and counted.
pub const QUEUE: usize = 65_536;
/// Most events appended with one fsync.
const GROUP: usize = 4096;
/// Events kept in memory for consumers near the head.
const RING: usize = 16_384;
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(10);
/// Longest a batch waits for its event's fsync before it is acknowledged
/// anyway (a stuck disk must not stop collection; the event is counted).
const COMMIT_WAIT: Duration = Duration::from_secs(5);

/// One stored event as consumers get it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its outbox number.
    pub seq: u64,
    /// The event.
    pub event: Arc<Event>,
    /// Its JSON, as stored.
    pub json: Arc<str>,
}

impl Stored {
    fn from_record(r: Record) -> Option<Stored> {
        let json = String::from_utf8(r.payload).ok()?;
        let event: Event = serde_json::from_str(&json).ok()?;
        Some(Stored {
            seq: r.seq,
            event: Arc::new(event),
            json: json.into(),
        })
    }

    /// The batch it describes.
    pub fn collected(&self) -> &Collected {
        &self.event.metrics_collected
    }
}

/// A read that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The position is older than what retention kept.
    #[error("event {asked} is no longer kept (retention); the oldest kept is {oldest}")]
    Expired {
        /// What was asked for.
        asked: u64,
        /// The oldest kept.
        oldest: u64,
    },
    /// The position is past the newest event.
    #[error("event {asked} does not exist yet; the newest is {newest}")]
    Future {
        /// What was asked for.
        asked: u64,
        /// The newest number given (0 when none).
        newest: u64,
    },
    /// The outbox could not be read.
    #[error("{0}")]
    Io(String),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events handed to the bus.
    pub emitted: AtomicU64,
    /// Events appended to the outbox.
    pub appended: AtomicU64,
    /// Groups appended (one fsync each).
    pub groups: AtomicU64,
    /// Nanoseconds spent appending groups (write and fsync).
    pub append_ns: AtomicU64,
    /// Dropped because the writer's queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Dropped because the outbox could not be written.
    pub dropped_write_failed: AtomicU64,
    /// Removed by retention.
    pub removed_by_retention: AtomicU64,
    /// Batches acknowledged before their event was in the outbox (the
    /// fsync took longer than the commit wait, or the event was dropped).
    pub unconfirmed_commits: AtomicU64,
}

/// A consumer as `GET /api/v1/events/subscriptions` lists it.
#[derive(Debug)]
pub struct Consumer {
    /// Unique while the server runs.
    pub id: u64,
    /// `sse`, `websocket`, `stream` or a sink's kind (`nats`).
    pub kind: &'static str,
    /// Where it is (remote address, broker URL).
    pub peer: String,
    /// Its filter, as given.
    pub filter: Mutex<String>,
    /// The next event number it will get.
    pub position: AtomicU64,
    /// Events delivered.
    pub delivered: AtomicU64,
    /// Events it missed (overflow, retention).
    pub dropped: AtomicU64,
    /// Unix ms when it connected.
    pub since_ms: i64,
}

/// Unregisters its consumer when dropped.
#[derive(Debug)]
pub struct Registration {
    bus: Arc<Shared>,
    /// The consumer's figures, shared with the list.
    pub consumer: Arc<Consumer>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.bus.consumers).remove(&self.consumer.id);
    }
}

/// Told whether the event reached the outbox.
type Durable = tokio::sync::oneshot::Sender<bool>;

enum Msg {
    Event(Box<Event>, Option<Durable>),
    Flush(std::sync::mpsc::Sender<()>),
}

#[derive(Debug)]
struct Shared {
    outbox: Mutex<Outbox>,
    ring: Mutex<VecDeque<Stored>>,
    head: watch::Sender<u64>,
    consumers: Mutex<BTreeMap<u64, Arc<Consumer>>>,
    next_consumer: AtomicU64,
    counters: Counters,
    consumer_buffer: u64,
    closing: std::sync::atomic::AtomicBool,
}

/// The bus.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    crate::push::now_ms()
}

impl Bus {
    /// Starts the writer over an opened outbox.
    /// Starts the writer over an opened outbox; each consumer may fall
    /// `consumer_buffer` events behind before it is told it missed some.
    pub fn start(outbox: Outbox, recovered: &Recovered, consumer_buffer: u64) -> Bus {
        tracing::info!(
            records = recovered.records,
            torn_bytes = recovered.torn_bytes,
            damaged_segments = recovered.damaged_segments.len(),
            next = outbox.next_seq(),
            "event outbox recovered"
        );
        let (head, _) = watch::channel(outbox.next_seq());
        let shared = Arc::new(Shared {
            outbox: Mutex::new(outbox),
            ring: Mutex::new(VecDeque::new()),
            head,
            consumers: Mutex::new(BTreeMap::new()),
            next_consumer: AtomicU64::new(1),
            counters: Counters::default(),
            consumer_buffer: consumer_buffer.max(1),
            closing: std::sync::atomic::AtomicBool::new(false),
        });
        let (tx, rx) = sync_channel(QUEUE);
        let s = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("event-outbox".into())
            .spawn(move || writer(&s, &rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the event outbox writer; events are dropped");
        }
        Bus { tx, shared }
    }

    /// Queues an event; never blocks (a full queue drops it and counts).
    pub fn emit(&self, event: Event) {
        self.queue(event, None);
    }

    /// Queues an event and waits until it is in the outbox (fsynced, with
    /// whatever else was queued meanwhile). Returns whether it got there;
    /// gives up after [`COMMIT_WAIT`] so a stuck disk cannot stop
    /// collection.
    pub async fn commit(&self, event: Event) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let durable = self.queue(event, Some(tx))
            && matches!(tokio::time::timeout(COMMIT_WAIT, rx).await, Ok(Ok(true)));
        if !durable {
            self.shared
                .counters
                .unconfirmed_commits
                .fetch_add(1, Ordering::Relaxed);
        }
        durable
    }

    fn queue(&self, event: Event, durable: Option<Durable>) -> bool {
        self.shared.counters.emitted.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(Msg::Event(Box::new(event), durable)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared
                    .counters
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Waits until everything emitted so far is in the outbox.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// How far a consumer may fall behind.
    pub fn consumer_buffer(&self) -> u64 {
        self.shared.consumer_buffer
    }

    /// Ends every consumer's stream (the server is stopping).
    pub fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.head.send_modify(|_| {});
    }

    /// Whether the server is stopping.
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::SeqCst)
    }

    /// The number the next event will get.
    pub fn head(&self) -> u64 {
        *self.shared.head.borrow()
    }

    /// Watches the head.
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.shared.head.subscribe()
    }

    /// The oldest number kept.
    pub fn oldest(&self) -> u64 {
        lock(&self.shared.outbox).oldest_seq()
    }

    /// Outbox bytes on disk.
    pub fn outbox_bytes(&self) -> u64 {
        lock(&self.shared.outbox).bytes()
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Checks that reading can start at `from`.
    pub fn check_position(&self, from: u64) -> Result<(), ReadError> {
        let head = self.head();
        if from > head {
            return Err(ReadError::Future {
                asked: from,
                newest: head.saturating_sub(1),
            });
        }
        let oldest = self.oldest();
        if from < oldest {
            return Err(ReadError::Expired {
                asked: from,
                oldest,
            });
        }
        Ok(())
    }

    /// Up to `max` events from `from` on (memory first, else disk).
    /// Positions older than the oldest kept are an error.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<Stored>, ReadError> {
        {
            let ring = lock(&self.shared.ring);
            if let Some(front) = ring.front()
                && front.seq <= from
            {
                let skip = usize::try_from(from - front.seq).unwrap_or(usize::MAX);
                return Ok(ring.iter().skip(skip).take(max).cloned().collect());
            }
        }
        let outbox = lock(&self.shared.outbox);
        let oldest = outbox.oldest_seq();
        if from < oldest {
            return Err(ReadError::Expired {
                asked: from,
                oldest,
            });
        }
        let records = outbox
            .read(from, max)
            .map_err(|e| ReadError::Io(e.to_string()))?;
        drop(outbox);
        Ok(records
            .into_iter()
            .filter_map(Stored::from_record)
            .collect())
    }

    /// Registers a consumer for the subscriptions list.
    pub fn register(
        &self,
        kind: &'static str,
        peer: String,
        filter: String,
        position: u64,
    ) -> Registration {
        let id = self.shared.next_consumer.fetch_add(1, Ordering::Relaxed);
        let consumer = Arc::new(Consumer {
            id,
            kind,
            peer,
            filter: Mutex::new(filter),
            position: AtomicU64::new(position),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            since_ms: now_ms(),
        });
        lock(&self.shared.consumers).insert(id, Arc::clone(&consumer));
        Registration {
            bus: Arc::clone(&self.shared),
            consumer,
        }
    }

    /// Every registered consumer, by id.
    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        lock(&self.shared.consumers).values().cloned().collect()
    }
}

fn writer(s: &Shared, rx: &Receiver<Msg>) {
    let mut last_retention = Instant::now();
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut events = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Event(e, durable) => events.push((*e, durable)),
                Msg::Flush(done) => flushes.push(done),
            }
            next = if events.len() < GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !events.is_empty() {
            append_group(s, events);
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        if last_retention.elapsed() >= RETENTION_EVERY {
            last_retention = Instant::now();
            let removed = lock(&s.outbox).apply_retention(now_ms());
            s.counters
                .removed_by_retention
                .fetch_add(removed, Ordering::Relaxed);
        }
    }
}

/// Tells every waiting caller of the group whether its event is stored.
fn answer(waiting: Vec<Option<Durable>>, stored: bool) {
    for d in waiting.into_iter().flatten() {
        let _ = d.send(stored);
    }
}

fn append_group(s: &Shared, queued: Vec<(Event, Option<Durable>)>) {
    let mut payloads: Vec<Vec<u8>> = Vec::with_capacity(queued.len());
    let mut events = Vec::with_capacity(queued.len());
    let mut waiting = Vec::with_capacity(queued.len());
    for (e, durable) in queued {
        match serde_json::to_vec(&e) {
            Ok(p) if p.len() <= super::segment::MAX_PAYLOAD => {
                payloads.push(p);
                events.push(e);
                waiting.push(durable);
            }
            _ => {
                s.counters
                    .dropped_write_failed
                    .fetch_add(1, Ordering::Relaxed);
                answer(vec![durable], false);
            }
        }
    }
    if events.is_empty() {
        return;
    }
    let t0 = Instant::now();
    let appended = lock(&s.outbox).append(now_ms(), &payloads);
    let c = &s.counters;
    c.append_ns
        .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    let first = match appended {
        Ok(first) => first,
        Err(e) => {
            tracing::error!(error = %e, events = events.len(), "event outbox append failed; events dropped");
            c.dropped_write_failed
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            answer(waiting, false);
            return;
        }
    };
    c.groups.fetch_add(1, Ordering::Relaxed);
    c.appended.fetch_add(events.len() as u64, Ordering::Relaxed);
    let mut ring = lock(&s.ring);
    for (i, (event, json)) in events.into_iter().zip(payloads).enumerate() {
        ring.push_back(Stored {
            seq: first + i as u64,
            event: Arc::new(event),
            json: String::from_utf8(json).unwrap_or_default().into(),
        });
    }
    while ring.len() > RING {
        ring.pop_front();
    }
    let head = ring.back().map_or(first, |r| r.seq + 1);
    drop(ring);
    s.head.send_replace(head);
    // Answered once consumers can see them too.
    answer(waiting, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::outbox::{Outbox, Retention};
    use hourglass_wal::fs::{FaultyFs, Fs};

    fn event(source: String, n: u64) -> Event {
        Event::pushed(&source, format!("{source}-{n}"), n)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn committed_events_survive_a_crash_that_drops_unsynced_writes() {
        let faulty = Arc::new(FaultyFs::new());
        let fs: Arc<dyn Fs> = Arc::clone(&faulty) as Arc<dyn Fs>;
        let dir = std::path::Path::new("/d/events");
        let (o, rec) = Outbox::open(Arc::clone(&fs), dir, Retention::default()).unwrap();
        let bus = Bus::start(o, &rec, 100);
        let (senders, each) = (8, 25);
        let tasks: Vec<_> = (0..senders)
            .map(|s| {
                let bus = bus.clone();
                tokio::spawn(async move {
                    for n in 1..=each {
                        assert!(bus.commit(event(format!("s{s}"), n)).await);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let groups = bus.counters().groups.load(Ordering::Relaxed);
        println!("{} events in {groups} fsynced groups", senders * each);
        // Power loss right after the last acknowledgement.
        faulty.crash();
        faulty.restart();
        let (o, rec) = Outbox::open(fs, dir, Retention::default()).unwrap();
        assert_eq!(rec.records, senders * each);
        let got = o.read(1, 1000).unwrap();
        let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=senders * each).collect::<Vec<_>>());
        let mut per_source: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for r in got {
            let e: Event = serde_json::from_slice(&r.payload).unwrap();
            let c = e.metrics_collected;
            per_source
                .entry(c.source_id)
                .or_default()
                .push(c.metrics_count);
        }
        assert_eq!(per_source.len(), senders as usize);
        for counts in per_source.values() {
            assert_eq!(counts, &(1..=each).collect::<Vec<_>>(), "in order, once");
        }
    }

    #[tokio::test]
    async fn a_failed_fsync_is_reported_to_the_waiting_batch() {
        let faulty = Arc::new(FaultyFs::new());
        let fs: Arc<dyn Fs> = Arc::clone(&faulty) as Arc<dyn Fs>;
        let (o, rec) = Outbox::open(fs, std::path::Path::new("/e"), Retention::default()).unwrap();
        let bus = Bus::start(o, &rec, 100);
        assert!(bus.commit(event("a".into(), 1)).await);
        faulty.fail_next_syncs(1);
        assert!(!bus.commit(event("a".into(), 2)).await);
        assert!(bus.commit(event("a".into(), 3)).await);
        assert_eq!(
            bus.counters().unconfirmed_commits.load(Ordering::Relaxed),
            1
        );
        assert_eq!(bus.read(1, 10).unwrap().len(), 2);
    }
}
