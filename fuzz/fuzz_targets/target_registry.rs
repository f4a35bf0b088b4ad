//! Arbitrary bytes as a targets registry file: decoding never panics, and
//! what decodes re-encodes to the same targets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::scrape::registry::file::fuzz_decode(data);
});
