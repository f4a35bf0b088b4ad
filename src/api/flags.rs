//! `GET /api/v1/status/hourglass/flags`: `hourglass serve`'s flags with
//! their effective values (command line, environment or default), for the
//! UI's Status page. Prometheus's `/api/v1/status/flags` stays a 404 on
//! purpose: a 200 there makes Grafana's alerting take us for Thanos.
//! Values that may carry a secret are redacted.

use super::envelope::{ApiResult, success};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

static FLAGS: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Records the running server's flags, `(name, value)` in declaration
/// order (only the first call counts); secrets are redacted here.
pub fn record(flags: Vec<(String, String)>) {
    let flags = flags
        .into_iter()
        .map(|(name, value)| {
            let value = redact(&name, &value);
            (name, value)
        })
        .collect();
    let _ = FLAGS.set(flags);
}

/// `value` with secrets hidden: the whole value when the flag's name says
/// it is one, a URL's password otherwise.
fn redact(name: &str, value: &str) -> String {
    let secret = ["token", "password", "secret", "credential", "key"];
    let lower = name.to_ascii_lowercase();
    if !value.is_empty() && secret.iter().any(|s| lower.contains(s)) {
        return REDACTED.to_string();
    }
    // scheme://user:password@host…
    let Some(scheme_end) = value.find("://") else {
        return value.to_string();
    };
    let rest = &value[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:{REDACTED}{}",
            &value[..scheme_end + 3],
            &authority[..colon],
            &value[scheme_end + 3 + at..]
        ),
        _ => value.to_string(),
    }
}

/// `GET /api/v1/status/hourglass/flags`: `{flag: value}` as Prometheus's
/// flags endpoint shapes it.
pub async fn flags() -> ApiResult {
    let map: Map<String, Value> = FLAGS
        .get()
        .map(|f| {
            f.iter()
                .map(|(n, v)| (n.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    Ok(success(Value::Object(map), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_names_and_url_passwords_are_redacted() {
        assert_eq!(redact("auth-token", "abc"), REDACTED);
        assert_eq!(redact("auth-token", ""), "");
        assert_eq!(redact("listen", "127.0.0.1:9201"), "127.0.0.1:9201");
        assert_eq!(
            redact("web-external-url", "https://me:s3cret@host:9/x?a=b@c"),
            "https://me:<redacted>@host:9/x?a=b@c"
        );
        assert_eq!(
            redact("web-external-url", "https://me@host/"),
            "https://me@host/"
        );
        assert_eq!(redact("retention", "15d"), "15d");
    }
}
