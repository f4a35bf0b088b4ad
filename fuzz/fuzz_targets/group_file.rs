//! Arbitrary bytes as a Pushgateway groups file: decoding never panics,
//! and what decodes re-encodes to stable bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_group_file(data);
});
