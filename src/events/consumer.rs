//! A consumer's cursor over the bus: it pulls events from its own
//! position, filtered, waiting for the head to move. Its buffer is what
//! arrived while it was away (between two reads): once that exceeds the
//! bound, the cursor jumps to the head and yields an overflow telling how
//! many events were skipped and the position to resume from (over
//! `?since=`), so a slow consumer costs collection nothing. Replaying
//! history from an old position is not an overflow.

use super::bus::{Bus, ReadError, Registration, Stored};
use super::model::Filter;
use hourglass_wal::lock::lock;
use std::sync::atomic::Ordering;
use tokio::sync::watch;

/// What a consumer gets next.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event that passed the filter.
    Event(Stored),
    /// Events skipped because the consumer fell too far behind.
    Overflow {
        /// How many (unfiltered) events were skipped.
        missed: u64,
        /// The first skipped position, to resume from.
        resume_from: u64,
    },
}

/// A consumer's position and filter.
#[derive(Debug)]
pub struct Cursor {
    bus: Bus,
    position: u64,
    filter: Filter,
    max_lag: u64,
    head: watch::Receiver<u64>,
    /// The head when it last read.
    seen_head: u64,
    reg: Registration,
}

impl Cursor {
    /// A cursor at `from` (the head when `None`), after checking it is
    /// still kept.
    pub fn new(
        bus: &Bus,
        kind: &'static str,
        peer: String,
        filter: Filter,
        from: Option<u64>,
        max_lag: u64,
    ) -> Result<Cursor, ReadError> {
        let head = bus.watch_head();
        let seen_head = bus.head();
        let position = match from {
            Some(p) => {
                bus.check_position(p)?;
                p
            }
            None => bus.head(),
        };
        let reg = bus.register(kind, peer, format!("{filter:?}"), position);
        Ok(Cursor {
            bus: bus.clone(),
            position,
            filter,
            max_lag: max_lag.max(1),
            head,
            seen_head,
            reg,
        })
    }

    /// The next position it reads.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Replaces the filter (and moves to `from` when given).
    pub fn refilter(&mut self, filter: Filter, from: Option<u64>) -> Result<(), ReadError> {
        if let Some(p) = from {
            self.bus.check_position(p)?;
            self.position = p;
        }
        *lock(&self.reg.consumer.filter) = format!("{filter:?}");
        self.filter = filter;
        self.reg
            .consumer
            .position
            .store(self.position, Ordering::Relaxed);
        Ok(())
    }

    /// Notes events delivered up to (not including) `position`.
    pub fn delivered(&self, n: u64) {
        self.reg.consumer.delivered.fetch_add(n, Ordering::Relaxed);
    }

    /// Up to `max` items, waiting until there is at least one; none when
    /// the server is stopping.
    pub async fn next(&mut self, max: usize) -> Vec<Item> {
        loop {
            if self.bus.is_closing() {
                return Vec::new();
            }
            let head = *self.head.borrow_and_update();
            let arrived = head.saturating_sub(self.seen_head);
            self.seen_head = head;
            if arrived > self.max_lag && head > self.position {
                return vec![self.skip_to(head)];
            }
            if self.position < head {
                match self.bus.read(self.position, max) {
                    Ok(events) => {
                        let Some(last) = events.last() else {
                            // Nothing readable up to the head (a damaged
                            // stretch): move on rather than spin.
                            self.set_position(head);
                            continue;
                        };
                        self.set_position(last.seq + 1);
                        let items: Vec<Item> = events
                            .into_iter()
                            .filter(|s| self.filter.matches(s.collected()))
                            .map(Item::Event)
                            .collect();
                        if !items.is_empty() {
                            return items;
                        }
                        continue;
                    }
                    Err(ReadError::Expired { oldest, .. }) => {
                        return vec![self.skip_to(oldest)];
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event consumer cannot read; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            if self.head.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn set_position(&mut self, p: u64) {
        self.position = p;
        self.reg.consumer.position.store(p, Ordering::Relaxed);
    }

    fn skip_to(&mut self, to: u64) -> Item {
        let missed = to - self.position;
        let resume_from = self.position;
        self.reg
            .consumer
            .dropped
            .fetch_add(missed, Ordering::Relaxed);
        self.set_position(to);
        Item::Overflow {
            missed,
            resume_from,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::model::Event;
    use crate::events::outbox::{Outbox, Retention};
    use hourglass_wal::fs::{FaultyFs, Fs};
    use std::sync::Arc;

    fn bus(buffer: u64) -> Bus {
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::new());
        let (o, rec) = Outbox::open(fs, std::path::Path::new("/e"), Retention::default()).unwrap();
        Bus::start(o, &rec, buffer)
    }

    fn emit(bus: &Bus, source: &str, n: usize) {
        for _ in 0..n {
            bus.emit(Event::pushed(source, "b".into(), 1));
        }
        bus.flush();
    }

    fn seqs(items: &[Item]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Event(s) => Some(s.seq),
                Item::Overflow { .. } => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_consumer_away_past_its_buffer_is_told_what_it_missed() {
        let bus = bus(10);
        let mut c = Cursor::new(&bus, "test", String::new(), Filter::default(), None, 10).unwrap();
        emit(&bus, "a", 5);
        assert_eq!(seqs(&c.next(100).await), [1, 2, 3, 4, 5]);
        // Away while 30 arrive: more than its buffer of 10.
        emit(&bus, "a", 30);
        match c.next(100).await.as_slice() {
            [
                Item::Overflow {
                    missed,
                    resume_from,
                },
            ] => {
                assert_eq!((*missed, *resume_from), (30, 6));
            }
            other => panic!("expected an overflow, got {other:?}"),
        }
        emit(&bus, "a", 2);
        assert_eq!(seqs(&c.next(100).await), [36, 37]);
        // Resuming where the overflow said gets the missed events back.
        let mut again =
            Cursor::new(&bus, "test", String::new(), Filter::default(), Some(6), 10).unwrap();
        let got = seqs(&again.next(1000).await);
        assert_eq!(
            got,
            (6..=37).collect::<Vec<_>>(),
            "history is not an overflow"
        );
        let listed = bus.consumers();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].dropped.load(Ordering::Relaxed), 30);
    }

    #[tokio::test]
    async fn a_position_retention_removed_is_refused_and_a_cursor_moves_past_it() {
        let fs: Arc<dyn Fs> = Arc::new(FaultyFs::new());
        let r = Retention {
            max_age_ms: 0,
            max_bytes: 1,
            segment_bytes: 64,
        };
        let (mut o, _) = Outbox::open(Arc::clone(&fs), std::path::Path::new("/e"), r).unwrap();
        for i in 0..4 {
            o.append(i, &[b"{}".to_vec(), b"{}".to_vec()]).unwrap();
        }
        assert_eq!(o.apply_retention(10), 6);
        drop(o);
        let (o, rec) = Outbox::open(fs, std::path::Path::new("/e"), r).unwrap();
        let bus = Bus::start(o, &rec, 100);
        let e = Cursor::new(&bus, "t", String::new(), Filter::default(), Some(2), 100).unwrap_err();
        assert_eq!(
            e,
            ReadError::Expired {
                asked: 2,
                oldest: 7
            }
        );
        assert!(e.to_string().contains("no longer kept"), "{e}");
        assert!(Cursor::new(&bus, "t", String::new(), Filter::default(), Some(7), 100).is_ok());
    }

    #[tokio::test]
    async fn filters_skip_events_and_positions_are_checked() {
        let bus = bus(1000);
        emit(&bus, "a", 2);
        emit(&bus, "b", 2);
        let mut f = Filter::default();
        f.add("source_id", "b").unwrap();
        let mut c = Cursor::new(&bus, "test", String::new(), f, Some(1), 1000).unwrap();
        assert_eq!(seqs(&c.next(100).await), [3, 4]);
        let e = Cursor::new(&bus, "t", String::new(), Filter::default(), Some(9), 1).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::Future {
                    asked: 9,
                    newest: 4
                }
            ),
            "{e}"
        );
        bus.close();
        assert!(c.next(10).await.is_empty(), "closing ends the stream");
    }
}
