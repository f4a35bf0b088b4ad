//! The trim operators: `h </ x` keeps the observations at or below `x`,
//! `h >/ x` those at or above. A bucket the cut falls into keeps the share
//! an interpolation gives it (logarithmic in exponential buckets, linear
//! in custom and zero buckets). The sum loses an estimate of what was cut
//! away: each bucket's observations taken at its middle, as Prometheus
//! estimates them.

use super::bounds::positive_bounds;
use super::buckets::{from_pairs, pairs};
use hourglass_storage::FloatHistogram;

/// Which side of the cut survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// `</`: observations <= cut.
    Below,
    /// `>/`: observations >= cut.
    Above,
}

/// One bucket's share kept and the value the cut-away share is taken at.
struct Cut {
    kept: f64,
    removed_at: f64,
}

/// Share of `(lo, hi]` below `cut` (lo < cut < hi), on a log scale for
/// exponential buckets (both bounds of one sign), else linearly.
fn below_share(lo: f64, hi: f64, cut: f64, log: bool) -> f64 {
    if !log {
        return (cut - lo) / (hi - lo);
    }
    if lo >= 0.0 {
        (cut.log2() - lo.log2()) / (hi.log2() - lo.log2())
    } else {
        (lo.abs().log2() - cut.abs().log2()) / (lo.abs().log2() - hi.abs().log2())
    }
}

/// Geometric middle of `(a, b)` (one sign), signed.
fn geo_mid(a: f64, b: f64) -> f64 {
    let m = (a * b).abs().sqrt();
    if a < 0.0 || b < 0.0 { -m } else { m }
}

/// An exponential (or zero, `zero`) bucket `(lo, hi]` against the cut.
fn exponential(lo: f64, hi: f64, cut: f64, keep: Keep, zero: bool) -> Cut {
    let whole_at = if zero { 0.0 } else { (lo * hi).abs().sqrt() };
    let inside = lo < cut && cut < hi;
    if !inside {
        let kept = match keep {
            Keep::Below => hi <= cut,
            Keep::Above => lo >= cut,
        };
        return Cut {
            kept: if kept { 1.0 } else { 0.0 },
            removed_at: whole_at,
        };
    }
    let below = below_share(lo, hi, cut, !zero);
    let (kept, kept_lo, kept_hi) = match keep {
        Keep::Below => (below, lo, cut),
        Keep::Above => (1.0 - below, cut, hi),
    };
    Cut {
        kept,
        removed_at: if zero { 0.0 } else { geo_mid(kept_lo, kept_hi) },
    }
}

/// A custom bucket `(lo, hi]` against the cut; the first bucket's lower
/// bound (-Inf) stands for 0 when its upper bound is positive.
fn custom(lo: f64, hi: f64, cut: f64, keep: Keep) -> Cut {
    let none = |at: f64| Cut {
        kept: 0.0,
        removed_at: at,
    };
    let all = Cut {
        kept: 1.0,
        removed_at: 0.0,
    };
    if hi == f64::INFINITY {
        // The overflow bucket is kept whole or not at all.
        let whole = match keep {
            Keep::Below => cut == f64::INFINITY,
            Keep::Above => cut <= lo,
        };
        return if whole { all } else { none(lo) };
    }
    if lo == f64::NEG_INFINITY {
        if hi <= 0.0 || (keep == Keep::Above && cut < 0.0) {
            let whole = keep == Keep::Below && cut >= hi;
            return if whole { all } else { none(hi) };
        }
        return linear(0.0, hi, cut, keep, hi, |a, b| (a + b) / 2.0);
    }
    let mid = (lo + hi) / 2.0;
    linear(lo, hi, cut, keep, mid, |_, _| mid)
}

/// `(lo, hi]` cut where `cut` falls, its count spread evenly: a bucket
/// removed whole counts at `whole_at`, the removed part `(a, b]` of a
/// bucket cut inside at `part_at(a, b)`.
fn linear(
    lo: f64,
    hi: f64,
    cut: f64,
    keep: Keep,
    whole_at: f64,
    part_at: impl Fn(f64, f64) -> f64,
) -> Cut {
    if cut <= lo || cut >= hi {
        let kept = match keep {
            Keep::Below => cut >= hi,
            Keep::Above => cut <= lo,
        };
        return Cut {
            kept: if kept { 1.0 } else { 0.0 },
            removed_at: if kept { 0.0 } else { whole_at },
        };
    }
    let below = (cut - lo) / (hi - lo);
    match keep {
        Keep::Below => Cut {
            kept: below,
            removed_at: part_at(cut, hi),
        },
        Keep::Above => Cut {
            kept: 1.0 - below,
            removed_at: part_at(lo, cut),
        },
    }
}

/// `h </ cut` or `h >/ cut`.
pub(crate) fn trim(h: &FloatHistogram, cut: f64, keep: Keep) -> FloatHistogram {
    let untouched = match keep {
        Keep::Below => cut == f64::INFINITY,
        Keep::Above => cut == f64::NEG_INFINITY,
    };
    if untouched || cut.is_nan() {
        return h.clone();
    }
    let mut out = h.clone();
    let (mut count, mut removed) = (0.0, 0.0);
    let custom_buckets = h.uses_custom_buckets();
    let mut side = |spans, counts, negative: bool| -> Vec<(i32, f64)> {
        pairs(spans, counts)
            .into_iter()
            .map(|(idx, c)| {
                let (mlo, mhi) = positive_bounds(h, idx);
                let cut_result = if custom_buckets {
                    custom(mlo, mhi, cut, keep)
                } else if negative {
                    exponential(-mhi, -mlo.max(h.zero_threshold), cut, keep, false)
                } else {
                    exponential(mlo.max(h.zero_threshold), mhi, cut, keep, false)
                };
                let kept = c * cut_result.kept;
                let gone = c - kept;
                if gone != 0.0 {
                    // Whole buckets count at their magnitude, as Prometheus
                    // counts them.
                    let at = if cut_result.kept == 0.0 && !custom_buckets {
                        cut_result.removed_at.abs()
                    } else {
                        cut_result.removed_at
                    };
                    removed += gone * at;
                }
                count += kept;
                (idx, kept)
            })
            .collect()
    };
    let pos = side(&h.positive_spans, &h.positive_buckets, false);
    let neg = side(&h.negative_spans, &h.negative_buckets, true);
    (out.positive_spans, out.positive_buckets) = from_pairs(&pos);
    (out.negative_spans, out.negative_buckets) = from_pairs(&neg);
    if !custom_buckets && h.zero_count != 0.0 {
        let t = h.zero_threshold;
        let z = exponential(-t, t, cut, keep, true);
        out.zero_count = h.zero_count * z.kept;
    }
    count += out.zero_count;
    out.count = count;
    out.sum = if count == 0.0 { 0.0 } else { h.sum - removed };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hourglass_storage::{CounterResetHint, Span};

    #[test]
    fn custom_buckets_trim_linearly_and_keep_the_sum_estimate() {
        let h = FloatHistogram {
            counter_reset_hint: CounterResetHint::Unknown,
            schema: -53,
            zero_threshold: 0.0,
            zero_count: 0.0,
            count: 15.0,
            sum: 172.5,
            positive_spans: vec![Span::new(0, 5)],
            negative_spans: Vec::new(),
            positive_buckets: vec![1.0, 6.0, 4.0, 3.0, 1.0],
            negative_buckets: Vec::new(),
            custom_values: vec![5.0, 10.0, 15.0, 20.0],
        };
        let t = trim(&h, 13.0, Keep::Below);
        assert!((t.count - 9.4).abs() < 1e-9, "{}", t.count);
        assert!((t.sum - 80.0).abs() < 1e-9, "{}", t.sum);
        let t = trim(&h, 13.0, Keep::Above);
        assert!((t.count - 5.6).abs() < 1e-9, "{}", t.count);
        assert!((t.sum - 92.5).abs() < 1e-9, "{}", t.sum);
        assert_eq!(trim(&h, f64::INFINITY, Keep::Below).sum, 172.5);
    }
}
