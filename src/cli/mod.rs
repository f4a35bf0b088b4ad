//! Subcommands.

pub mod promql;
pub mod serve;
