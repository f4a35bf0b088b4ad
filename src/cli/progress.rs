//! Progress of a long offline command on stderr: a bar redrawn in place
//! on a terminal, otherwise a plain line at every tenth of the way, so
//! logs stay short; and the closing summary of a compaction.

use hourglass_storage::Storage;
use hourglass_storage::compact::CompactStats;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

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
        self.set_with(done, total, "");
    }

    /// As [`Progress::set`], with a detail after the count (bytes so far).
    pub fn set_with(&mut self, done: u64, total: u64, detail: &str) {
        self.done = done;
        self.total = total.max(done);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
            let bar: String = (0..WIDTH)
                .map(|i| if i < filled { '#' } else { ' ' })
                .collect();
            let _ = write!(
                err,
                "\r[{bar}] {}/{} {} {detail}\x1b[K",
                self.done, self.total, self.what
            );
            let _ = err.flush();
        } else {
            let tenth = (self.done * 10).checked_div(self.total).unwrap_or(10);
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                let _ = writeln!(
                    err,
                    "progress: {}/{} {} {detail} ({:.1}s)",
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

/// What the partitions hold, before or after.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Figures {
    pub(crate) partitions: usize,
    pub(crate) series: u64,
    pub(crate) samples: u64,
    pub(crate) bytes: u64,
}

impl Figures {
    pub(crate) fn of(storage: &Storage) -> Figures {
        let parts = storage.partitions();
        Figures {
            partitions: parts.len(),
            series: parts.iter().map(|p| p.meta().series).sum(),
            samples: parts.iter().map(|p| p.meta().samples).sum(),
            bytes: parts.iter().map(|p| p.bytes()).sum(),
        }
    }
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}

/// The closing summary, on standard output.
pub(crate) fn summary(
    before: &Figures,
    after: &Figures,
    stats: &CompactStats,
    took: Duration,
) -> String {
    let per = |f: &Figures| {
        if f.samples == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", f.bytes as f64 / f.samples as f64)
        }
    };
    let rate = stats.counts.samples_in as f64 / stats.elapsed.as_secs_f64().max(1e-9);
    format!(
        "partitions: {} -> {}\nseries:     {} -> {}\nsamples:    {} -> {}\nbytes:      {} -> {} ({} -> {} bytes/sample)\n\
         compacted:  {} groups, {} partitions into {}, {:.1}M samples/s\ntime:       {:.2?}\n",
        before.partitions,
        after.partitions,
        before.series,
        after.series,
        before.samples,
        after.samples,
        mib(before.bytes),
        mib(after.bytes),
        per(before),
        per(after),
        stats.groups,
        stats.partitions_in,
        stats.partitions_out,
        rate / 1e6,
        took
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_states_before_and_after() {
        let before = Figures {
            partitions: 30,
            series: 3000,
            samples: 1_000_000,
            bytes: 800_000,
        };
        let after = Figures {
            partitions: 2,
            series: 150,
            samples: 900_000,
            bytes: 450_000,
        };
        let stats = CompactStats {
            groups: 2,
            partitions_in: 30,
            partitions_out: 2,
            elapsed: Duration::from_millis(50),
            ..CompactStats::default()
        };
        let s = summary(&before, &after, &stats, Duration::from_millis(60));
        assert!(s.contains("partitions: 30 -> 2"), "{s}");
        assert!(s.contains("samples:    1000000 -> 900000"), "{s}");
        assert!(s.contains("(0.800 -> 0.500 bytes/sample)"), "{s}");
        assert!(s.contains("2 groups, 30 partitions into 2"), "{s}");
    }
}
