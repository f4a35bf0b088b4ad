//! Subcommands.

pub mod bench;
pub mod check;
pub mod export;
pub mod import;
pub mod inspect;
pub mod promql;
pub mod serve;
pub mod verify;
