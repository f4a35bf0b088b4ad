//! `histogram_quantile` and `histogram_fraction` on native histograms:
//! linear interpolation inside custom and zero buckets, logarithmic
//! inside exponential ones (whose bounds are linear on a log scale).

use super::buckets::{Bucket, all_buckets};
use crate::engine::numeric::kahan_inc;
use hourglass_storage::FloatHistogram;

/// True when `b` is the zero bucket (or a bucket spanning zero).
fn spans_zero(b: &Bucket) -> bool {
    b.lower <= 0.0 && b.upper >= 0.0
}

/// Narrows a bucket spanning zero to the side the histogram has buckets on.
fn one_sided(h: &FloatHistogram, b: &mut Bucket) {
    if h.uses_custom_buckets() || !spans_zero(b) {
        return;
    }
    if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
        b.lower = 0.0;
    } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
        b.upper = 0.0;
    }
}

/// The φ-quantile of the observations in `h`.
pub(crate) fn quantile(q: f64, h: &FloatHistogram) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let mut buckets = all_buckets(h);
    // NaN observations count but sit in no bucket: only the forward walk
    // finds them out.
    let forward = h.sum.is_nan() || q < 0.5;
    if !forward {
        buckets.reverse();
    }
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut bucket = None;
    for b in &buckets {
        count += b.count;
        bucket = Some(*b);
        if count >= rank {
            break;
        }
    }
    let Some(mut b) = bucket else {
        return f64::NAN;
    };
    if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    } else {
        one_sided(h, &mut b);
    }
    count = count.min(h.count);
    if count < rank {
        // Only NaN observations lie beyond the last bucket.
        return if h.sum.is_nan() { f64::NAN } else { b.upper };
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    let fraction = rank / b.count;
    if h.uses_custom_buckets() || spans_zero(&b) {
        return b.lower + (b.upper - b.lower) * fraction;
    }
    let (log_lower, log_upper) = (b.lower.abs().log2(), b.upper.abs().log2());
    if b.lower > 0.0 {
        (log_lower + (log_upper - log_lower) * fraction).exp2()
    } else {
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    }
}

/// The fraction of observations in `h` between `lower` and `upper`.
pub(crate) fn fraction(lower: f64, upper: f64, h: &FloatHistogram) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let custom = h.uses_custom_buckets();
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for mut b in all_buckets(h) {
        let zero = !custom && spans_zero(&b);
        one_sided(h, &mut b);
        if custom && b.lower == f64::NEG_INFINITY && b.upper > 0.0 {
            b.lower = 0.0;
        }
        let linear = |v: f64| rank + b.count * (v - b.lower) / (b.upper - b.lower);
        let logarithmic = |v: f64| {
            let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
            let f = if v > 0.0 {
                (lv - ll) / (lu - ll)
            } else {
                1.0 - (lv - lu) / (ll - lu)
            };
            rank + b.count * f
        };
        let at = |v: f64| {
            if custom || zero {
                linear(v)
            } else {
                logarithmic(v)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = at(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = at(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += b.count;
    }
    // Past the last bucket only NaN observations remain, which no
    // fraction includes.
    if !lower_set {
        lower_rank = rank;
    }
    if !upper_set {
        upper_rank = rank;
    }
    lower_rank = lower_rank.min(h.count);
    upper_rank = upper_rank.min(h.count);
    (upper_rank - lower_rank) / h.count
}

/// The variance of the observations, each taken at its bucket's middle
/// (geometric for exponential buckets, 0 in the zero bucket).
pub(crate) fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let custom = h.uses_custom_buckets();
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for b in all_buckets(h) {
        let v = if custom {
            (b.upper + b.lower) / 2.0
        } else if spans_zero(&b) {
            0.0
        } else {
            let m = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -m } else { m }
        };
        let d = v - mean;
        (sum, c) = kahan_inc(b.count * d * d, sum, c);
    }
    let sum = if sum.is_infinite() { sum } else { sum + c };
    sum / h.count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::histogram::buckets::positive;

    fn h(pos: &[(i32, f64)], zero: f64) -> FloatHistogram {
        positive(0, pos, zero, 5.0)
    }

    #[test]
    fn quantiles_interpolate_on_a_log_scale() {
        // Buckets (0.5,1]:1 (1,2]:2 (2,4]:1.
        let x = h(&[(0, 1.0), (1, 2.0), (2, 1.0)], 0.0);
        assert!((quantile(0.5, &x) - 2f64.sqrt()).abs() < 1e-12);
        // rank 1 of 4 ends bucket (0.5, 1].
        assert_eq!(quantile(0.25, &x), 1.0);
        assert!((quantile(0.375, &x) - 2f64.powf(0.25)).abs() < 1e-12);
        assert_eq!(quantile(1.0, &x), 4.0);
        assert!(quantile(-1.0, &x).is_infinite());
        assert!((fraction(1.0, 2.0, &x) - 0.5).abs() < 1e-12);
        assert!((fraction(f64::NEG_INFINITY, f64::INFINITY, &x) - 1.0).abs() < 1e-12);
        let zero = h(&[(0, 1.0)], 1.0);
        // The zero bucket of a positive-only histogram is [0, 0.001].
        assert!((quantile(0.25, &zero) - 0.0005).abs() < 1e-12);
        assert!(variance(&x) >= 0.0);
    }
}
