//! Durations as Prometheus writes them: `1y2w3d4h5m6s7ms`, units in
//! descending order, each at most once. A year is 365 days, a week 7 days.

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
const MAX_MS: i64 = i64::MAX / 1_000_000;

/// Parses a duration token into milliseconds. Zero is refused, as in
/// Prometheus, because a zero range or step is always a mistake.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("not a valid duration string: {text:?}");
    let mut rest = text;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let (num, after) = rest.split_at(digits);
        let unit_len = if after.starts_with("ms") {
            2
        } else {
            after.chars().next().map_or(0, char::len_utf8)
        };
        let (unit, after) = after.split_at(unit_len);
        let idx = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .map(|i| i + next_unit)
            .ok_or_else(invalid)?;
        next_unit = idx + 1;
        let n: i64 = num
            .parse()
            .map_err(|_| "duration out of range".to_owned())?;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration out of range".to_owned())?;
        rest = after;
    }
    if total == 0 {
        return Err("duration must be greater than 0".to_owned());
    }
    if total > MAX_MS {
        return Err("duration out of range".to_owned());
    }
    Ok(total)
}

/// Seconds (from a plain number such as `[300]`) to whole milliseconds,
/// truncated as Prometheus does.
pub(crate) fn seconds_to_ms(secs: f64) -> Result<i64, String> {
    let ms = (secs * 1000.0).trunc();
    // i64::MAX as f64 rounds up, so compare strictly.
    if !ms.is_finite() || ms.abs() > MAX_MS as f64 {
        return Err("duration out of range".to_owned());
    }
    Ok(ms as i64)
}

/// Prints milliseconds in the compound form (`90000` → `1m30s`).
/// Zero prints as `0`: only a plain number can spell a zero range.
pub(crate) fn format_duration(ms: i64) -> String {
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
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("1h1h").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("99999999999999y").is_err());
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
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
        }
        assert_eq!(format_duration(90_000), "1m30s");
    }
}
