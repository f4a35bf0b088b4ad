//! The label fields of a `TimeSeries`, decoded into borrowed pairs.
//!
//! Checking a series' label strings one by one was a tenth of decode time
//! (short strings, a call each). They sit between ASCII key and length
//! bytes, so when the stretch from the first to the last is valid UTF-8 as
//! a whole, every string in it is, and slicing it is free. Otherwise (long
//! strings, many labels, bad bytes) each string is checked alone, which
//! also names a bad one.

use super::bounds::{Bounds, DecodeError};
use crate::ingest::protobuf::{Reader, WireError, WireType};

/// Label strings as byte ranges of the reader's bytes, checked together
/// by [`LabelSpans::finish`].
struct LabelSpans {
    /// (name start, name length, value start, value length).
    spans: [(usize, usize, usize, usize); LabelSpans::MAX],
    n: usize,
}

impl LabelSpans {
    /// Series with more labels check the rest one by one.
    const MAX: usize = 24;

    fn finish<'a>(
        &self,
        r: &Reader<'a>,
        out: &mut Vec<(&'a str, &'a str)>,
        bounds: &mut Bounds<'_>,
    ) -> Result<(), DecodeError> {
        let buf = r.buf();
        let spans = &self.spans[..self.n];
        // Absent fields are empty slices from elsewhere: no offset of theirs
        // means anything, so they take no part. A plain loop: the same as
        // iterator adapters took a twentieth of the server's ingest CPU.
        let (mut lo, mut hi) = (usize::MAX, 0);
        for &(n, nl, v, vl) in spans {
            for (at, len) in [(n, nl), (v, vl)] {
                if len > 0 {
                    lo = lo.min(at);
                    hi = hi.max(at + len);
                }
            }
        }
        if lo > hi {
            (lo, hi) = (0, 0);
        }
        let whole = buf.get(lo..hi).and_then(|b| std::str::from_utf8(b).ok());
        for &(n, nl, v, vl) in spans {
            let piece = |at: usize, len: usize| -> Result<&'a str, WireError> {
                if len == 0 {
                    return Ok("");
                }
                if let Some(s) = whole.and_then(|w| w.get(at - lo..at - lo + len)) {
                    return Ok(s);
                }
                let b = buf.get(at..at + len).unwrap_or_default();
                std::str::from_utf8(b).map_err(|_| not_utf8(r, b))
            };
            let pair = (piece(n, nl)?, piece(v, vl)?);
            bounds.push(out, pair)?;
        }
        Ok(())
    }
}

fn not_utf8(r: &Reader<'_>, b: &[u8]) -> WireError {
    WireError {
        offset: r.offset_of(b),
        what: "string is not valid UTF-8",
    }
}

/// Decodes the label fields (field 1) `r` reads into `out`, in the order
/// sent, skipping every other field.
pub(super) fn decode<'a>(
    mut r: Reader<'a>,
    out: &mut Vec<(&'a str, &'a str)>,
    bounds: &mut Bounds<'_>,
) -> Result<(), DecodeError> {
    let l0 = out.len();
    let base = r.buf().as_ptr() as usize;
    let mut spans = LabelSpans {
        spans: [(0, 0, 0, 0); LabelSpans::MAX],
        n: 0,
    };
    while let Some((field, wire)) = r.key()? {
        if field != 1 {
            r.skip(wire)?;
            continue;
        }
        r.expect(wire, WireType::Len)?;
        let mut m = r.message()?;
        let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
        while let Some((f, w)) = m.key()? {
            match f {
                1 => {
                    m.expect(w, WireType::Len)?;
                    name = m.bytes()?;
                }
                2 => {
                    m.expect(w, WireType::Len)?;
                    value = m.bytes()?;
                }
                _ => m.skip(w)?,
            }
        }
        if spans.n < LabelSpans::MAX {
            let at = |b: &[u8]| (b.as_ptr() as usize).saturating_sub(base);
            spans.spans[spans.n] = (at(name), name.len(), at(value), value.len());
            spans.n += 1;
        } else {
            let check = |b: &'a [u8]| std::str::from_utf8(b).map_err(|_| not_utf8(&m, b));
            let pair = (check(name)?, check(value)?);
            bounds.push(out, pair)?;
        }
    }
    // Labels beyond `LabelSpans::MAX` were pushed already; keep the order
    // as sent.
    let overflow = out.split_off(l0);
    spans.finish(&r, out, bounds)?;
    for pair in overflow {
        bounds.push(out, pair)?;
    }
    Ok(())
}
