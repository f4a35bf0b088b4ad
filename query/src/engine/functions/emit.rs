//! [`Emit`]: where a per-series function hands its value for each step.

/// Receives one series' values, each with its step's index.
///
/// Closures `FnMut(usize, f64)` are sinks that take one value at a time.
/// A sink that can fold a whole run of consecutive steps at once (an
/// aggregation adding into per-step cells, in a loop the compiler can
/// vectorise) implements [`Emit::run`] too.
pub(crate) trait Emit {
    /// The value at step `k`.
    fn one(&mut self, k: usize, x: f64);

    /// The values at steps `k0`, `k0 + 1`, … in order.
    #[inline]
    fn run(&mut self, k0: usize, xs: &[f64]) {
        for (i, &x) in xs.iter().enumerate() {
            self.one(k0 + i, x);
        }
    }
}

impl<F: FnMut(usize, f64)> Emit for F {
    #[inline]
    fn one(&mut self, k: usize, x: f64) {
        self(k, x)
    }
}
