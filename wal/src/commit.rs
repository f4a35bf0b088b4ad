//! Group commit: threads waiting for durability elect one of themselves to
//! write and fsync for all, and the others park until an fsync covers them.
//!
//! Whoever finds no round running leads one, so a lone appender syncs its
//! own record with no hand-off to another thread. A leader whose round
//! leaves waiters behind (they appended during its fsync) runs one more
//! round for them, then hands over by waking one of those it leaves behind.
//! Otherwise only covered waiters are woken, so nobody wakes to find it
//! must wait again. A wake-up costs several microseconds of kernel time, so
//! the woken help: each wakes two more on its way out, spreading the work
//! over every core. And before taking the buffer a leader yields while woken
//! appenders are still arriving, so that one fsync covers them too.

use crate::error::{Error, Result};
use crate::lock::lock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Durability bookkeeping shared by appenders, `sync` callers and the
/// interval syncer.
pub(crate) struct Commit {
    state: Mutex<State>,
    /// Copy of `State::upto` that woken waiters check without the lock.
    upto: AtomicU64,
    /// Covered waiters not yet unparked; a lock of its own so that draining
    /// it never holds up appenders registering as waiters.
    to_wake: Mutex<Vec<Thread>>,
    /// Counts registrations as waiters, so a leader can tell whether
    /// appenders are still arriving.
    arrivals: AtomicU64,
    /// How long the last round's write and fsync took, in nanoseconds.
    last_round_nanos: AtomicU64,
    /// How many waiters the last round covered.
    last_covered: AtomicU64,
    /// Copy of `State::epoch` for the lock-free check.
    epoch: AtomicU64,
}

struct State {
    /// Every record with an LSN below this is durable.
    upto: u64,
    /// A round (write + fsync) is running.
    leading: bool,
    /// Parked threads and the bound each waits for; all above `upto`.
    /// Invariant: whenever the lock is released with no round running and
    /// waiters left, one of them has been unparked to lead the next round.
    waiters: Vec<Waiter>,
    failed: Option<String>,
    /// Bumped by [`Commit::reset`]: a wait begun in an older epoch waits
    /// for records the log may no longer hold.
    epoch: u64,
    /// `bases[e]`: the durable bound when epoch `e` ended. Records below it
    /// were kept by the rebuild; those above it were cut.
    bases: Vec<u64>,
}

struct Waiter {
    want: u64,
    thread: Thread,
}

/// How many others a woken waiter unparks before it returns: two makes the
/// wake-ups a tree, without queueing every woken thread on the list's lock.
const PASS_ON: usize = 2;

/// Rounds a leader may run for others after its own before handing over:
/// waking a successor costs a trip through a crowded run queue, while the
/// leader is already running; bounded, so the leader's caller is not kept
/// waiting indefinitely under steady load.
const EXTRA_ROUNDS: u32 = 1;

/// Yields in a row without an arrival that end [`Commit::gather`]: a
/// yield returns at once when this core has nothing else to run, while
/// woken appenders may still be on their way on another.
const GATHER_STALLS: u32 = 8;

impl Commit {
    /// Bookkeeping for a log whose records below `upto` are durable.
    pub(crate) fn new(upto: u64) -> Commit {
        Commit {
            state: Mutex::new(State {
                upto,
                leading: false,
                waiters: Vec::new(),
                failed: None,
                epoch: 0,
                bases: Vec::new(),
            }),
            upto: AtomicU64::new(upto),
            to_wake: Mutex::new(Vec::new()),
            arrivals: AtomicU64::new(0),
            last_round_nanos: AtomicU64::new(0),
            last_covered: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        }
    }

    /// The current epoch; an appender reads it under the writer lock, with
    /// its record, and hands it to [`Commit::wait`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Clears a failure once the log has been rebuilt after it, and starts
    /// a new epoch: waits begun before fail, since their records were cut.
    /// `upto` is the durable bound of the rebuilt log.
    pub(crate) fn reset(&self, upto: u64) -> u64 {
        let mut s = lock(&self.state);
        s.failed = None;
        let base = s.upto;
        s.bases.push(base);
        s.epoch += 1;
        s.upto = s.upto.min(upto);
        self.upto.store(s.upto, Ordering::Release);
        self.epoch.store(s.epoch, Ordering::Release);
        s.epoch
    }

    /// The verdict for a wait begun in `epoch` for records below `want`
    /// once the log has been rebuilt since.
    fn stale(s: &State, epoch: u64, want: u64) -> Result<()> {
        let base = usize::try_from(epoch)
            .ok()
            .and_then(|e| s.bases.get(e))
            .copied()
            .unwrap_or(0);
        if want <= base {
            Ok(())
        } else {
            Err(Error::Poisoned(
                "the log was rebuilt after a failure and this record was not kept".into(),
            ))
        }
    }

    /// Every record with an LSN below the result is durable.
    pub(crate) fn durable_upto(&self) -> u64 {
        self.upto.load(Ordering::Acquire)
    }

    /// Returns once every LSN below `want` is durable, running `round`
    /// whenever no other thread is. `round` writes out and fsyncs whatever
    /// has been appended and returns the bound that made durable; a failed
    /// round fails the log: this and every later wait returns an error
    /// until [`Commit::reset`], and a wait from an earlier `epoch` fails.
    pub(crate) fn wait(
        &self,
        want: u64,
        epoch: u64,
        round: impl Fn() -> Result<u64>,
    ) -> Result<()> {
        let mut parked = false;
        loop {
            if self.durable_upto() >= want && self.epoch() == epoch {
                // Covered: whoever published that removed our entry. The
                // epoch is read after the bound: the bound was reached in
                // this wait's epoch.
                self.pass_on(PASS_ON);
                return Ok(());
            }
            let mut s = lock(&self.state);
            if s.epoch != epoch {
                let me = thread::current().id();
                s.waiters.retain(|w| w.thread.id() != me);
                return Commit::stale(&s, epoch, want);
            }
            if s.upto >= want {
                drop(s);
                self.pass_on(PASS_ON);
                return Ok(());
            }
            if let Some(why) = &s.failed {
                return Err(Error::Poisoned(why.clone()));
            }
            if !s.leading {
                if parked {
                    let me = thread::current().id();
                    s.waiters.retain(|w| w.thread.id() != me);
                    parked = false;
                }
                s.leading = true;
                drop(s);
                self.lead(&round)?;
                continue;
            }
            if !parked {
                s.waiters.push(Waiter {
                    want,
                    thread: thread::current(),
                });
                self.arrivals.fetch_add(1, Ordering::Relaxed);
                parked = true;
            }
            drop(s);
            // Woken when covered, when the log fails, or to lead a round;
            // a spurious wake-up just goes round the loop again.
            thread::park();
        }
    }

    /// Runs this thread's round as leader, then, if others appended during
    /// it, up to [`EXTRA_ROUNDS`] more for them before handing over.
    fn lead(&self, round: &impl Fn() -> Result<u64>) -> Result<()> {
        let mut extra = EXTRA_ROUNDS;
        loop {
            self.gather();
            let started = Instant::now();
            let result = round();
            let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.last_round_nanos.store(took, Ordering::Relaxed);
            let mut s = lock(&self.state);
            let covered = match &result {
                Ok(bound) => self.advance(&mut s, *bound),
                Err(e) => self.fail(&mut s, e),
            };
            self.last_covered
                .store(covered.len() as u64, Ordering::Relaxed);
            if result.is_ok() && extra > 0 && !s.waiters.is_empty() {
                extra -= 1;
                drop(s);
                // Seed the wake-ups; the woken spread them while this
                // thread writes and fsyncs again, with no hand-off between.
                lock(&self.to_wake).extend(covered);
                self.pass_on(PASS_ON);
                continue;
            }
            s.leading = false;
            let next = successor(&s);
            drop(s);
            self.wake(next, covered);
            // Only the first round was this thread's own; a later failure is
            // reported to those it was for.
            return if extra == EXTRA_ROUNDS {
                result.map(drop)
            } else {
                Ok(())
            };
        }
    }

    /// Records that every LSN below `bound` is durable (an `always`
    /// appender's own fsync) and wakes the waiters that covers.
    pub(crate) fn publish(&self, bound: u64) {
        let mut s = lock(&self.state);
        let covered = self.advance(&mut s, bound);
        let next = successor(&s);
        drop(s);
        self.wake(next, covered);
    }

    /// Raises the durable bound; returns the waiters it covers, removed
    /// from the list, for the caller to unpark once the lock is released.
    fn advance(&self, s: &mut State, bound: u64) -> Vec<Thread> {
        if bound <= s.upto {
            return Vec::new();
        }
        s.upto = bound;
        let mut covered = Vec::new();
        s.waiters.retain(|w| {
            let done = w.want <= bound;
            if done {
                covered.push(w.thread.clone());
            }
            !done
        });
        self.upto.store(bound, Ordering::Release);
        covered
    }

    /// Marks the log failed; returns every waiter, to be told.
    fn fail(&self, s: &mut State, e: &Error) -> Vec<Thread> {
        s.failed.get_or_insert_with(|| e.to_string());
        s.waiters.drain(..).map(|w| w.thread).collect()
    }

    /// Unparks the next leader first, so its write and fsync overlap the
    /// wake-ups, then the covered waiters, with the help of each woken one.
    fn wake(&self, next: Option<Thread>, covered: Vec<Thread>) {
        if let Some(t) = next {
            t.unpark();
        }
        // Until the list is empty, so none is left behind, including any a
        // continued round left to woken helpers.
        lock(&self.to_wake).extend(covered);
        self.pass_on(usize::MAX);
    }

    /// Lets appenders that are runnable, typically those the last round
    /// woke, append before this round takes the buffer, so that it covers
    /// them too: on a busy machine larger rounds mean fewer fsyncs for the
    /// same records.
    ///
    /// The disk idles meanwhile, so it stops once [`GATHER_STALLS`] yields
    /// in a row saw nobody arrive, and after twice as long as the last
    /// round took at most. A lone appender, whose rounds cover nobody else,
    /// never yields.
    fn gather(&self) {
        if self.last_covered.load(Ordering::Relaxed) == 0 {
            return;
        }
        let budget = Duration::from_nanos(
            self.last_round_nanos
                .load(Ordering::Relaxed)
                .saturating_mul(2),
        );
        let started = Instant::now();
        let mut seen = self.arrivals.load(Ordering::Relaxed);
        let mut stalls = 0;
        while stalls < GATHER_STALLS && started.elapsed() < budget {
            thread::yield_now();
            let now = self.arrivals.load(Ordering::Relaxed);
            if now == seen && lock(&self.to_wake).is_empty() {
                stalls += 1;
            } else {
                stalls = 0;
            }
            seen = now;
        }
    }

    /// Unparks up to `n` threads from the list.
    fn pass_on(&self, n: usize) {
        for _ in 0..n {
            let Some(t) = lock(&self.to_wake).pop() else {
                return;
            };
            t.unpark();
        }
    }
}

/// The waiter to unpark to lead the next round, if one is needed and none
/// is running.
fn successor(s: &State) -> Option<Thread> {
    if s.leading {
        return None;
    }
    s.waiters.first().map(|w| w.thread.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A log stand-in: LSNs handed out, and how far its "disk" is synced.
    #[derive(Default)]
    struct FakeLog {
        next: AtomicU64,
        synced: AtomicU64,
        fsyncs: AtomicUsize,
    }

    impl FakeLog {
        fn new() -> FakeLog {
            // LSNs start at 1: every one below is trivially durable.
            FakeLog {
                next: AtomicU64::new(1),
                synced: AtomicU64::new(1),
                ..FakeLog::default()
            }
        }

        fn append(&self) -> u64 {
            self.next.fetch_add(1, Ordering::SeqCst)
        }

        /// Makes everything appended so far durable, slowly, like a disk.
        fn fsync(&self) -> u64 {
            let bound = self.next.load(Ordering::SeqCst);
            thread::sleep(Duration::from_micros(100));
            self.synced.fetch_max(bound, Ordering::SeqCst);
            self.fsyncs.fetch_add(1, Ordering::SeqCst);
            bound
        }
    }

    fn injected() -> Error {
        Error::Io {
            path: "/fake".into(),
            source: std::io::Error::other("injected fsync failure"),
        }
    }

    /// Runs `f` on another thread and fails if it does not finish in time.
    fn within_a_minute(f: impl FnOnce() + Send + 'static) {
        let (done, finished) = std::sync::mpsc::channel();
        thread::spawn(move || {
            f();
            let _ = done.send(());
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("waiters hung");
    }

    #[test]
    fn a_lone_waiter_runs_its_own_round() {
        let c = Commit::new(1);
        let me = thread::current().id();
        let ran_on = Mutex::new(None);
        c.wait(2, 0, || {
            *ran_on.lock().unwrap() = Some(thread::current().id());
            Ok(2)
        })
        .unwrap();
        assert_eq!(*ran_on.lock().unwrap(), Some(me));
        assert_eq!(c.durable_upto(), 2);
        c.wait(2, 0, || panic!("already durable: no round"))
            .unwrap();
    }

    #[test]
    fn concurrent_waiters_share_rounds_and_return_only_once_durable() {
        within_a_minute(|| {
            let c = Commit::new(1);
            let log = FakeLog::new();
            let (threads, each) = (64, 50);
            thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for _ in 0..each {
                            let lsn = log.append();
                            c.wait(lsn + 1, 0, || Ok(log.fsync())).unwrap();
                            assert!(log.synced.load(Ordering::SeqCst) > lsn);
                        }
                    });
                }
            });
            let appends = threads * each;
            assert_eq!(c.durable_upto(), appends as u64 + 1);
            let fsyncs = log.fsyncs.load(Ordering::SeqCst);
            assert!(
                fsyncs < appends / 4,
                "{fsyncs} fsyncs for {appends} appends"
            );
        });
    }

    #[test]
    fn a_failed_round_fails_its_waiters_and_every_later_wait() {
        within_a_minute(|| {
            let c = Commit::new(1);
            let log = FakeLog::new();
            let start = std::sync::Barrier::new(16);
            let results: Vec<Result<()>> = thread::scope(|s| {
                let handles: Vec<_> = (0..16)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            let lsn = log.append();
                            c.wait(lsn + 1, 0, || {
                                // Long enough for the others to queue up.
                                thread::sleep(Duration::from_millis(20));
                                Err(injected())
                            })
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let io = results
                .iter()
                .filter(|r| matches!(r, Err(Error::Io { .. })))
                .count();
            let poisoned = results
                .iter()
                .filter(|r| matches!(r, Err(Error::Poisoned(why)) if why.contains("injected")))
                .count();
            assert_eq!((io, poisoned), (1, 15), "{results:?}");
            assert!(matches!(
                c.wait(100, 0, || panic!("a failed log runs no rounds")),
                Err(Error::Poisoned(_))
            ));
        });
    }

    #[test]
    fn own_fsyncs_and_group_rounds_mixed_never_hang_or_ack_early() {
        // The `always` policy publishes its appenders' own fsyncs while
        // `sync` callers wait in rounds: a published bound can cover a
        // waiter just elected to lead, which must then not strand the rest.
        within_a_minute(|| {
            let c = Commit::new(1);
            let log = FakeLog::new();
            thread::scope(|s| {
                for t in 0..12 {
                    let (c, log) = (&c, &log);
                    s.spawn(move || {
                        for _ in 0..100 {
                            let want = match t % 3 {
                                0 => log.next.load(Ordering::SeqCst),
                                _ => log.append() + 1,
                            };
                            if t % 3 == 1 {
                                c.publish(log.fsync());
                            } else {
                                c.wait(want, 0, || Ok(log.fsync())).unwrap();
                            }
                            assert!(log.synced.load(Ordering::SeqCst) >= want);
                        }
                    });
                }
            });
        });
    }
}
