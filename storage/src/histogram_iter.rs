//! A series' histogram samples as the read seam hands them out.

use crate::model::histogram::FloatHistogram;

/// Histogram samples of one selected series in strictly increasing time
/// order (duplicates across sources removed); empty for float-only series.
#[derive(Debug, Default, Clone)]
pub struct HistogramIter {
    items: std::vec::IntoIter<(i64, FloatHistogram)>,
}

impl HistogramIter {
    /// Samples already sorted by time and without duplicate timestamps.
    pub fn from_sorted(items: Vec<(i64, FloatHistogram)>) -> Self {
        HistogramIter {
            items: items.into_iter(),
        }
    }

    /// Samples from several sources, each sorted by time: merged in time
    /// order; on a timestamp several sources hold, the earliest source wins.
    pub fn merge(sources: Vec<Vec<(i64, FloatHistogram)>>) -> Self {
        let mut sources: Vec<_> = sources.into_iter().filter(|s| !s.is_empty()).collect();
        // Partitions are hours apart: sources that follow one another in
        // time are concatenated, without sorting or copying twice.
        let disjoint = sources
            .windows(2)
            .all(|w| matches!((w[0].last(), w[1].first()), (Some(a), Some(b)) if a.0 < b.0));
        let all = match sources.len() {
            0 => Vec::new(),
            1 => sources.pop().unwrap_or_default(),
            _ if disjoint => {
                let mut all = Vec::with_capacity(sources.iter().map(Vec::len).sum());
                for s in sources {
                    all.extend(s);
                }
                all
            }
            _ => {
                let mut all: Vec<(usize, i64, FloatHistogram)> = sources
                    .into_iter()
                    .enumerate()
                    .flat_map(|(i, s)| s.into_iter().map(move |(t, h)| (i, t, h)))
                    .collect();
                all.sort_by_key(|&(i, t, _)| (t, i));
                all.dedup_by_key(|x| x.1);
                all.into_iter().map(|(_, t, h)| (t, h)).collect()
            }
        };
        Self::from_sorted(all)
    }

    /// True when no sample is left.
    pub fn is_empty(&self) -> bool {
        self.items.len() == 0
    }

    /// The samples left, as a slice.
    pub fn as_slice(&self) -> &[(i64, FloatHistogram)] {
        self.items.as_slice()
    }
}

impl Iterator for HistogramIter {
    type Item = (i64, FloatHistogram);
    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for HistogramIter {}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(sum: f64) -> FloatHistogram {
        FloatHistogram {
            sum,
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn merge_keeps_time_order_and_the_first_source_on_a_tie() {
        let it = HistogramIter::merge(vec![
            vec![(1, h(1.0)), (5, h(5.0))],
            vec![],
            vec![(3, h(3.0)), (5, h(50.0)), (7, h(7.0))],
        ]);
        let got: Vec<(i64, f64)> = it.map(|(t, h)| (t, h.sum)).collect();
        assert_eq!(got, vec![(1, 1.0), (3, 3.0), (5, 5.0), (7, 7.0)]);
        assert!(HistogramIter::default().is_empty());
    }
}
