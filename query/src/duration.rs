//! Durations as Prometheus writes them: `1y2w3d4h5m6s7ms`, units in
//! descending order, each at most once. A year is 365 days, a week 7 days.
//! The one parser of durations for PromQL, the HTTP API, the CLI and the
//! configuration.
//!
//! Zero is a duration (`0`, `0s`), as in Prometheus's `model.ParseDuration`.
//! Where zero makes no sense the caller refuses it and says so: PromQL
//! refuses a zero duration literal ("duration must be greater than 0"),
//! the server's flags ask for a positive interval.

use std::time::Duration;

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Longest duration Prometheus can hold: Go's `time.Duration` counts
/// nanoseconds in an i64, about 292 years.
pub const MAX_MS: i64 = i64::MAX / 1_000_000;

/// A duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not the syntax of a duration.
    #[error("not a valid duration string: {input:?}: {reason}")]
    Invalid {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Longer than [`MAX_MS`].
    #[error("duration out of range: {input:?}")]
    OutOfRange {
        /// The text given.
        input: String,
    },
}

/// Parses a duration into milliseconds; zero included.
pub fn parse_duration_ms(text: &str) -> Result<i64, DurationError> {
    let err = |reason| DurationError::Invalid {
        input: text.to_owned(),
        reason,
    };
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(err("empty"));
    }
    let mut rest = text;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("expected a number"));
        }
        let (num, after) = rest.split_at(digits);
        let unit_len = if after.starts_with("ms") {
            2
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        let (unit, after) = after.split_at(unit_len);
        let idx = match UNITS.iter().position(|(u, _)| *u == unit) {
            None => return Err(err("expected a unit: ms, s, m, h, d, w or y")),
            Some(i) if i < next_unit => {
                return Err(err("units must go from largest to smallest, each once"));
            }
            Some(i) => i,
        };
        next_unit = idx + 1;
        total = num
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[idx].1))
            .and_then(|v| total.checked_add(v))
            .filter(|t| *t <= MAX_MS)
            .ok_or_else(|| DurationError::OutOfRange {
                input: text.to_owned(),
            })?;
        rest = after;
    }
    Ok(total)
}

/// Parses a duration; zero included.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    // Never negative: no sign is accepted.
    parse_duration_ms(text).map(|ms| Duration::from_millis(ms.unsigned_abs()))
}

/// Seconds (from a plain number such as `[300]`) to whole milliseconds,
/// truncated as Prometheus does.
pub fn seconds_to_ms(secs: f64) -> Result<i64, String> {
    let ms = (secs * 1000.0).trunc();
    // i64::MAX as f64 rounds up, so compare strictly.
    if !ms.is_finite() || ms.abs() > MAX_MS as f64 {
        return Err("duration out of range".to_owned());
    }
    Ok(ms as i64)
}

/// Prints milliseconds in the compound form (`90000` → `1m30s`).
/// Zero prints as `0`: only a plain number can spell a zero range.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0".to_owned();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    let mut left = ms.unsigned_abs();
    for (unit, size) in UNITS {
        let size = size as u64;
        if left >= size {
            out.push_str(&(left / size).to_string());
            out.push_str(unit);
            left %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_forms() {
        let ms = |s| parse_duration_ms(s).unwrap();
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("15d"), 15 * 86_400_000);
        assert_eq!(ms("1y"), 365 * 86_400_000);
        assert_eq!(ms("1m5s10ms"), 65_010);
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn zero_is_a_duration() {
        for zero in ["0", "0s", "0ms", "0h0m"] {
            assert_eq!(parse_duration_ms(zero), Ok(0), "{zero}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "5",
            "h",
            "1x",
            "5m1h",
            "30m1h",
            "1h1h",
            "-1s",
            "1.5h",
            "99999999999999y",
            "99999999999999999999y",
            "293y",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_duration_ms("292y"), Ok(292 * 365 * 86_400_000));
    }

    #[test]
    fn printing_round_trips() {
        for ms in [
            1,
            999,
            1000,
            90_000,
            86_400_000,
            7 * 86_400_000,
            400 * 86_400_000 + 1,
        ] {
            assert_eq!(parse_duration_ms(&format_duration(ms)), Ok(ms));
        }
        assert_eq!(format_duration(90_000), "1m30s");
    }
}
