//! When a target is scraped: a fixed offset inside its interval from a
//! hash of the target and of this server (so targets spread out, the phase
//! survives restarts, and replicas differ), ticks on wall-clock multiples
//! of the interval (no drift), and the timestamp a scrape gets.

use std::collections::BTreeMap;
use std::time::Duration;

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// This server's part of the phase: host name and external labels.
pub fn server_hash(hostname: &str, external_labels: &BTreeMap<String, String>) -> u64 {
    let mut s = hostname.to_string();
    for (k, v) in external_labels {
        s.push_str(&format!("{k}={v:?},"));
    }
    fnv1a(s.as_bytes())
}

/// A target's offset inside its interval, in nanoseconds.
pub fn offset_ns(identity: &str, server: u64, interval: Duration) -> u64 {
    let interval = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    (fnv1a(identity.as_bytes()) ^ server) % interval
}

/// The first tick at or after `now_ns` (Unix ns) where
/// `tick mod interval == offset`.
pub fn next_tick(now_ns: u64, interval: Duration, offset_ns: u64) -> u64 {
    let iv = u64::try_from(interval.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    let base = now_ns - now_ns % iv + offset_ns % iv;
    if base >= now_ns { base } else { base + iv }
}

/// The timestamp (ms) of a scrape meant for `ideal_ns` that started at
/// `actual_ns`: the ideal tick when the start is late by at most 10% of the
/// interval (vmagent's rule), so steady targets keep exact spacing.
/// Prometheus allows only min(2 ms, 1%), which Go's timers meet but
/// Tokio's 1 ms timer wheel on a busy machine does not.
pub fn scrape_timestamp_ms(ideal_ns: u64, actual_ns: u64, interval: Duration) -> i64 {
    let tolerance = interval.as_nanos() / 10;
    let late = u128::from(actual_ns.saturating_sub(ideal_ns));
    let chosen = if actual_ns >= ideal_ns && late <= tolerance {
        ideal_ns
    } else {
        actual_ns
    };
    i64::try_from(chosen / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix time now, in ns.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
