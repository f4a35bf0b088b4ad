//! Subcommands.

pub mod bench;
pub mod inspect;
pub mod promql;
pub mod serve;
