//! Scalar values as Prometheus writes them in YAML.

use serde::Deserialize;
use std::time::Duration;

/// A duration written as Prometheus writes one (`15s`, `1m30s`, `100ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dur(pub(super) Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hourglass_query::duration::parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// A byte size (`10MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Size(pub(super) u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::size::parse_size(&s)
            .map(Size)
            .map_err(serde::de::Error::custom)
    }
}
