//! Cardinality statistics: where the series and samples are.

use super::{Head, lock, read};
use std::collections::HashMap;

/// Series and samples per metric, per label name and per label pair.
/// Lists are sorted by series count, largest first, and cut to `top`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cardinality {
    /// Live series.
    pub series: u64,
    /// Samples held.
    pub samples: u64,
    /// `(metric name, series, samples)`.
    pub by_metric: Vec<(String, u64, u64)>,
    /// `(label name, series carrying it, distinct values)`.
    pub by_label_name: Vec<(String, u64, u64)>,
    /// `(label name, value, series)`.
    pub by_label_pair: Vec<(String, String, u64)>,
}

impl Head {
    /// Cardinality statistics; costs one pass over all series.
    pub fn cardinality(&self, top: usize) -> Cardinality {
        let series: Vec<_> = read(&self.by_id).iter().flatten().cloned().collect();
        let mut per_metric: HashMap<String, (u64, u64)> = HashMap::new();
        let mut total = 0u64;
        for s in &series {
            let n = lock(&s.data).num_samples() as u64;
            total += n;
            let e = per_metric
                .entry(
                    s.labels
                        .get(&self.interner, crate::model::labels::METRIC_NAME)
                        .unwrap_or("")
                        .to_string(),
                )
                .or_default();
            e.0 += 1;
            e.1 += n;
        }
        let p = read(&self.postings);
        let mut by_label_name: Vec<(String, u64, u64)> = p
            .label_names(None)
            .into_iter()
            .map(|n| {
                let counts = p.value_counts(&n);
                let series = counts.iter().map(|(_, c)| c).sum();
                (n, series, counts.len() as u64)
            })
            .collect();
        let mut by_label_pair: Vec<(String, String, u64)> = by_label_name
            .iter()
            .flat_map(|(n, _, _)| {
                p.value_counts(n)
                    .into_iter()
                    .map(move |(v, c)| (n.clone(), v, c))
            })
            .collect();
        let mut by_metric: Vec<(String, u64, u64)> = per_metric
            .into_iter()
            .map(|(m, (s, n))| (m, s, n))
            .collect();
        by_metric.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        by_label_name.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        by_label_pair.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        by_metric.truncate(top);
        by_label_name.truncate(top);
        by_label_pair.truncate(top);
        Cardinality {
            series: series.len() as u64,
            samples: total,
            by_metric,
            by_label_name,
            by_label_pair,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::HeadOptions;
    use crate::{Labels, Sample, WriteBatch};

    #[test]
    fn counts_series_and_samples() {
        let h = Head::new(HeadOptions::default());
        let mut b = WriteBatch::new();
        for i in 0..3 {
            let inst = format!("h{i}");
            let l = Labels::from_pairs([("__name__", "up"), ("instance", inst.as_str())]);
            b.push(l, vec![Sample::new(1, 1.0), Sample::new(2, 1.0)]);
        }
        b.push(
            Labels::from_pairs([("__name__", "x")]),
            vec![Sample::new(1, 1.0)],
        );
        h.append(&b, None).unwrap();
        let c = h.cardinality(10);
        assert_eq!((c.series, c.samples), (4, 7));
        assert_eq!(c.by_metric[0], ("up".to_string(), 3, 6));
        assert_eq!(c.by_label_name[0], ("__name__".to_string(), 4, 2));
        assert_eq!(
            c.by_label_pair[0],
            ("__name__".to_string(), "up".to_string(), 3)
        );
    }
}
