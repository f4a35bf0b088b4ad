//! Arbitrary bytes as one `hourglass import` JSON line (float or native
//! histogram series): parsing never panics, and what parses prints back
//! to a line that parses alike. The body is shared with a unit test so CI
//! runs it without cargo-fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_import_line(data);
});
