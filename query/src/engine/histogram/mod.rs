//! Native histogram arithmetic for PromQL: bucket bounds, the bucket
//! listing, addition and subtraction across schemas and zero buckets,
//! quantiles, fractions and variance, and counter-reset detection.

pub mod arith;
pub(crate) mod bounds;
pub mod buckets;
pub(crate) mod quantile;
pub(crate) mod reset;
pub(crate) mod trim;
