//! Subcommands.

pub mod bench;
pub mod compact;
mod compactor;
pub mod delete;
pub mod export;
pub mod import;
pub mod inspect;
mod progress;
pub mod promql;
pub mod serve;
pub mod verify;
