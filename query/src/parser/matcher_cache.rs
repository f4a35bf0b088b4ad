//! Compiled regex matchers, shared across queries. Compiling a regex costs
//! tens of microseconds, far more than parsing the query around it, and
//! dashboards send the same matchers on every refresh.

use hourglass_storage::{MatchOp, Matcher, MatcherError};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Entries kept before the cache is emptied and refilled; enough for the
/// working set of many dashboards, small enough to never matter in memory.
const CAPACITY: usize = 4096;

/// Patterns longer than this are compiled every time rather than kept.
const MAX_CACHED_PATTERN_BYTES: usize = 1024;

type Key = (MatchOp, String, String);

fn cache() -> &'static Mutex<HashMap<Key, Matcher>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Matcher>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `Matcher::new`, served from the cache for regex operators. Returns
/// whether the regex was compiled (a miss), for the compile-time budget.
pub(crate) fn matcher(
    op: MatchOp,
    name: String,
    value: String,
) -> (Result<Matcher, MatcherError>, bool) {
    let is_regex = matches!(op, MatchOp::RegexMatch | MatchOp::RegexNoMatch);
    if !is_regex || value.len() > MAX_CACHED_PATTERN_BYTES {
        return (Matcher::new(op, name, value), is_regex);
    }
    let key = (op, name, value);
    // A poisoned lock only means another thread panicked mid-insert; the
    // map is still valid, but skipping the cache is the simplest safe path.
    if let Ok(map) = cache().lock()
        && let Some(m) = map.get(&key)
    {
        return (Ok(m.clone()), false);
    }
    let (op, name, value) = key;
    let res = Matcher::new(op, name.clone(), value.clone());
    if let (Ok(m), Ok(mut map)) = (&res, cache().lock()) {
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert((op, name, value), m.clone());
    }
    (res, true)
}
