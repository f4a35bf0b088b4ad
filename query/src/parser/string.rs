//! String literals: double and single quotes with Go's escapes, backticks
//! raw. Printing always uses double quotes.

/// Decodes a string token (quotes included). On error returns the byte
/// offset inside the token and the reason.
pub(crate) fn unquote(tok: &str) -> Result<String, (usize, String)> {
    let quote = tok.chars().next().unwrap_or('"');
    let body = tok
        .get(1..tok.len().saturating_sub(1))
        .ok_or((0, "malformed string".to_owned()))?;
    if quote == '`' {
        // Go drops carriage returns from raw strings.
        return Ok(body.replace('\r', ""));
    }
    if !body.contains('\\') {
        return Ok(body.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let at = i + 1; // offset of the backslash inside `tok`
        let esc = body[i + 1..]
            .chars()
            .next()
            .ok_or((at, "escape sequence not terminated".to_owned()))?;
        i += 1 + esc.len_utf8();
        let simple = match esc {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            c if c == quote => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (digits, radix, is_byte) = match esc {
            '0'..='7' => {
                i -= 1;
                (3, 8, true)
            }
            'x' => (2, 16, true),
            'u' => (4, 16, false),
            'U' => (8, 16, false),
            c => return Err((at, format!("unknown escape sequence \"\\{c}\""))),
        };
        let hex = body
            .get(i..i + digits)
            .filter(|h| h.chars().all(|c| c.is_digit(radix)))
            .ok_or((at, format!("escape sequence needs {digits} digits")))?;
        i += digits;
        let v = u32::from_str_radix(hex, radix).map_err(|e| (at, e.to_string()))?;
        if is_byte {
            let b = u8::try_from(v).map_err(|_| (at, "octal escape value > 255".to_owned()))?;
            out.push(b);
        } else {
            let c = char::from_u32(v).ok_or((
                at,
                "escape sequence is an invalid Unicode code point".to_owned(),
            ))?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    // Go strings may hold arbitrary bytes; ours are UTF-8.
    String::from_utf8(out).map_err(|_| (0, "string is not valid UTF-8 after escapes".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom_text::{Quoting, quoted};

    #[test]
    fn go_escapes() {
        assert_eq!(unquote(r#""a\"b""#).unwrap(), "a\"b");
        assert_eq!(unquote(r"'a\'b'").unwrap(), "a'b");
        assert!(unquote(r#"'a\"b'"#).is_err());
        assert_eq!(unquote(r#""\x41\101\u00e9\U0001F600""#).unwrap(), "AAé😀");
        assert_eq!(unquote(r"`a\n`").unwrap(), "a\\n");
        assert_eq!(unquote("`a\r\nb`").unwrap(), "a\nb");
        assert!(unquote(r#""\q""#).is_err());
        assert!(unquote(r#""\ud800""#).is_err());
        assert!(unquote(r#""\xff""#).is_err());
    }

    #[test]
    fn quote_round_trips() {
        for s in ["", "a\"b\\c", "line\nbreak\t\u{1}\u{7f}\u{85}", "é😀"] {
            assert_eq!(unquote(&quoted(s, Quoting::PromQl)).unwrap(), s);
        }
    }
}
