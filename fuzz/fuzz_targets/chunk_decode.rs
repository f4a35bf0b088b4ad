//! Arbitrary bytes into the chunk decoder: never a panic, never a
//! non-increasing timestamp. The same bytes read as samples must round-trip
//! through the cold encoder (XOR, packed or grid, whichever is smallest). The same body runs in `cargo test` as
//! `chunk::tests::random_bytes_with_valid_headers_never_panic`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_storage::chunk::fuzz_decode(data);
    hourglass_storage::chunk::fuzz_cold_round_trip(data);
});
