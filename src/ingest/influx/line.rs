//! One line of InfluxDB line protocol:
//! `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
//!
//! Escapes as InfluxDB reads them: in the measurement `\,` and `\ `; in
//! tag keys, tag values and field keys also `\=`; in string field values
//! `\"` and `\\`. A backslash before any other character is itself; a
//! backslash ending the line escapes nothing and is an error.

use std::borrow::Cow;

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `1.5`, `-2e3`
    Float(f64),
    /// `12i`
    Int(i64),
    /// `12u`
    UInt(u64),
    /// `t`, `true`, `F`, `false`, ...
    Bool(bool),
    /// `"text"`
    Str(Cow<'a, str>),
}

/// A parsed line; tags and fields in the order written.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Line<'a> {
    /// The measurement.
    pub measurement: Cow<'a, str>,
    /// Tag keys and values.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field keys and values.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The timestamp as written (in the request's precision).
    pub timestamp: Option<i64>,
}

const MEASUREMENT_ESCAPES: &[u8] = b", ";
const KEY_ESCAPES: &[u8] = b",= ";

/// Reads up to (not including) the first unescaped byte of `stops`,
/// unescaping `escapes`.
fn token<'a>(
    s: &'a str,
    pos: &mut usize,
    stops: &[u8],
    escapes: &[u8],
) -> Result<Cow<'a, str>, &'static str> {
    let b = s.as_bytes();
    let start = *pos;
    let mut owned: Option<String> = None;
    let mut copied = start;
    while let Some(&c) = b.get(*pos) {
        if c == b'\\' {
            match b.get(*pos + 1) {
                None => return Err("bad escape: a backslash ends the line"),
                Some(n) if escapes.contains(n) => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(s.get(copied..*pos).unwrap_or_default());
                    o.push(char::from(*n));
                    *pos += 2;
                    copied = *pos;
                    continue;
                }
                Some(_) => {
                    *pos += 1;
                    continue;
                }
            }
        }
        if stops.contains(&c) {
            break;
        }
        *pos += 1;
    }
    let rest = s.get(copied..*pos).unwrap_or_default();
    Ok(match owned {
        Some(mut o) => {
            o.push_str(rest);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(s.get(start..*pos).unwrap_or_default()),
    })
}

/// Parses one line (no newline) into `line`, reusing its lists.
pub fn parse<'a>(s: &'a str, line: &mut Line<'a>) -> Result<(), String> {
    line.tags.clear();
    line.fields.clear();
    line.timestamp = None;
    let b = s.as_bytes();
    let mut pos = 0;
    line.measurement = token(s, &mut pos, b", ", MEASUREMENT_ESCAPES)?;
    if line.measurement.is_empty() {
        return Err("missing measurement".into());
    }
    while b.get(pos) == Some(&b',') {
        pos += 1;
        let key = token(s, &mut pos, b",= ", KEY_ESCAPES)?;
        if b.get(pos) != Some(&b'=') {
            return Err(format!("tag {key:?} has no value (missing '=')"));
        }
        pos += 1;
        let value = token(s, &mut pos, b",= ", KEY_ESCAPES)?;
        if key.is_empty() || value.is_empty() {
            return Err(format!("empty tag key or value in tag {key:?}"));
        }
        line.tags.push((key, value));
    }
    if b.get(pos) != Some(&b' ') {
        return Err("missing fields".into());
    }
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    loop {
        let key = token(s, &mut pos, b",= ", KEY_ESCAPES)?;
        if key.is_empty() {
            return Err("missing fields (empty field key)".into());
        }
        if b.get(pos) != Some(&b'=') {
            if line.fields.is_empty() && b.get(pos).is_none() {
                return Err("missing fields".into());
            }
            return Err(format!("field {key:?} has no value (missing '=')"));
        }
        pos += 1;
        let value = field_value(s, &mut pos).map_err(|e| format!("field {key:?}: {e}"))?;
        line.fields.push((key, value));
        match b.get(pos) {
            Some(b',') => pos += 1,
            _ => break,
        }
    }
    match b.get(pos) {
        None => return Ok(()),
        Some(b' ') => {}
        Some(_) => return Err("unexpected character after the fields".into()),
    }
    while b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let ts = s.get(pos..).unwrap_or_default().trim_end();
    if ts.is_empty() {
        return Ok(());
    }
    line.timestamp = Some(
        ts.parse::<i64>()
            .map_err(|_| format!("invalid timestamp {ts:?}"))?,
    );
    Ok(())
}

fn field_value<'a>(s: &'a str, pos: &mut usize) -> Result<FieldValue<'a>, String> {
    let b = s.as_bytes();
    if b.get(*pos) == Some(&b'"') {
        return string_value(s, pos).map(FieldValue::Str);
    }
    let start = *pos;
    while let Some(&c) = b.get(*pos) {
        if c == b',' || c == b' ' {
            break;
        }
        *pos += 1;
    }
    let raw = s.get(start..*pos).unwrap_or_default();
    if raw.is_empty() {
        return Err("missing value".into());
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Bool(false)),
        _ => {}
    }
    if let Some(i) = raw.strip_suffix('i') {
        return i
            .parse::<i64>()
            .map(FieldValue::Int)
            .map_err(|_| format!("invalid integer {raw:?}"));
    }
    if let Some(u) = raw.strip_suffix('u') {
        return u
            .parse::<u64>()
            .map(FieldValue::UInt)
            .map_err(|_| format!("invalid unsigned integer {raw:?}"));
    }
    let numeric = raw
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    match raw.parse::<f64>() {
        Ok(v) if numeric && v.is_finite() => Ok(FieldValue::Float(v)),
        _ => Err(format!(
            "invalid value {raw:?} (strings must be double-quoted)"
        )),
    }
}

fn string_value<'a>(s: &'a str, pos: &mut usize) -> Result<Cow<'a, str>, String> {
    let b = s.as_bytes();
    *pos += 1;
    let start = *pos;
    let mut owned: Option<String> = None;
    let mut copied = start;
    loop {
        match b.get(*pos) {
            None => return Err("unterminated string (missing closing quote)".into()),
            Some(b'"') => break,
            Some(b'\\') if matches!(b.get(*pos + 1), Some(b'"' | b'\\')) => {
                let o = owned.get_or_insert_with(String::new);
                o.push_str(s.get(copied..*pos).unwrap_or_default());
                o.push(char::from(b[*pos + 1]));
                *pos += 2;
                copied = *pos;
            }
            Some(_) => *pos += 1,
        }
    }
    let rest = s.get(copied..*pos).unwrap_or_default();
    *pos += 1;
    Ok(match owned {
        Some(mut o) => {
            o.push_str(rest);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(rest),
    })
}
