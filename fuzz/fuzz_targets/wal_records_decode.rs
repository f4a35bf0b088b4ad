//! Arbitrary bytes into the head's WAL record decoders (batch records of
//! both versions, checkpoint series records): never a panic, and a batch
//! that decodes re-encodes to the same samples. The same body runs in
//! `cargo test` as
//! `head::checkpoint_records::tests::damaged_series_records_are_errors_not_panics`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_storage::fuzz_wal_records(data);
});
