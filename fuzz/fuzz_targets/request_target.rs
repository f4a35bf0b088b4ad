//! Arbitrary bytes as a client's side of an HTTP/1.1 connection, through
//! the scanner that percent-encodes unencoded request targets: the same
//! output however the bytes are split across reads, grown only by whole
//! escapes, never a panic. The body is shared with a unit test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hourglass::fuzzing::fuzz_request_target(data);
});
