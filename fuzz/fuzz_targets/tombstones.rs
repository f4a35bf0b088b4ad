//! Arbitrary bytes as the tombstones file: decoding must refuse damage,
//! never panic, and re-encode exactly what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_storage::tombstones::fuzz_tombstones(data);
});
