//! Times and durations as the Prometheus API reads and writes them.
//!
//! Times are float Unix seconds (the fraction rounded to milliseconds) or
//! RFC 3339 with any offset; durations are float seconds or a Prometheus
//! duration (`1h30m`).

use hourglass_storage::calendar::parse_rfc3339_ms;

/// The earliest time the API accepts (Prometheus's `minTime`), in ms.
pub const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
/// The latest time the API accepts (Prometheus's `maxTime`), in ms.
pub const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;
/// How clients spell those two (Go's formatting of them).
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_TEXT: &str = "292277025-08-18T07:12:54.999999999Z";

/// Parses a time parameter into Unix milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let cannot = || format!("cannot parse {s:?} to a valid timestamp");
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return Err(cannot());
        }
        let whole = secs.trunc();
        let frac_ms = ((secs - whole) * 1000.0).round();
        let ms = whole * 1000.0 + frac_ms;
        if !(MIN_TIME_MS as f64..=MAX_TIME_MS as f64).contains(&ms) {
            return Err(cannot());
        }
        return Ok(ms as i64);
    }
    match s {
        MIN_TIME_TEXT => return Ok(MIN_TIME_MS),
        MAX_TIME_TEXT => return Ok(MAX_TIME_MS),
        _ => {}
    }
    parse_rfc3339_ms(s).ok_or_else(cannot)
}

/// Parses a duration parameter into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms as i64);
    }
    hourglass_query::duration::parse_duration_ms(s)
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_seconds_round_to_milliseconds() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451.7816"), Ok(1_435_781_451_782));
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("Inf").is_err());
        assert!(parse_time("1e300").is_err());
    }

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51.781+02:00"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781999999Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2015-07-01 20:10:51Z",
            "2015-07-01T20:10:51",
            "2015-13-01T00:00:00Z",
            "2015-07-01T20:10:51.Z",
            "yesterday",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn prometheus_min_and_max_time_strings() {
        assert_eq!(parse_time(MIN_TIME_TEXT), Ok(MIN_TIME_MS));
        assert_eq!(parse_time(MAX_TIME_TEXT), Ok(MAX_TIME_MS));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert!(parse_duration("1e300").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
