//! Arbitrary bytes as a partition's `downsampled` file: decoding must
//! refuse damage, never panic, and re-encode what it accepts to the same
//! series.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_storage::downsample::fuzz_downsampled(data);
});
