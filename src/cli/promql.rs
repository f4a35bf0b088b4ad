//! `hourglass promql fmt|ast`: the parser from the command line.

use clap::Subcommand;
use std::process::ExitCode;

/// PromQL tools.
#[derive(Debug, Subcommand)]
pub enum PromqlCmd {
    /// Print the canonical form of an expression (`-` reads stdin, one per line).
    Fmt {
        /// The expression, or `-` for stdin.
        expr: String,
    },
    /// Print the parsed AST (debug form).
    Ast {
        /// The expression, or `-` for stdin.
        expr: String,
    },
}

/// Runs a PromQL subcommand.
pub fn run(cmd: PromqlCmd) -> ExitCode {
    eprintln!("the PromQL parser is not built yet: {cmd:?}");
    ExitCode::FAILURE
}
