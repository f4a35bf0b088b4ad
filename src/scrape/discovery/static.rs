//! `static_configs`: the groups as written, one per entry.

use super::TargetGroup;
use crate::scrape::config::StaticConfig;

/// The groups of a job's `static_configs`, sourced by their index.
pub fn groups(configs: &[StaticConfig]) -> Vec<TargetGroup> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| TargetGroup::from_addresses(i.to_string(), &c.targets, c.labels.clone()))
        .collect()
}
