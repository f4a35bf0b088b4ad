//! Subcommands.

pub mod bench;
pub mod cardinality;
pub mod check;
pub mod compact;
mod compactor;
pub mod delete;
pub mod export;
pub mod import;
pub mod inspect;
pub mod progress;
pub mod promql;
mod selection;
pub mod serve;
pub mod snapshot;
pub mod verify;
