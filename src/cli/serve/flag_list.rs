//! The effective value of every `hourglass serve` flag, for
//! `/api/v1/status/hourglass/flags`.

use super::ServeArgs;
use clap::{ArgMatches, Args};

/// Serves the flags `matches` resolved on the flags endpoint.
pub fn record(matches: &ArgMatches) {
    crate::api::flags::record(effective(matches));
}

/// Each flag's long name and value as clap resolved it (command line,
/// environment or default; empty when unset), in declaration order.
fn effective(matches: &ArgMatches) -> Vec<(String, String)> {
    let cmd = ServeArgs::augment_args(clap::Command::new("serve"));
    cmd.get_arguments()
        .filter_map(|arg| {
            let name = arg.get_long()?.to_string();
            let value = matches
                .try_get_raw(arg.get_id().as_str())
                .ok()
                .flatten()
                .map(|vals| {
                    vals.map(|v| v.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            Some((name, value))
        })
        .collect()
}
