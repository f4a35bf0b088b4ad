//! Limits a decode is held to while it builds, not after: the series count
//! is checked as each series is added, and every vector's growth is asked
//! of a memory allowance before it happens. A body of a few megabytes of
//! empty series, labels or samples can otherwise decode into gigabytes.

use crate::ingest::protobuf::WireError;

/// Why a body was not decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid protobuf, or not a valid request.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// More series than a request may carry.
    #[error("request has more series than allowed: over the limit of {max}")]
    TooManySeries {
        /// The limit.
        max: usize,
    },
    /// Decoding would hold more memory than it was allowed.
    #[error("decoding the request needs more than the {held_bytes} bytes memory allows")]
    OverBudget {
        /// Bytes held when the allowance was refused.
        held_bytes: usize,
    },
}

/// Asked before a decode holds `n` more bytes; false refuses.
pub type Allowance<'f> = &'f mut dyn FnMut(usize) -> bool;

/// The limits of one decode.
pub struct Bounds<'f> {
    max_series: usize,
    allowance: Option<Allowance<'f>>,
    held_bytes: usize,
}

impl<'f> Bounds<'f> {
    /// At most `max_series` series, growth asked of `allowance`.
    pub fn new(max_series: usize, allowance: Allowance<'f>) -> Bounds<'f> {
        Bounds {
            max_series,
            allowance: Some(allowance),
            held_bytes: 0,
        }
    }

    /// No limits (tests, tools and fuzzing of trusted sizes).
    pub fn none() -> Bounds<'static> {
        Bounds {
            max_series: usize::MAX,
            allowance: None,
            held_bytes: 0,
        }
    }

    /// Bytes this decode has been allowed so far.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Accounts for `n` bytes the decode starts out holding (reused
    /// buffers).
    pub(crate) fn hold(&mut self, n: usize) -> Result<(), DecodeError> {
        if let Some(allow) = &mut self.allowance
            && n > 0
            && !allow(n)
        {
            return Err(DecodeError::OverBudget {
                held_bytes: self.held_bytes,
            });
        }
        self.held_bytes = self.held_bytes.saturating_add(n);
        Ok(())
    }

    /// Pushes onto `v`, asking first for the room a reallocation takes.
    #[inline]
    pub(crate) fn push<T>(&mut self, v: &mut Vec<T>, x: T) -> Result<(), DecodeError> {
        if v.len() == v.capacity() {
            // Vec doubles, from at least 4 elements; the whole new
            // allocation is counted, since the old one is live while it
            // is copied and the allocator may keep its pages a while.
            let grown = v.capacity().saturating_mul(2).max(4);
            self.hold(grown.saturating_mul(size_of::<T>()))?;
        }
        v.push(x);
        Ok(())
    }

    /// Fails once `series` is over the series limit.
    #[inline]
    pub(crate) fn check_series(&self, series: usize) -> Result<(), DecodeError> {
        if series > self.max_series {
            return Err(DecodeError::TooManySeries {
                max: self.max_series,
            });
        }
        Ok(())
    }
}

/// Bytes a vector's allocation holds.
pub(crate) fn capacity_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity().saturating_mul(size_of::<T>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_asked_for_before_it_happens() {
        let mut asked = Vec::new();
        let mut allow = |n: usize| {
            asked.push(n);
            asked.iter().sum::<usize>() <= 96
        };
        let mut b = Bounds::new(1, &mut allow);
        let mut v: Vec<u64> = Vec::new();
        for i in 0..8 {
            b.push(&mut v, i).unwrap();
        }
        assert_eq!(b.held_bytes(), 96);
        assert!(matches!(
            b.push(&mut v, 8),
            Err(DecodeError::OverBudget { held_bytes: 96 })
        ));
        assert_eq!(v.len(), 8, "nothing pushed past the refusal");
        assert!(b.check_series(1).is_ok());
        assert_eq!(
            b.check_series(2),
            Err(DecodeError::TooManySeries { max: 1 })
        );
        assert_eq!(asked, [32, 64, 128]);
    }
}
