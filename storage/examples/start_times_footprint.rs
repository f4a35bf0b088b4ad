//! Bytes per sample on disk of cumulative counters with and without start
//! timestamps: 500 counters scraped every 15 s (±2 ms jitter) for 6 hours,
//! each restarting every 2 hours (a constant start timestamp between
//! restarts), persisted to partitions and compacted.
//! `cargo run --release -p hourglass-storage --example start_times_footprint`

use hourglass_storage::compact::CompactOptions;
use hourglass_storage::{Labels, Options, Sample, Storage, WriteBatch};
use std::error::Error;
use std::path::Path;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const H: i64 = 3_600_000;
const T0: i64 = 1_763_769_600_000;
const SERIES: usize = 500;
const HOURS: i64 = 6;

/// Sum of the file sizes under `dir`.
fn bytes_under(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)?.flatten() {
        let m = e.metadata()?;
        total += if m.is_dir() {
            bytes_under(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

/// Writes the counters (with start timestamps when `starts`), persists and
/// compacts; the partitions' bytes and the samples written.
fn run(starts: bool) -> Result<(u64, u64)> {
    let dir = tempfile::tempdir()?;
    let st = Storage::open(dir.path(), Options::default())?;
    let steps = HOURS * H / 15_000;
    let mut samples = 0u64;
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            let inst = format!("host-{i:04}:9100");
            Labels::from_pairs([
                ("__name__", "http_requests_total"),
                ("instance", inst.as_str()),
                ("job", "api"),
            ])
        })
        .collect();
    let mut values = vec![0.0f64; SERIES];
    for k in 0..steps {
        let mut b = WriteBatch::new();
        let mut sts = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let t = T0 + k * 15_000 + ((k * 7 + i as i64) % 5) - 2;
            let restart = T0 + ((t - T0) / (2 * H)) * 2 * H + i as i64;
            if t - 15_000 < restart {
                values[i] = 0.0;
            }
            values[i] += ((k * 31 + i as i64 * 17) % 23) as f64;
            b.push(l.clone(), vec![Sample::new(t, values[i])]);
            if starts {
                sts.push((l.clone(), vec![(t, restart - 1_000)]));
            }
            samples += 1;
        }
        st.append(&b)?;
        if starts {
            st.append_start_times(&sts, None)?;
        }
    }
    // Two days on, every hour written is ready to persist.
    let mut b = WriteBatch::new();
    b.push(
        Labels::from_pairs([("__name__", "tick")]),
        vec![Sample::new(T0 + 48 * H, 1.0)],
    );
    st.append(&b)?;
    st.persist()?;
    st.compact(
        &CompactOptions {
            day_after_ms: Some(H),
        },
        &mut |_| {},
    )?;
    st.flush()?;
    let bytes = bytes_under(&dir.path().join("parts"))?;
    st.close()?;
    Ok((bytes, samples))
}

fn main() -> Result<()> {
    let (plain, n) = run(false)?;
    let (with, _) = run(true)?;
    let per = |b: u64| b as f64 / n as f64;
    println!(
        "{SERIES} counters x {HOURS} h at 15 s ({n} samples), partitions after compaction:\n  \
         without start timestamps: {plain} bytes, {:.3} bytes/sample\n  \
         with start timestamps:    {with} bytes, {:.3} bytes/sample (+{:.3})",
        per(plain),
        per(with),
        per(with) - per(plain)
    );
    Ok(())
}
