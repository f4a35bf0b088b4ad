//! Sample-at-a-time iteration over a packed or grid chunk
//! ([`Packed`]): the value fields through a [`Slot`], the time fields
//! through their own cursor, both read in order.

use super::packed::{Packed, Slot};
use super::radix::Cursor;
use crate::model::sample::Sample;

/// Sample-at-a-time iteration over a packed chunk.
#[derive(Debug, Clone)]
pub(crate) struct PackedIter<'a> {
    p: Packed<'a>,
    /// Samples returned so far.
    read: u16,
    n: i64,
    /// Where the next value field is.
    slot: Slot,
    /// The next time field.
    offsets: Cursor,
}

impl<'a> PackedIter<'a> {
    pub(crate) fn new(p: Packed<'a>) -> Self {
        PackedIter {
            p,
            read: 0,
            n: 0,
            slot: p.slot_at(0),
            offsets: p.tcol.cursor(p.tfields, 0),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        usize::from(self.p.count - self.read)
    }

    /// The last sample returned, if any.
    pub(crate) fn current(&self) -> Option<Sample> {
        (self.read > 0).then(|| Sample::new(self.p.t(self.read - 1), self.p.value(self.n)))
    }

    /// Moves to the first sample at or after `t` without returning the
    /// ones before it; the next call to `next` returns it.
    pub(crate) fn skip_before(&mut self, t: i64) {
        let (lo, _) = self.p.index_range(t, i64::MAX);
        if lo > self.read {
            // The integer of the sample before `lo`: `next` adds one field.
            self.n = self.p.n_at(lo - 1);
            self.slot = self.p.slot_at(usize::from(lo - 1));
            self.offsets = self.p.tcol.cursor(self.p.tfields, usize::from(lo - 1));
            self.read = lo;
        }
    }

    /// Appends every remaining sample.
    pub(crate) fn decode_into(self, out: &mut Vec<Sample>) {
        let lo = self.read;
        if lo == 0 {
            return self.p.decode_range(0, self.p.count, out);
        }
        let mut it = self;
        out.extend(std::iter::from_fn(|| it.next()));
    }
}

impl Iterator for PackedIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.read >= self.p.count {
            return None;
        }
        let t = if self.read == 0 {
            self.n = self.p.n0;
            self.p.t0
        } else {
            let f = self.p.field_seq(usize::from(self.read - 1), &mut self.slot) as i64;
            self.n = self
                .n
                .wrapping_add(self.p.base)
                .wrapping_add(f.wrapping_mul(self.p.g));
            let off = self.offsets.next(&self.p.tcol, self.p.tfields);
            self.p.grid_t(self.read, off)
        };
        self.read += 1;
        Some(Sample::new(t, self.p.value(self.n)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}
