//! Query results, and the step-grid form the evaluator works on inside.

use super::error::EvalError;
use hourglass_storage::{FloatHistogram, Labels, Sample};
use std::collections::HashMap;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation time (ms).
    pub t: i64,
    /// The value (NaN when the sample is a histogram).
    pub v: f64,
    /// The sample when it is a native histogram.
    pub h: Option<Box<FloatHistogram>>,
}

/// One series of a range-vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Float points in time order.
    pub points: Vec<Sample>,
    /// Histogram points in time order (never at a time of `points`).
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A float at the evaluation time.
    Scalar {
        /// Evaluation time (ms).
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string literal at the evaluation time.
    String {
        /// Evaluation time (ms).
        t: i64,
        /// The string.
        s: String,
    },
    /// An instant vector; ordered only after `sort*`, `topk`/`bottomk`.
    Vector(Vec<InstantSample>),
    /// A range vector (range queries, or instant queries of `x[5m]`),
    /// sorted by labels.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// Points the result holds (one per sample, scalar or string).
    pub fn points(&self) -> usize {
        match self {
            Value::Scalar { .. } | Value::String { .. } => 1,
            Value::Vector(v) => v.len(),
            Value::Matrix(m) => m.iter().map(|s| s.points.len() + s.histograms.len()).sum(),
        }
    }
}

/// The evaluation times of one (sub)query: `start + k*step` for `k < n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl Grid {
    pub fn t(&self, k: usize) -> i64 {
        self.start
            .saturating_add(self.step.saturating_mul(k as i64))
    }

    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.n).map(|k| self.t(k))
    }

    /// The steps of `per_step` that hold a value, with their times.
    pub fn timed<T>(&self, per_step: Vec<Option<T>>) -> Vec<(i64, T)> {
        per_step
            .into_iter()
            .enumerate()
            .filter_map(|(k, x)| x.map(|x| (self.t(k), x)))
            .collect()
    }
}

/// One series of an instant-vector expression over the whole grid:
/// `vals[k]` is its value at step `k`, if it has one there. `hists` is
/// empty for a series without native histograms (the float path never
/// allocates it); otherwise `hists[k]` is its histogram at step `k`, and
/// a step holds a float or a histogram, never both.
#[derive(Debug, Clone)]
pub(crate) struct GSeries {
    pub labels: Labels,
    pub vals: Vec<Option<f64>>,
    pub hists: Vec<Option<FloatHistogram>>,
}

impl GSeries {
    /// True when the series has a float or a histogram at some step.
    pub fn has_any(&self) -> bool {
        self.vals.iter().any(Option::is_some) || self.hists.iter().any(Option::is_some)
    }

    /// The histogram at step `k`, if any.
    pub fn hist(&self, k: usize) -> Option<&FloatHistogram> {
        self.hists.get(k).and_then(Option::as_ref)
    }

    /// Takes the floats and histograms of `s` (same labels) into this
    /// series' steps. False at the first step where both have one: the
    /// series is then partly merged, and the caller raises its error.
    pub fn absorb(&mut self, s: &GSeries) -> bool {
        for k in 0..self.vals.len() {
            let (v, h) = (s.vals.get(k).copied().flatten(), s.hist(k));
            if v.is_none() && h.is_none() {
                continue;
            }
            if self.vals[k].is_some() || self.hist(k).is_some() {
                return false;
            }
            self.vals[k] = v;
            if let Some(h) = h {
                if self.hists.is_empty() {
                    self.hists = vec![None; self.vals.len()];
                }
                self.hists[k] = Some(h.clone());
            }
        }
        true
    }
}

/// An evaluated expression over the grid.
#[derive(Debug, Clone)]
pub(crate) enum GValue {
    Scalar(Vec<f64>),
    String(String),
    Vector(Vec<GSeries>),
}

/// The samples (16-byte units) the grid rows of `v` take.
pub(crate) fn samples_held(v: &GValue) -> usize {
    match v {
        GValue::Scalar(vals) => vals.len().div_ceil(2),
        GValue::String(_) => 0,
        GValue::Vector(series) => series.iter().map(|s| s.vals.len()).sum(),
    }
}

/// A range vector's raw series: samples, stale markers removed.
#[derive(Debug, Clone)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    pub hists: Vec<(i64, FloatHistogram)>,
}

/// Merges series that carry the same labels. Two values at the same step
/// are the "same labelset" error Prometheus raises; series with no value
/// at all are dropped. Keeps first-seen order.
pub(crate) fn merge_same_labels(series: Vec<GSeries>) -> Result<Vec<GSeries>, EvalError> {
    let mut out: Vec<GSeries> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    for s in series {
        if !s.has_any() {
            continue;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let dst = &mut out[i];
                if !dst.absorb(&s) {
                    return Err(EvalError::DuplicateLabelset {
                        labels: dst.labels.to_string(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// True when every series carries the same metric name: dropping it then
/// cannot make two labelsets equal, so the merge check can be skipped.
pub(crate) fn one_name<'a>(mut labels: impl Iterator<Item = &'a Labels>) -> bool {
    let Some(first) = labels.next() else {
        return true;
    };
    let first = first.metric_name();
    labels.all(|l| l.metric_name() == first)
}

/// [`merge_same_labels`] unless the labels are known to be distinct.
pub(crate) fn merge_unless_distinct(
    mut series: Vec<GSeries>,
    distinct: bool,
) -> Result<Vec<GSeries>, EvalError> {
    if distinct {
        series.retain(GSeries::has_any);
        Ok(series)
    } else {
        merge_same_labels(series)
    }
}

/// `t` rounded down (towards minus infinity) to a multiple of `align`,
/// as the `align` selector modifier reads.
pub(crate) fn align_down(t: i64, align: i64) -> i64 {
    if align <= 0 {
        return t;
    }
    t.saturating_sub(t.rem_euclid(align))
}

/// Labels without `__name__`.
pub(crate) fn drop_name(l: &Labels) -> Labels {
    if l.get(TYPE).is_none() && l.get(UNIT).is_none() {
        return l.without(NAME);
    }
    Labels::from_pairs(
        l.iter()
            .filter(|p| !names_metric(&p.name))
            .map(|p| (&*p.name, &*p.value)),
    )
}

/// The label carrying the metric name.
pub(crate) const NAME: &str = "__name__";
/// The metric type and unit labels of Prometheus 3's type-and-unit
/// labels: they describe the metric name, so they go wherever it goes
/// and vector matching looks through them.
pub(crate) const TYPE: &str = "__type__";
/// See [`TYPE`].
pub(crate) const UNIT: &str = "__unit__";

/// Under delayed name removal, where an operation that drops the metric
/// name puts it instead: matching and grouping look through it as through
/// `__name__` (`on(__name__)` and `by (__name__)` still see the name,
/// `label_replace` can still read it), and the end of the query removes it.
pub(crate) const DEFERRED_NAME: &str = "__hourglass_dropped_name__";

/// `__name__`, `__type__`, `__unit__` or a deferred name.
pub(crate) fn names_metric(label: &str) -> bool {
    label == NAME || label == TYPE || label == UNIT || label == DEFERRED_NAME
}

/// A label's name as matching and grouping see it: a deferred name is the
/// metric name.
pub(crate) fn named(name: &str) -> &str {
    if name == DEFERRED_NAME { NAME } else { name }
}

/// [`drop_name`] under delayed name removal: the name (or one already
/// deferred) moves to [`DEFERRED_NAME`].
pub(crate) fn defer_name(l: &Labels) -> Labels {
    let Some(name) = metric_name_of(l) else {
        return drop_name(l);
    };
    Labels::from_pairs(
        l.iter()
            .filter(|p| !names_metric(&p.name))
            .map(|p| (&*p.name, &*p.value))
            .chain(std::iter::once((DEFERRED_NAME, name))),
    )
}

/// The metric name as an operation reading `__name__` sees it: the live
/// one, or one whose removal is deferred.
pub(crate) fn metric_name_of(l: &Labels) -> Option<&str> {
    l.get(NAME).or_else(|| l.get(DEFERRED_NAME))
}

/// The end of a query under delayed name removal: deferred names go, and
/// series left with one labelset are merged (an error where they meet).
pub(crate) fn finish_deferred(mut series: Vec<GSeries>) -> Result<Vec<GSeries>, EvalError> {
    for s in &mut series {
        if s.labels.get(DEFERRED_NAME).is_some() {
            s.labels = s.labels.without(DEFERRED_NAME);
        }
    }
    merge_same_labels(series)
}

impl super::Ctx<'_> {
    /// The labels of a result that no longer carries the metric name:
    /// without it, or with it deferred under delayed name removal.
    pub(crate) fn drop_name(&self, l: &Labels) -> Labels {
        if self.delayed_names {
            defer_name(l)
        } else {
            drop_name(l)
        }
    }

    /// A query's final series: deferred names removed.
    pub(crate) fn finish(&self, series: Vec<GSeries>) -> Result<Vec<GSeries>, EvalError> {
        if self.delayed_names {
            finish_deferred(series)
        } else {
            Ok(series)
        }
    }
}
