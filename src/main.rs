//! `hourglass`: the server and the offline CLI.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    Serve(Box<cli::serve::ServeArgs>),
    /// Benchmarks against a running server.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
    /// Write series matching selectors as JSON lines (offline).
    Export(cli::export::ExportArgs),
    /// Read JSON lines, text exposition or OpenMetrics with timestamps into storage
    /// (offline); old hours become partitions.
    Import(cli::import::ImportArgs),
    /// Print partitions, series, samples and bytes per sample on disk.
    Inspect(cli::inspect::InspectArgs),
    /// Compact a stopped data directory: merge partitions, apply deletions
    /// and retention rules.
    Compact(cli::compact::CompactArgs),
    /// Delete series from a stopped data directory, then compact so the
    /// bytes leave the disk.
    Delete(cli::delete::DeleteArgs),
    /// Check every checksum (WAL, checkpoint, partitions, groups file, targets
    /// registry); exit 1 naming each damaged file; --repair moves them aside.
    Verify(cli::verify::VerifyArgs),
    /// Series per metric, label, value and source over any time range, and
    /// new series per hour, from a stopped data directory.
    Cardinality(cli::cardinality::CardinalityArgs),
    /// Snapshot a stopped data directory into one that opens as a --data-dir.
    Snapshot(cli::snapshot::SnapshotArgs),
    /// Check rule files as `promtool check rules` does.
    Check {
        #[command(subcommand)]
        cmd: cli::check::CheckCmd,
    },
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
#[allow(unsafe_code)] // see storage/UNSAFE.md
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and only sets a
    // flag on this process; failure leaves THP as it was, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Has mimalloc give freed pages back to the OS at once instead of after
/// mimalloc 3's 1 s. A delay is only purged by the thread that freed the
/// memory when it next allocates, so a thread that then idles (a persist
/// or merge between rounds, a blocking thread after a burst) keeps it:
/// with 10 ms, RSS after a 24 h jittered replay and the query suite was
/// 135 MB, 111 MB of it anonymous; at once, 115 and 92, at the same
/// ingest CPU (0.48 µs a sample both, two alternated runs each). Under a
/// burst of large request bodies a delay pushed peak RSS to twice the
/// in-flight body budget (240 MiB against 96 MiB at 1 s). `MIMALLOC_PURGE_DELAY`
/// still overrides it.
#[allow(unsafe_code)] // see storage/UNSAFE.md
fn shorten_allocator_purge_delay() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (mimalloc 3,
    // as libmimalloc-sys builds it by default).
    const MI_OPTION_PURGE_DELAY: libc::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: libc::c_int, value: libc::c_long);
    }
    // SAFETY: mi_option_set takes an option number and a value and only
    // stores the value; the number is the one mimalloc.h gives.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    shorten_allocator_purge_delay();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve(args) => {
            init_logging(cli.log_level.as_deref());
            if let Some(m) = matches.subcommand_matches("serve") {
                cli::serve::record_flags(m);
            }
            report(cli::serve::run(*args))
        }
        Command::Bench {
            cmd: BenchCmd::Ingest(args),
        } => report(cli::bench::ingest(args)),
        Command::Export(args) => report(cli::export::run(args)),
        Command::Import(args) => report(cli::import::run(args)),
        Command::Inspect(args) => report(cli::inspect::run(args)),
        Command::Compact(args) => report(cli::compact::run(args)),
        Command::Delete(args) => report(cli::delete::run(args)),
        Command::Verify(args) => report(cli::verify::run(args)),
        Command::Snapshot(args) => report(cli::snapshot::run(args)),
        Command::Cardinality(args) => report(cli::cardinality::run(args)),
        Command::Promql { cmd } => cli::promql::run(cmd),
        Command::Check { cmd } => cli::check::run(cmd),
    }
}
