//! `hourglass promql fmt|ast`: the parser from the command line.

use clap::Subcommand;
use std::io::{BufRead, Write};
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

/// Runs a PromQL subcommand. Exits 1 if any expression is refused; each
/// refusal goes to stderr with a caret under the problem.
pub fn run(cmd: PromqlCmd) -> ExitCode {
    let (expr, show_ast) = match cmd {
        PromqlCmd::Fmt { expr } => (expr, false),
        PromqlCmd::Ast { expr } => (expr, true),
    };
    let mut out = std::io::stdout().lock();
    let mut ok = true;
    let mut one = |query: &str, out: &mut dyn Write| -> std::io::Result<()> {
        match hourglass_query::parse(query) {
            Ok(e) if show_ast => writeln!(out, "{e:#?}"),
            Ok(e) => writeln!(out, "{e}"),
            Err(e) => {
                ok = false;
                eprintln!("{e}");
                Ok(())
            }
        }
    };
    let res = if expr == "-" {
        std::io::stdin()
            .lock()
            .lines()
            .try_for_each(|line| match line {
                Ok(l) if l.trim().is_empty() => Ok(()),
                Ok(l) => one(&l, &mut out),
                Err(e) => Err(e),
            })
    } else {
        one(&expr, &mut out)
    };
    if let Err(e) = res.and_then(|()| out.flush()) {
        eprintln!("hourglass promql: {e}");
        return ExitCode::FAILURE;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
