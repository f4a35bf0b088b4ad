//! The labels an aggregation groups a series under.

use super::value::{named, names_metric};
use crate::parser::ast::Grouping;
use hourglass_storage::Labels;

/// The labels a series is grouped under.
pub(crate) fn group_key(l: &Labels, g: &Option<Grouping>) -> Labels {
    match g {
        None => Labels::default(),
        Some(Grouping::By(names)) => Labels::from_pairs(
            l.iter()
                .map(|p| (named(&p.name), &*p.value))
                .filter(|(name, _)| names.iter().any(|n| n == name)),
        ),
        Some(Grouping::Without(names)) => Labels::from_pairs(
            l.iter()
                .filter(|p| !names_metric(&p.name) && !names.iter().any(|n| n == &*p.name))
                .map(|p| (&*p.name, &*p.value)),
        ),
    }
}

pub(crate) fn valid_label_name(s: &str) -> bool {
    // Prometheus 3 accepts any UTF-8 name; only the empty name is invalid.
    !s.is_empty()
}
