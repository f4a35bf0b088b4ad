//! Subcommands.

pub mod inspect;
pub mod promql;
pub mod serve;
