//! CPU time of the bench process, the figure to trust on a loaded machine
//! (wall clocks measure the scheduler there). Linux only: `None` elsewhere.

/// CPU seconds of this process (all threads) so far: utime + stime of
/// `/proc/self/stat`, in clock ticks of 10 ms (Linux's `USER_HZ`).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields overall.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
