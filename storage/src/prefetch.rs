//! Cache prefetch hints for walks over many series, whose data sits
//! behind pointers the CPU cannot guess: a walk that hints the series a
//! few places ahead overlaps their cache misses instead of taking them
//! one after another.

/// Asks the CPU to bring the cache line at `p` closer. Never reads
/// memory into the program and never faults, whatever the address.
#[inline(always)]
#[allow(unsafe_code)] // see storage/UNSAFE.md
pub(crate) fn line<T: ?Sized>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is only a hint: it has no architectural effect
    // and cannot fault, even on an invalid address. SSE is part of the
    // x86-64 baseline, so the instruction always exists.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`line`] for each cache line `value` spans.
#[inline]
pub(crate) fn object<T>(value: &T) {
    let start = (value as *const T).cast::<u8>();
    let mut at = 0;
    while at < std::mem::size_of::<T>() {
        line(start.wrapping_add(at));
        at += 64;
    }
}

/// [`line`] for each cache line of `bytes`, up to `max` bytes.
#[inline]
pub(crate) fn bytes(bytes: &[u8], max: usize) {
    let len = bytes.len().min(max);
    let mut at = 0;
    while at < len {
        line(bytes[at..].as_ptr());
        at += 64;
    }
}

/// How deep into a series' data a prefetch reaches (a
/// [`crate::SampleIter`]'s, or the head's series when it selects). Each
/// level is found through the one before, so a walk asks for `Lists` a few
/// series ahead, `Chunks` nearer and `Bytes` for the next series, when the
/// level before has had time to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefetch {
    /// The list of sources (in the head: the chunk list and open chunk).
    Lists,
    /// Each source's list of chunks (in the head: the newest entries).
    Chunks,
    /// The chunks' first bytes.
    Bytes,
}
