//! Number literals with Go's `strconv` rules as Prometheus applies them:
//! an integer parse first (base from the prefix, so `010` is octal), then a
//! float parse.

/// Parses the text of a number token. `Err` carries the reason.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    // Go allows `_` only between digits (or after `0x`); the lexer already
    // refused every other misplacement but a doubled one.
    if text.contains("__") {
        return Err(format!("error parsing number {text:?}"));
    }
    let stripped;
    let text = if text.contains('_') {
        stripped = text.replace('_', "");
        stripped.as_str()
    } else {
        text
    };
    if let Some(v) = parse_int(text) {
        return Ok(v as f64);
    }
    let is_hex = text.len() > 1 && matches!(&text[..2], "0x" | "0X");
    if is_hex || text.is_empty() {
        return Err(format!("error parsing number {text:?}"));
    }
    let v: f64 = text
        .parse()
        .map_err(|_| format!("error parsing number {text:?}"))?;
    if v.is_infinite() {
        return Err(format!("number {text:?} is out of range"));
    }
    Ok(v)
}

/// Go's `ParseInt(s, 0, 64)`: `0x` hex, leading `0` octal, else decimal.
fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.is_empty());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return i64::from_str_radix(&text[1..], 8).ok();
    }
    text.parse().ok()
}

/// Prints a float so that [`parse_number`] (or the `Inf`/`NaN` words) reads
/// back the same value: no exponent, shortest round-trip digits.
pub(crate) fn format_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_integer_rules() {
        assert_eq!(parse_number("010"), Ok(8.0));
        assert_eq!(parse_number("09"), Ok(9.0));
        assert_eq!(parse_number("0x1f"), Ok(31.0));
        assert_eq!(parse_number("1e3"), Ok(1000.0));
        assert_eq!(parse_number(".5"), Ok(0.5));
        assert_eq!(parse_number("5."), Ok(5.0));
        assert!(parse_number("0x").is_err());
        assert!(parse_number("1e").is_err());
        assert!(parse_number("1e400").is_err());
        assert_eq!(parse_number("1_000"), Ok(1000.0));
        assert_eq!(parse_number("0x_ff"), Ok(255.0));
        assert_eq!(parse_number("0_10"), Ok(8.0));
        assert_eq!(parse_number("5.e3"), Ok(5000.0));
        assert!(parse_number("1__0").is_err());
    }

    #[test]
    fn printing_round_trips() {
        for v in [
            0.1,
            1e300,
            1e-300,
            -2.5,
            123456789.0,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(parse_number(&format_number(v)), Ok(v), "{v}");
        }
    }
}
