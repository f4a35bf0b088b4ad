//! Reading a JSON request field by field, each refusal naming the field's
//! path (`scrape_config.target_url`, `filters[2].type`).

use super::TargetError;
use serde_json::{Map, Value};

/// Longest label value, pattern, URL or secret.
pub const MAX_TEXT: usize = 4096;

/// A JSON object.
pub type Obj = Map<String, Value>;

/// 400 naming `field`.
pub fn bad(field: impl Into<String>, why: impl Into<String>) -> TargetError {
    TargetError::bad(field, why)
}

/// `v` as an object.
pub fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Obj, TargetError> {
    v.as_object()
        .ok_or_else(|| bad(field, format!("{field} must be a JSON object")))
}

/// Refuses keys outside `known`, naming the first.
pub fn only(o: &Obj, known: &[&str], prefix: &str) -> Result<(), TargetError> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(bad(
            format!("{prefix}{k}"),
            format!("unknown field {k:?}; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A present, non-null field.
pub fn field<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// `v` as a string.
pub fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, TargetError> {
    v.as_str()
        .ok_or_else(|| bad(field, format!("{field} must be a string")))
}

/// A non-empty string of at most `max` bytes.
pub fn bounded<'a>(v: &'a Value, field: &str, max: usize) -> Result<&'a str, TargetError> {
    let s = string(v, field)?;
    if s.is_empty() {
        return Err(bad(field, format!("{field} must not be empty")));
    }
    if s.len() > max {
        return Err(bad(field, format!("{field} is longer than {max} bytes")));
    }
    Ok(s)
}
