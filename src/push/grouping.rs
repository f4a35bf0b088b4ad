//! The Pushgateway grouping key from a request path:
//! `job/<job>{/<label>/<value>}`, where `<label>@base64/<value>` carries a
//! URL-safe base64 value (for values with `/`, or `=` for the empty value).

use hourglass_query::prom_text::is_legacy_label_name;

/// Why a path is not a grouping key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    /// The path does not start with `job/<job>`.
    #[error("path must start with /metrics/job/<job>")]
    NoJob,
    /// The job is empty.
    #[error("job name must not be empty")]
    EmptyJob,
    /// A label without a value segment.
    #[error("label {0:?} has no value segment; the path continues /<label>/<value>")]
    MissingValue(String),
    /// A label name that is not `[a-zA-Z_][a-zA-Z0-9_]*`, or is reserved.
    #[error("invalid label name {0:?} in path")]
    BadName(String),
    /// The same label twice.
    #[error("label {0:?} appears twice in the path")]
    Duplicate(String),
    /// Bad percent-encoding, base64 or UTF-8.
    #[error("cannot decode the value of label {name:?}: {why}")]
    BadValue {
        /// The label.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Labels of the grouping key, sorted by name; `job` is always there.
pub type GroupKey = Vec<(String, String)>;

/// Parses the part of the path after `/metrics/`.
pub fn parse(path: &str) -> Result<GroupKey, GroupingError> {
    let segs: Vec<&str> = path.split('/').collect();
    let mut key: GroupKey = Vec::with_capacity(segs.len() / 2);
    for (i, pair) in segs.chunks(2).enumerate() {
        let raw_name = pair[0];
        let (name, b64) = match raw_name.strip_suffix("@base64") {
            Some(n) => (n, true),
            None => (raw_name, false),
        };
        if i == 0 && name != "job" {
            return Err(GroupingError::NoJob);
        }
        let Some(raw_value) = pair.get(1) else {
            return Err(if i == 0 {
                GroupingError::NoJob
            } else {
                GroupingError::MissingValue(name.to_string())
            });
        };
        if !is_legacy_label_name(name) || name.starts_with("__") {
            return Err(GroupingError::BadName(name.to_string()));
        }
        let bad = |why| GroupingError::BadValue {
            name: name.to_string(),
            why,
        };
        let text = percent_decode(raw_value).ok_or_else(|| bad("bad percent-encoding"))?;
        let bytes = if b64 {
            base64_url(&text).ok_or_else(|| bad("bad base64"))?
        } else {
            text
        };
        let value = String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        if i == 0 && value.is_empty() {
            return Err(GroupingError::EmptyJob);
        }
        if key.iter().any(|(n, _)| n == name) {
            return Err(GroupingError::Duplicate(name.to_string()));
        }
        key.push((name.to_string(), value));
    }
    key.sort();
    Ok(key)
}

/// A path (after `/metrics/`) that parses back to `key`: `job` first,
/// every value in URL-safe base64.
pub fn to_path(key: &GroupKey) -> String {
    let job = key.iter().filter(|(n, _)| n == "job");
    let rest = key.iter().filter(|(n, _)| n != "job");
    let segments: Vec<String> = job
        .chain(rest)
        .map(|(n, v)| format!("{n}@base64/{}", base64_url_encode(v.as_bytes())))
        .collect();
    segments.join("/")
}

/// URL-safe base64 without padding; `=` for the empty value.
fn base64_url_encode(b: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if b.is_empty() {
        return "=".to_string();
    }
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let mut acc = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            acc |= u32::from(byte) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// `%XX` decoding; `+` stays `+` (it is a path, not a form).
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// URL-safe base64 with optional padding (standard `+` `/` accepted too);
/// `=` alone is the empty value.
fn base64_url(s: &[u8]) -> Option<Vec<u8>> {
    let s = match s.iter().position(|&c| c == b'=') {
        Some(p) if s[p..].iter().all(|&c| c == b'=') => &s[..p],
        Some(_) => return None,
        None => s,
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let sextet = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(path: &str, want: Result<&[(&str, &str)], GroupingError>) {
        let want = want.map(|w| {
            w.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<GroupKey>()
        });
        assert_eq!(parse(path), want, "{path}");
    }

    #[test]
    fn grouping_keys() {
        check("job/batch", Ok(&[("job", "batch")]));
        check(
            "job/batch/instance/x%2By+z/zone/eu",
            Ok(&[("instance", "x+y+z"), ("job", "batch"), ("zone", "eu")]),
        );
        // "a/b c" and "" in URL-safe base64, with and without padding.
        check(
            "job@base64/YS9iIGM=/path@base64/YS9iIGM/empty@base64/=",
            Ok(&[("empty", ""), ("job", "a/b c"), ("path", "a/b c")]),
        );
        check("job@base64/w6k", Ok(&[("job", "\u{e9}")]));
    }

    #[test]
    fn keys_print_back_to_paths() {
        for path in ["job/a/b@base64/=/instance/x%2Fy", "job@base64/w6k/z/1"] {
            let key = parse(path).unwrap();
            assert_eq!(parse(&to_path(&key)), Ok(key));
        }
    }

    #[test]
    fn bad_paths() {
        check("", Err(GroupingError::NoJob));
        check("job", Err(GroupingError::NoJob));
        check("instance/x", Err(GroupingError::NoJob));
        check("job/", Err(GroupingError::EmptyJob));
        check("job@base64/=", Err(GroupingError::EmptyJob));
        check(
            "job/a/zone",
            Err(GroupingError::MissingValue("zone".into())),
        );
        check("job/a/__x/1", Err(GroupingError::BadName("__x".into())));
        check("job/a/a.b/1", Err(GroupingError::BadName("a.b".into())));
        check("job/a/job/b", Err(GroupingError::Duplicate("job".into())));
        let bad = |why| {
            Err(GroupingError::BadValue {
                name: "x".into(),
                why,
            })
        };
        check("job/a/x/%zz", bad("bad percent-encoding"));
        check("job/a/x@base64/a=b", bad("bad base64"));
        check("job/a/x@base64/A", bad("bad base64"));
        check("job/a/x/%ff", bad("not UTF-8"));
        check("job/a/x/%+1", bad("bad percent-encoding"));
    }

    /// Mutated paths through the fuzz target's body, so CI exercises it
    /// without cargo-fuzz.
    #[test]
    fn fuzz_body_on_mutated_paths() {
        let seeds = [
            "job/a/b@base64/=/instance/x%2Fy",
            "job@base64/w6k/z/1",
            "job/j/x@base64/YS9i",
        ];
        let alphabet = b"job/@base64%2F=_-+aZ09\xff";
        let mut m = crate::mutate::Mutator::new(0x853c_49e6_748f_ea9b);
        for round in 0..5000 {
            let data = m.mutate(seeds[round % seeds.len()].as_bytes(), alphabet);
            super::super::fuzz_push_grouping(&data);
        }
    }
}
