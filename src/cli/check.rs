//! `hourglass check rules <file>…`: the checks `promtool check rules`
//! makes, with the same output shape (file, line, reason).

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// Checks of configuration files.
#[derive(Debug, Subcommand)]
pub enum CheckCmd {
    /// Check rule files as the server loads them; exit 1 naming file,
    /// line and reason when any is refused.
    Rules {
        /// Rule files in Prometheus's format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs a check; prints `SUCCESS: N rules found` or `FAILED:` per file.
pub fn run(cmd: CheckCmd) -> ExitCode {
    let CheckCmd::Rules { files } = cmd;
    let mut ok = true;
    for f in files {
        println!("Checking {}", f.display());
        match crate::rules::file::load(&f) {
            Ok(groups) => {
                let n: usize = groups.iter().map(|g| g.rules.len()).sum();
                println!("  SUCCESS: {n} rules found\n");
            }
            Err(e) => {
                ok = false;
                println!("  FAILED:");
                eprintln!("{e}");
                println!();
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
