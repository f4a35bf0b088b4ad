//! Arbitrary bytes as a bench stream file (`hourglass bench ingest
//! --replay`): every record is read or refused, never a panic, and never
//! a record larger than the file.
#![no_main]

use hourglass::cli::bench::stream::StreamReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = StreamReader::new(data) else {
        return;
    };
    for scrape in reader {
        let Ok(scrape) = scrape else {
            return;
        };
        let bytes: usize = scrape.iter().flatten().map(|r| r.body.len()).sum();
        assert!(bytes <= data.len());
    }
});
