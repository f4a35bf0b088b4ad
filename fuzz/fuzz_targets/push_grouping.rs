//! Arbitrary text as a Pushgateway path after `/metrics/`: parsing must
//! never panic, and a grouping key that parses prints back to a path that
//! parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_push_grouping(data);
});
