//! Arbitrary bytes as a partition's meta.json and index: opening must
//! report corruption, never panic. The first two bytes split the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (split, rest) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return,
    };
    let (meta, index) = rest.split_at(split.min(rest.len()));
    hourglass_storage::partition::fuzz_index(meta, index, index.len());
});
