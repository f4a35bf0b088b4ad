//! [`ChunkIter`]: one iterator over a chunk of either encoding.

use super::ChunkError;
use super::packed::Packed;
use super::packed_iter::PackedIter;
use super::xor_iter::XorIter;
use crate::model::sample::Sample;

/// Iterates a chunk's samples in time order.
///
/// Contract: `next` yields samples with strictly increasing `t`. Corrupt
/// bytes never panic: iteration stops early and [`ChunkIter::error`]
/// reports why, so check it once after the loop (as with Prometheus's
/// `Err()`); a clean end leaves it `None`.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a>(Codec<'a>);

#[derive(Debug, Clone)]
enum Codec<'a> {
    Xor(XorIter<'a>),
    Packed(PackedIter<'a>),
    /// A packed chunk whose header did not parse: nothing to yield.
    Failed(ChunkError),
}

impl<'a> ChunkIter<'a> {
    pub(crate) fn xor(stream: &'a [u8], count: u16) -> Self {
        ChunkIter(Codec::Xor(XorIter::new(stream, count)))
    }

    pub(crate) fn packed(p: Result<Packed<'a>, ChunkError>) -> Self {
        ChunkIter(match p {
            Ok(p) => Codec::Packed(PackedIter::new(p)),
            Err(e) => Codec::Failed(e),
        })
    }

    /// Why iteration stopped early, if it did.
    pub fn error(&self) -> Option<&ChunkError> {
        match &self.0 {
            Codec::Xor(it) => it.error(),
            Codec::Packed(_) => None,
            Codec::Failed(e) => Some(e),
        }
    }

    /// Consumes the iterator into `Ok(())` or the error that stopped it.
    pub fn finish(self) -> Result<(), ChunkError> {
        match self.0 {
            Codec::Xor(it) => it.finish(),
            Codec::Packed(_) => Ok(()),
            Codec::Failed(e) => Err(e),
        }
    }

    /// Samples not yet returned (as the header claims).
    pub fn remaining(&self) -> usize {
        match &self.0 {
            Codec::Xor(it) => it.remaining(),
            Codec::Packed(it) => it.remaining(),
            Codec::Failed(_) => 0,
        }
    }

    /// Advances to the first sample with timestamp `>= t` and returns it.
    ///
    /// If the last returned sample already qualifies it is returned again;
    /// seeking never moves backwards.
    pub fn seek(&mut self, t: i64) -> Option<Sample> {
        match &mut self.0 {
            Codec::Xor(it) => it.seek(t),
            Codec::Packed(it) => {
                if let Some(s) = it.current().filter(|s| s.t >= t) {
                    return Some(s);
                }
                it.skip_before(t);
                it.next()
            }
            Codec::Failed(_) => None,
        }
    }

    /// Appends every remaining sample to `out` in one tight loop, then
    /// reports how decoding ended as [`ChunkIter::finish`] does.
    pub fn decode_into(self, out: &mut Vec<Sample>) -> Result<(), ChunkError> {
        match self.0 {
            Codec::Xor(it) => it.decode_into(out),
            Codec::Packed(it) => {
                it.decode_into(out);
                Ok(())
            }
            Codec::Failed(e) => Err(e),
        }
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        match &mut self.0 {
            Codec::Xor(it) => it.next(),
            Codec::Packed(it) => it.next(),
            Codec::Failed(_) => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining()))
    }
}
