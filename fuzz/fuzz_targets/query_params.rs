//! Arbitrary bytes as the form-encoded parameters of `/api/v1/query` and
//! `/api/v1/query_range`: read by the handlers' own parameter parsing
//! (time, duration, step, timeout, lookback_delta, limit, match[]) and,
//! when valid, evaluated against a tiny store with low limits. Nothing may
//! panic, and every query must give back the memory it drew. The body is
//! shared with a test so CI runs its seeds without cargo-fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_query_params(data);
});
