//! Arbitrary bytes as an event outbox segment: decoding never panics, and
//! what decodes re-encodes to the same valid prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_event_segment(data);
});
