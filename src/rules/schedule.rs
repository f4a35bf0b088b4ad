//! When a group evaluates: a fixed phase per group (a hash of its file and
//! name, as Prometheus spreads groups over their interval) and slots on
//! the interval grid shifted by it. Skipped slots are counted, never
//! caught up.

use hourglass_storage::Labels;

/// The group's phase within its interval (ms).
pub fn offset_ms(file: &str, name: &str, interval_ms: i64) -> i64 {
    if interval_ms <= 0 {
        return 0;
    }
    let h = Labels::from_pairs([("file", file), ("name", name)]).stable_hash();
    (h % interval_ms as u64) as i64
}

/// The latest slot at or before `t_ms`.
pub fn slot(t_ms: i64, offset_ms: i64, interval_ms: i64) -> i64 {
    let a = t_ms - offset_ms;
    a - a.rem_euclid(interval_ms) + offset_ms
}

/// Slots missed when the evaluation for `due` starts at `now` (both ms):
/// the next slot to run and how many were skipped.
pub fn next_due(due: i64, now: i64, interval_ms: i64) -> (i64, u64) {
    if now < due + interval_ms {
        return (due, 0);
    }
    let behind = (now - due) / interval_ms;
    (due + behind * interval_ms, behind as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_on_the_shifted_grid() {
        let off = offset_ms("f.yml", "g", 15_000);
        assert!((0..15_000).contains(&off));
        assert_eq!(off, offset_ms("f.yml", "g", 15_000), "deterministic");
        let s = slot(1_000_000_123, off, 15_000);
        assert_eq!((s - off).rem_euclid(15_000), 0);
        assert!(s <= 1_000_000_123 && s > 1_000_000_123 - 15_000);
        assert_eq!(next_due(30_000, 31_000, 15_000), (30_000, 0));
        assert_eq!(next_due(30_000, 61_000, 15_000), (60_000, 2));
    }
}
