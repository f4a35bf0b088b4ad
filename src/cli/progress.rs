//! Progress of a long offline command on stderr: a bar redrawn in place
//! on a terminal, otherwise a plain line at every tenth of the way, so
//! logs stay short.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress over a known number of steps.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    tty: bool,
    last_tenth: u64,
    started: Instant,
}

const WIDTH: u64 = 30;

impl Progress {
    /// Progress of `total` steps of `what` (e.g. "partitions").
    pub fn new(what: &'static str, total: u64) -> Progress {
        Progress {
            what,
            total,
            done: 0,
            tty: std::io::stderr().is_terminal(),
            last_tenth: 0,
            started: Instant::now(),
        }
    }

    /// Marks steps up to `done` as finished (`total` may grow meanwhile).
    pub fn set(&mut self, done: u64, total: u64) {
        self.done = done;
        self.total = total.max(done);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
            let bar: String = (0..WIDTH)
                .map(|i| if i < filled { '#' } else { ' ' })
                .collect();
            let _ = write!(err, "\r[{bar}] {}/{} {}", self.done, self.total, self.what);
            let _ = err.flush();
        } else {
            let tenth = (self.done * 10).checked_div(self.total).unwrap_or(10);
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                let _ = writeln!(
                    err,
                    "progress: {}/{} {} ({:.1}s)",
                    self.done,
                    self.total,
                    self.what,
                    self.started.elapsed().as_secs_f64()
                );
            }
        }
    }

    /// One more step finished.
    pub fn step(&mut self) {
        self.set(self.done + 1, self.total);
    }

    /// Ends the bar's line; the caller prints its summary after.
    pub fn finish(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
