//! The values of `serve`'s flags: durations, sizes, the WAL sync policy,
//! and how a duration is printed back.

use hourglass_wal::SyncPolicy;
use std::time::Duration;

/// A duration as Prometheus prints one: `15d`, `1h30m`.
pub(super) fn humanize(d: Duration) -> String {
    let mut ms = d.as_millis();
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    hourglass_query::duration::parse_duration(s).map_err(|e| e.to_string())
}

pub(super) fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("expected a positive duration, got {s:?}")),
        d => Ok(d),
    }
}

pub(super) fn parse_size(s: &str) -> Result<u64, String> {
    crate::size::parse_size(s)
}

pub(super) fn parse_sync_policy(s: &str) -> Result<SyncPolicy, String> {
    match s {
        "group" => Ok(SyncPolicy::Group),
        "always" => Ok(SyncPolicy::Always),
        "never" => Ok(SyncPolicy::Never),
        other => match hourglass_query::duration::parse_duration(other) {
            Ok(d) if !d.is_zero() => Ok(SyncPolicy::Interval(d)),
            _ => Err(format!(
                "expected group, always, never or a positive interval such as 100ms, got {other:?}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_flag() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5XB").is_err());
    }

    #[test]
    fn sync_policy_flag() {
        assert_eq!(parse_sync_policy("group"), Ok(SyncPolicy::Group));
        assert_eq!(
            parse_sync_policy("250ms"),
            Ok(SyncPolicy::Interval(std::time::Duration::from_millis(250)))
        );
        assert!(parse_sync_policy("0").is_err());
        assert!(parse_sync_policy("sometimes").is_err());
    }
}
