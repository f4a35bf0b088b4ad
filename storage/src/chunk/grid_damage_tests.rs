//! Grid chunks whose headers, maps or columns do not hold together
//! (`0x03`–`0x08`): errors, never panics, and the fuzz body agrees.

use super::*;
use crate::Sample;

#[test]
fn grid_headers_are_checked() {
    let samples: Vec<Sample> = (0..10)
        .map(|i| Sample::new(i * 1000 + i % 3, i as f64))
        .collect();
    let c = grid::encode(&samples).unwrap();
    let bytes = c.as_bytes().to_vec();
    let resealed = |mut b: Vec<u8>| {
        let n = b.len() - CRC_LEN;
        let crc = crc32fast::hash(&b[..n]).to_be_bytes();
        b[n..].copy_from_slice(&crc);
        b
    };
    // Cut short, a count beyond the fields, and timestamps made to repeat.
    for bad in [
        resealed(
            bytes[..HEADER_LEN + 3]
                .iter()
                .copied()
                .chain([0; 4])
                .collect(),
        ),
        {
            let mut b = bytes.clone();
            b[2] = 200;
            resealed(b)
        },
        {
            let mut b = bytes.clone();
            b[HEADER_LEN + 1] = 0; // d = 0
            resealed(b)
        },
    ] {
        assert!(decode_all(&bad).is_err());
        fuzz_decode(&bad);
    }
}

#[test]
fn mixed_radix_column_shapes_are_checked() {
    // Offsets of -3..=3 ms and steps of 0..=4: both columns in mixed radix.
    let mut n = 0;
    let samples: Vec<Sample> = (0..100)
        .map(|i| {
            n += i % 5;
            Sample::new(i * 15_000 + i * 5 % 7 - 3, n as f64)
        })
        .collect();
    let c = grid::encode(&samples).unwrap();
    let bytes = c.as_bytes().to_vec();
    assert_eq!(bytes[0], ENCODING_GRID_RADIX);
    assert_eq!(decode_all(&bytes).unwrap(), samples);
    // The time column's shape follows t0, d and tbase (three varints).
    let mut at = HEADER_LEN;
    for _ in 0..3 {
        while bytes[at] & 0x80 != 0 {
            at += 1;
        }
        at += 1;
    }
    let resealed = |mut b: Vec<u8>| {
        let n = b.len() - CRC_LEN;
        let crc = crc32fast::hash(&b[..n]).to_be_bytes();
        b[n..].copy_from_slice(&crc);
        b
    };
    let with = |at: usize, v: u8| {
        let mut b = bytes.clone();
        b[at] = v;
        resealed(b)
    };
    // No fields a group; 7^64 > 2^64; a larger bound than the fields hold
    // needs more bytes than the stream has.
    for bad in [with(at, 0), with(at, 64), with(at + 1, 0x7f)] {
        assert!(
            matches!(decode_all(&bad), Err(ChunkError::Corrupt { .. })),
            "{:?}",
            decode_all(&bad)
        );
        fuzz_decode(&bad);
    }
}

#[test]
fn sparse_grid_bitmaps_are_checked() {
    let samples: Vec<Sample> = (0..100)
        .map(|i| Sample::new(i * 15_000, if i == 50 { 7.0 } else { 3.0 }))
        .collect();
    let c = grid::encode_bitmap(&samples).unwrap();
    assert_eq!(c.as_bytes()[0], ENCODING_SPARSE_GRID);
    let resealed = |mut b: Vec<u8>| {
        let n = b.len() - CRC_LEN;
        let crc = crc32fast::hash(&b[..n]).to_be_bytes();
        b[n..].copy_from_slice(&crc);
        b
    };
    // 99 fields: the bitmap's 13th byte has 5 padding bits; set one, or
    // mark four more stored fields than the stream holds.
    let bitmap_end = c.as_bytes().len() - CRC_LEN - 1;
    let mut padded = c.as_bytes().to_vec();
    padded[bitmap_end - 1] |= 1;
    let mut extra = c.as_bytes().to_vec();
    extra[bitmap_end - 13] |= 0xf0;
    for bad in [resealed(padded), resealed(extra)] {
        assert!(decode_all(&bad).is_err());
        fuzz_decode(&bad);
    }
}

#[test]
fn sparse_grid_gap_lists_are_checked() {
    let samples: Vec<Sample> = (0..100)
        .map(|i| Sample::new(i * 15_000, if i >= 50 { 7.0 } else { 3.0 }))
        .collect();
    let c = grid::encode(&samples).unwrap();
    let b = c.as_bytes();
    assert_eq!(b[0], ENCODING_SPARSE_GAPS);
    let resealed = |mut b: Vec<u8>| {
        let n = b.len() - CRC_LEN;
        let crc = crc32fast::hash(&b[..n]).to_be_bytes();
        b[n..].copy_from_slice(&crc);
        b
    };
    // Every flipped byte and every cut is an error, with the checksum
    // stored and resealed alike (resealed: decoded, never a panic).
    for i in 0..b.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = b.to_vec();
            bad[i] ^= flip;
            assert!(decode_all(&bad).is_err(), "byte {i} ^ {flip:#x}");
            fuzz_decode(&resealed(bad));
        }
    }
    for len in 0..b.len() {
        assert!(decode_all(&b[..len]).is_err(), "cut at {len}");
        if len >= HEADER_LEN + CRC_LEN {
            fuzz_decode(&resealed(b[..len].to_vec()));
        }
    }
    // One stored field at position 49: the header ends `w, m = 1, r`,
    // then the gap list and the field (1 byte each), then the CRC.
    let end = b.len() - CRC_LEN;
    let (m_at, r_at) = (end - 4, end - 3);
    assert_eq!((b[m_at], b[r_at]), (1, grid_gap_r(49)));
    for (at, v) in [(m_at, 2u8), (m_at, 99), (m_at, 0xff), (r_at, 17), (r_at, 0)] {
        let mut bad = b.to_vec();
        bad[at] = v;
        assert!(decode_all(&resealed(bad)).is_err(), "byte {at} = {v}");
    }
}

/// The Rice parameter the encoder picks for a single gap of `g`.
fn grid_gap_r(g: usize) -> u8 {
    (0..=12u8)
        .min_by_key(|r| ((g >> r) + 1 + usize::from(*r)).div_ceil(8))
        .unwrap()
}
