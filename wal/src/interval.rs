//! The background fsync of [`crate::SyncPolicy::Interval`]: a thread that
//! runs a callback every tick until stopped.

use crate::lock::lock;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts a thread that calls `tick` every `every`.
    pub(crate) fn spawn(
        every: Duration,
        tick: impl Fn() + Send + 'static,
    ) -> std::io::Result<Ticker> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let handle = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("wal-sync".into())
                .spawn(move || {
                    let (flag, cv) = &*stop;
                    let mut stopped = lock(flag);
                    while !*stopped {
                        let (g, timeout) = cv
                            .wait_timeout(stopped, every)
                            .unwrap_or_else(PoisonError::into_inner);
                        stopped = g;
                        if timeout.timed_out() && !*stopped {
                            // Not under the flag's lock: a tick may take an fsync.
                            drop(stopped);
                            tick();
                            stopped = lock(flag);
                        }
                    }
                })?
        };
        Ok(Ticker {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it; a tick in progress finishes first.
    pub(crate) fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let (flag, cv) = &*self.stop;
            *lock(flag) = true;
            cv.notify_all();
            let _ = handle.join();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
