//! Arbitrary bytes as a `POST /api/v1/metrics/custom` body: the streaming
//! list decoder and the item decoder must never panic, never hand over
//! more items than the limit, and count the same items serde_json sees.
//! The body is shared with a unit test so CI runs it without cargo-fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_custom_metrics_json(data);
});
