//! The grid encoding (`0x03`), see `FORMAT.md`: the packed encoding
//! generalised for cold data. Timestamps are offsets from an interval grid
//! at one fixed bit width (scrape jitter of ±3 ms costs 3–4 bits, an
//! aligned chunk none), and value differences are `base + g · field` with
//! `g` the greatest common divisor of their spread (memory in whole pages
//! moves in steps of 4096), at one fixed width.
//!
//! Why: compaction re-encodes whole runs of up to 2048 samples, where a
//! fixed width per column sits close to the data's entropy while the XOR
//! stream spends prefix bits on every sample; decoding stays branch-free
//! per field and random access stays O(1) for time.

use super::packed::{decimals, push_fields};
use super::{Chunk, ENCODING_GRID};
use crate::encoding::{put_uvarint, zigzag};
use crate::model::sample::Sample;
use std::sync::Arc;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Bits to hold `x`.
fn width(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Encodes `samples` (sorted, distinct timestamps) as a grid chunk if they
/// qualify (at least two, every value a decimal of one scale, time offsets
/// within 63 bits), else `None`.
pub(crate) fn encode(samples: &[Sample]) -> Option<Chunk> {
    let count = u16::try_from(samples.len()).ok()?;
    let (first, last) = (samples.first()?, samples.last()?);
    let steps = i128::from(count).checked_sub(1).filter(|s| *s > 0)?;
    let span = i128::from(last.t) - i128::from(first.t);
    let d = i64::try_from((span + steps / 2) / steps)
        .ok()
        .filter(|d| *d > 0)?;
    let offsets: Vec<i128> = samples
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, s)| i128::from(s.t) - i128::from(first.t) - i128::from(d) * i as i128)
        .collect();
    let tbase = i64::try_from(*offsets.iter().min()?).ok()?;
    let tspan = u64::try_from(offsets.iter().max()? - i128::from(tbase)).ok()?;
    let tw = width(tspan);
    if tw > 63 {
        return None;
    }
    let (ns, k) = decimals(samples.iter().map(|s| s.v))?;
    // |n| < 2^51, so differences and their spread fit.
    let base = ns.windows(2).map(|w| w[1] - w[0]).min()?;
    let g = ns
        .windows(2)
        .fold(0, |g, w| gcd(g, (w[1] - w[0] - base) as u64))
        .max(1);
    let vspan = ns
        .windows(2)
        .map(|w| (w[1] - w[0] - base) as u64 / g)
        .max()?;
    let w = width(vspan);
    let fields_len = (samples.len() * (tw + w) as usize).div_ceil(8);
    let mut body = Vec::with_capacity(48 + fields_len);
    body.push(ENCODING_GRID);
    body.extend_from_slice(&count.to_be_bytes());
    put_uvarint(&mut body, zigzag(first.t));
    put_uvarint(&mut body, d as u64);
    put_uvarint(&mut body, zigzag(tbase));
    body.push(tw as u8);
    body.push(k);
    put_uvarint(&mut body, zigzag(ns[0]));
    put_uvarint(&mut body, zigzag(base));
    put_uvarint(&mut body, g);
    body.push(w as u8);
    push_fields(
        &mut body,
        offsets.iter().map(|o| (o - i128::from(tbase)) as u64),
        tw,
    );
    push_fields(
        &mut body,
        ns.windows(2).map(|p| (p[1] - p[0] - base) as u64 / g),
        w,
    );
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    Some(Chunk::from_sealed_unchecked(Arc::from(body)))
}
