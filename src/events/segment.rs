//! The outbox's segment file format (see `FORMAT.md` beside this file):
//! a header naming the first sequence number, then checksummed records
//! numbered one after another. Decoding never panics; it stops at the
//! first record that is short, fails its checksum or is out of sequence,
//! and says where.

/// Bytes at the start of every segment.
pub const MAGIC: [u8; 4] = *b"HGEV";
/// The format version written.
pub const VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = 16;
/// Record header length (length, checksum, sequence, time).
pub const RECORD_HEADER_LEN: usize = 24;
/// Longest payload a record may hold.
pub const MAX_PAYLOAD: usize = 64 << 10;

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number, consecutive within and across segments.
    pub seq: u64,
    /// When the event was appended (Unix ms).
    pub at_ms: i64,
    /// The event's JSON.
    pub payload: Vec<u8>,
}

/// Why a segment could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than a header.
    #[error("segment header is {0} bytes, want {HEADER_LEN}")]
    Short(usize),
    /// Not an event segment.
    #[error("not an event segment (magic {0:02x?})")]
    Magic([u8; 4]),
    /// Written by a newer version.
    #[error("event segment version {0} is not supported (this build reads {VERSION})")]
    Version(u8),
}

/// Where and why decoding stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Offset of the first byte not decoded.
    pub offset: usize,
    /// Why.
    pub reason: &'static str,
}

/// A decoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The header's first sequence number.
    pub first_seq: u64,
    /// Records in order.
    pub records: Vec<Record>,
    /// Length of the valid prefix.
    pub valid_len: usize,
    /// Set when bytes after `valid_len` could not be decoded.
    pub stop: Option<Stop>,
}

/// The header of a segment starting at `first_seq`.
pub fn header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC);
    h[4] = VERSION;
    h[8..].copy_from_slice(&first_seq.to_le_bytes());
    h
}

fn checksum(seq: u64, at_ms: i64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(&at_ms.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Appends one record to `out`; `None` when the payload is too long.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, at_ms: i64, payload: &[u8]) -> Option<()> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let len = u32::try_from(payload.len()).ok()?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(seq, at_ms, payload).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&at_ms.to_le_bytes());
    out.extend_from_slice(payload);
    Some(())
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// Decodes a whole segment file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, HeaderError> {
    let mut records = Vec::new();
    let (first_seq, valid_len, stop) = walk(bytes, |seq, at_ms, payload| {
        records.push(Record {
            seq,
            at_ms,
            payload: payload.to_vec(),
        });
        true
    })?;
    Ok(Decoded {
        first_seq,
        records,
        valid_len,
        stop,
    })
}

/// Up to `max` records numbered `from` on, in order: every record is
/// checked as [`decode`] checks it (reading stops at the first bad one),
/// but only those asked for are copied, and the walk ends once `max` are.
pub fn decode_range(bytes: &[u8], from: u64, max: usize) -> Result<Vec<Record>, HeaderError> {
    let mut records = Vec::new();
    if max == 0 {
        return Ok(records);
    }
    walk(bytes, |seq, at_ms, payload| {
        if seq >= from {
            records.push(Record {
                seq,
                at_ms,
                payload: payload.to_vec(),
            });
        }
        records.len() < max
    })?;
    Ok(records)
}

/// Walks a segment's valid records in order, handing each to `each`
/// until it returns `false`; the first sequence number, the length of
/// the valid prefix walked, and why the walk stopped early (if a record
/// was bad).
fn walk(
    bytes: &[u8],
    mut each: impl FnMut(u64, i64, &[u8]) -> bool,
) -> Result<(u64, usize, Option<Stop>), HeaderError> {
    let Some(h) = bytes.get(..HEADER_LEN) else {
        return Err(HeaderError::Short(bytes.len()));
    };
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&h[..4]);
    if magic != MAGIC {
        return Err(HeaderError::Magic(magic));
    }
    if h[4] != VERSION {
        return Err(HeaderError::Version(h[4]));
    }
    let first_seq = le_u64(&h[8..16]);
    let mut at = HEADER_LEN;
    let mut next = first_seq;
    let stop = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        let Some(rh) = rest.get(..RECORD_HEADER_LEN) else {
            break Some("short record header");
        };
        let len = le_u32(&rh[..4]) as usize;
        if len > MAX_PAYLOAD {
            break Some("record length over the maximum");
        }
        let Some(payload) = rest.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len) else {
            break Some("short record payload");
        };
        let crc = le_u32(&rh[4..8]);
        let seq = le_u64(&rh[8..16]);
        let at_ms = le_u64(&rh[16..24]) as i64;
        if checksum(seq, at_ms, payload) != crc {
            break Some("record checksum mismatch");
        }
        if seq != next {
            break Some("record out of sequence");
        }
        next = next.wrapping_add(1);
        at += RECORD_HEADER_LEN + len;
        if !each(seq, at_ms, payload) {
            break None;
        }
    };
    Ok((
        first_seq,
        at,
        stop.map(|reason| Stop { offset: at, reason }),
    ))
}

/// Decodes arbitrary bytes, for the `event_segment` fuzz target: never
/// panics, and what decodes re-encodes to the same valid prefix.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(d) = decode(data) {
        let mut again = header(d.first_seq).to_vec();
        again[5..8].copy_from_slice(&data[5..8]);
        for r in &d.records {
            let _ = encode_record(&mut again, r.seq, r.at_ms, &r.payload);
        }
        assert_eq!(again.as_slice(), &data[..d.valid_len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(first: u64, n: u64) -> Vec<u8> {
        let mut b = header(first).to_vec();
        for s in first..first + n {
            encode_record(
                &mut b,
                s,
                1000 + s as i64,
                format!("{{\"n\":{s}}}").as_bytes(),
            )
            .unwrap();
        }
        b
    }

    #[test]
    fn records_round_trip_in_order() {
        let b = segment(7, 5);
        let d = decode(&b).unwrap();
        assert_eq!(d.first_seq, 7);
        assert_eq!(d.records.len(), 5);
        assert_eq!(d.records[4].seq, 11);
        assert_eq!(d.records[4].payload, b"{\"n\":11}");
        assert_eq!(d.valid_len, b.len());
        assert_eq!(d.stop, None);
    }

    #[test]
    fn a_range_read_is_the_whole_decode_filtered_and_stops_at_damage() {
        let b = segment(7, 20);
        let whole = decode(&b).unwrap().records;
        for from in 0..30 {
            for max in 0..25 {
                let want: Vec<&Record> = whole.iter().filter(|r| r.seq >= from).take(max).collect();
                let got = decode_range(&b, from, max).unwrap();
                assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    want,
                    "from {from} max {max}"
                );
            }
        }
        // A flipped payload byte in record 10 ends every read there.
        let mut bad = b.clone();
        let at = HEADER_LEN + 3 * (RECORD_HEADER_LEN + 7) + RECORD_HEADER_LEN;
        bad[at] ^= 1;
        let got = decode_range(&bad, 8, 100).unwrap();
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [8, 9]);
        assert!(decode_range(&bad, 11, 100).unwrap().is_empty());
    }

    #[test]
    fn every_torn_tail_keeps_the_whole_records_before_it() {
        let b = segment(1, 3);
        let whole = decode(&b).unwrap();
        for cut in HEADER_LEN..b.len() {
            let d = decode(&b[..cut]).unwrap();
            let ends: Vec<usize> = whole
                .records
                .iter()
                .scan(HEADER_LEN, |at, r| {
                    *at += RECORD_HEADER_LEN + r.payload.len();
                    Some(*at)
                })
                .collect();
            let kept = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(d.records.len(), kept, "cut at {cut}");
            assert_eq!(d.stop.is_some(), !ends.contains(&cut) && cut > HEADER_LEN);
        }
    }

    #[test]
    fn a_flipped_bit_stops_at_its_record() {
        let mut b = segment(1, 3);
        let second = HEADER_LEN + RECORD_HEADER_LEN + 7 + RECORD_HEADER_LEN + 1;
        b[second] ^= 0x10;
        let d = decode(&b).unwrap();
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.stop.unwrap().reason, "record checksum mismatch");
    }

    #[test]
    fn bad_headers_are_named() {
        assert_eq!(decode(b"HGE"), Err(HeaderError::Short(3)));
        let mut b = segment(1, 0);
        b[4] = 9;
        assert_eq!(decode(&b), Err(HeaderError::Version(9)));
        b[0] = b'X';
        assert!(matches!(decode(&b), Err(HeaderError::Magic(_))));
    }

    #[test]
    fn fuzz_entry_accepts_valid_and_broken_bytes() {
        let b = segment(3, 4);
        fuzz_one(&b);
        fuzz_one(&b[..b.len() - 2]);
        fuzz_one(b"junk");
    }
}
