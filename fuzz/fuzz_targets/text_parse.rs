//! Arbitrary bytes as a text exposition (format 0.0.4): parsing must never
//! panic, and whatever parses must print back to text that parses the
//! same. The body is shared with a unit test so CI runs it without
//! cargo-fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::ingest::text::fuzz_one(data);
});
