//! Arbitrary bytes as a Pushgateway push body under the Pushgateway's
//! (expfmt's) strictness: parsing must never panic, the lenient parser
//! gets at least as far, and whatever parses prints back to text that
//! parses strictly the same. The body is shared with a unit test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::ingest::text::fuzz_strict(data);
});
