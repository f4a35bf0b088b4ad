//! Progress of long offline commands: a bar redrawn in place on a
//! terminal, plain lines (at most one a second) otherwise, and the
//! closing summary.

use hourglass_storage::Storage;
use hourglass_storage::compact::CompactStats;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

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

/// A progress reporter on standard error.
pub(crate) struct Progress {
    what: &'static str,
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    pub(crate) fn new(what: &'static str) -> Progress {
        Progress {
            what,
            tty: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// Reports `done` of `total` steps.
    pub(crate) fn update(&mut self, done: usize, total: usize, detail: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            const WIDTH: usize = 30;
            let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
            let _ = write!(
                err,
                "\r{} [{}{}] {done}/{total} {detail}\x1b[K",
                self.what,
                "#".repeat(filled),
                ".".repeat(WIDTH - filled)
            );
            if done == total {
                let _ = writeln!(err);
            }
        } else if done == total
            || self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            let _ = writeln!(err, "{}: {done}/{total} {detail}", self.what);
            self.last = Some(Instant::now());
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
