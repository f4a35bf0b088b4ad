//! Arbitrary bytes as a PromQL query: never a panic, and whatever parses
//! must print to a form that parses back to the same tree. The same body
//! runs in `cargo test -p hourglass-query --test no_panic`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_query::fuzzing::parse_and_round_trip(data);
});
