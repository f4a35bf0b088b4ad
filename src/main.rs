//! `hourglass`: the server and the offline CLI.

use clap::{Parser, Subcommand};
use hourglass::cli;
use std::process::ExitCode;

// glibc's allocator spent a third of the server's time on remote-write
// ingest (many small label strings from many threads); mimalloc's
// per-thread heaps cut that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hourglass: a time-series database for metrics.
#[derive(Debug, Parser)]
#[command(name = "hourglass", version, about)]
struct Cli {
    /// Log level or filter (e.g. `debug`, `hourglass=trace`); overrides RUST_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(cli::serve::ServeArgs),
    /// Benchmarks against a running server.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
    /// Write series matching selectors as JSON lines (offline).
    Export(cli::export::ExportArgs),
    /// Read JSON lines into storage (offline); old hours become partitions.
    Import(cli::import::ImportArgs),
    /// Print partitions, series, samples and bytes per sample on disk.
    Inspect(cli::inspect::InspectArgs),
    /// Check WAL segments, checkpoint and partitions; exit 1 naming each damaged file.
    Verify(cli::verify::VerifyArgs),
    /// PromQL tools: format or dump an expression.
    Promql {
        #[command(subcommand)]
        cmd: cli::promql::PromqlCmd,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCmd {
    /// Send node-exporter-like remote-write traffic; report samples/s and latency.
    Ingest(cli::bench::IngestArgs),
}

fn init_logging(flag: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match flag {
        Some(f) => EnvFilter::try_new(f),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hourglass: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process. With THP, mimalloc's
/// arenas are backed by 2 MiB pages: every page it returns and touches
/// again costs the kernel zeroing 2 MiB (half the server's CPU under
/// ingest, measured with perf), and RSS grows by whole huge pages (160 MB
/// instead of 66 MB for 20,000 series).
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and only sets a
    // flag on this process; failure leaves THP as it was, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging(cli.log_level.as_deref());
            report(cli::serve::run(args))
        }
        Command::Bench {
            cmd: BenchCmd::Ingest(args),
        } => report(cli::bench::ingest(args)),
        Command::Export(args) => report(cli::export::run(args)),
        Command::Import(args) => report(cli::import::run(args)),
        Command::Inspect(args) => report(cli::inspect::run(args)),
        Command::Verify(args) => report(cli::verify::run(args)),
        Command::Promql { cmd } => cli::promql::run(cmd),
    }
}
