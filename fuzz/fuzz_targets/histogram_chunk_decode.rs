//! Arbitrary bytes into the histogram chunk decoder, raw and behind a
//! valid header and CRC: never a panic; what decodes re-encodes to the
//! same samples. The same body runs in `cargo test` as
//! `chunk::histogram::tests::random_streams_behind_a_valid_header_never_panic`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_storage::chunk::histogram::fuzz_decode(data);
});
