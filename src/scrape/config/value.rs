//! Scalar values as Prometheus writes them in YAML.

use serde::{Deserialize, Deserializer};
use std::fmt::Display;
use std::time::Duration;

/// A string value read by `parse`; its error is the deserializer's.
fn from_text<'de, D: Deserializer<'de>, T, E: Display>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, D::Error> {
    parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// A duration written as Prometheus writes one (`15s`, `1m30s`, `100ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dur(pub(super) Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, hourglass_query::duration::parse_duration).map(Dur)
    }
}

/// A byte size (`10MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Size(pub(super) u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, crate::size::parse_size).map(Size)
    }
}
