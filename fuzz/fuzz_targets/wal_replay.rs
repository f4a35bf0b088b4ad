//! Arbitrary bytes as WAL segments: open, recover, replay, append, reopen.
//! Must never panic, and recovery must be idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass_wal::fuzzing::replay_bytes(data);
});
