//! Writes weeks of node-exporter-like data (`benches/support/node.rs`, the
//! model of the compaction benchmark) straight into day partitions of a
//! data directory, as compaction would leave them, without ingesting it:
//! the input of the downsampling run (`benches/downsample_month.sh`).
//!
//! `month_of_days DIR SERIES DAYS PROFILE`, PROFILE `idle` (scrape-aligned,
//! 70 % of the series constant) or `busy` (±3 ms jitter, every series
//! moving): DAYS whole UTC days of SERIES series 15 s apart, the last
//! ending at today's midnight (UTC), and one `marker` sample a minute
//! after it, so that the store's "now" makes exactly DAYS − 7 days older
//! than 7 days.

#[path = "../benches/support/node.rs"]
mod node;
#[path = "../benches/support/mod.rs"]
mod support;

use hourglass_storage::internals::DayWriter;
use hourglass_storage::{Labels, Sample};
use node::{Values, labels};
use std::error::Error;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use support::Rng;

const DAY: i64 = 86_400_000;
const STEP: i64 = 15_000;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, series, days, profile] = args.as_slice() else {
        eprintln!("usage: month_of_days DIR SERIES DAYS idle|busy");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let n: usize = series
        .parse()
        .map_err(|e| format!("SERIES {series:?}: {e}"))?;
    let days: i64 = days
        .parse()
        .ok()
        .filter(|d| (1..=3660).contains(d))
        .ok_or_else(|| format!("DAYS {days:?}: a number of days from 1 to 3660"))?;
    let busy = match profile.as_str() {
        "idle" => false,
        "busy" => true,
        other => return Err(format!("PROFILE {other:?}: idle or busy").into()),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let end = now.div_euclid(DAY) * DAY;
    if now < end + 60_000 {
        return Err("run it at least a minute after midnight UTC".into());
    }
    let ls = labels(n);
    let mut vals = Values::new(n, busy);
    let mut rng = Rng(42);
    let per_day = (DAY / STEP) as usize;
    let mut samples = Vec::with_capacity(per_day);
    let t0 = Instant::now();
    let mut bytes = 0u64;
    for d in 0..days {
        let start = end - (days - d) * DAY;
        let mut w = DayWriter::new(start);
        for (i, l) in ls.iter().enumerate() {
            samples.clear();
            for k in 0..per_day as i64 {
                // ±3 ms, never before the day's start.
                let j = if busy { (rng.next() % 7) as i64 - 3 } else { 0 };
                let j = if k == 0 { j.abs() } else { j };
                samples.push(Sample::new(start + k * STEP + j, vals.next(i)));
            }
            w.push(l.clone(), &samples);
        }
        let p = w.write(&dir)?;
        let mut b = 0u64;
        for e in std::fs::read_dir(&p)? {
            b += e?.metadata()?.len();
        }
        bytes += b;
        eprintln!(
            "day {}/{days} {}: {b} bytes ({:.3} B/sample), {:.0} s",
            d + 1,
            p.file_name().unwrap_or_default().to_string_lossy(),
            b as f64 / (n * per_day) as f64,
            t0.elapsed().as_secs_f64()
        );
    }
    let mut w = DayWriter::new(end);
    w.push(
        Labels::from_pairs([("__name__", "marker"), ("job", "marker")]),
        &[Sample::new(end + 60_000, 1.0)],
    );
    w.write(&dir)?;
    let samples = n as u64 * per_day as u64 * days as u64;
    println!(
        "month_of_days: {n} series x {days} days ({profile}), {samples} samples, {bytes} bytes of day partitions \
         ({:.3} B/sample), first day {}, {:.0} s",
        bytes as f64 / samples as f64,
        end - days * DAY,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
