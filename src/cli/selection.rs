//! What an offline command reads: the series its `--match` selectors pick
//! in `[--start, --end]`. One place for the flags, their defaults and the
//! messages that name them (`delete`, `export` and `cardinality` take them).

use crate::prom_time::{MAX_TIME_MS, MIN_TIME_MS, parse_time};
use hourglass_storage::Matcher;

/// `--match`, `--start` and `--end`.
#[derive(Debug, clap::Args)]
pub struct SelectionArgs {
    /// Series selector, e.g. `up{job="node"}`; repeat for several.
    #[arg(long = "match", value_name = "SELECTOR")]
    matches: Vec<String>,
    /// Start: Unix seconds or RFC 3339 (default: the beginning).
    #[arg(long)]
    start: Option<String>,
    /// End: Unix seconds or RFC 3339 (default: the end).
    #[arg(long)]
    end: Option<String>,
}

/// The parsed selection: one matcher set per `--match`, and the inclusive
/// range in milliseconds.
#[derive(Debug)]
pub struct Selection {
    /// One set per `--match`, in the order given.
    pub sets: Vec<Vec<Matcher>>,
    /// Start of the range, ms.
    pub start: i64,
    /// End of the range, ms.
    pub end: i64,
}

impl SelectionArgs {
    /// Parses the flags; an error names the flag and the reason. With
    /// `need_match`, no `--match` at all is an error.
    pub fn parse(&self, need_match: bool) -> anyhow::Result<Selection> {
        if need_match && self.matches.is_empty() {
            anyhow::bail!("--match: at least one selector is required");
        }
        let start = time_arg("start", self.start.as_deref(), MIN_TIME_MS)?;
        let end = time_arg("end", self.end.as_deref(), MAX_TIME_MS)?;
        if end < start {
            anyhow::bail!("--end is before --start");
        }
        let sets = self
            .matches
            .iter()
            .map(|m| {
                crate::api::params::parse_selector(m)
                    .map_err(|e| anyhow::anyhow!("--match {m:?}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Selection { sets, start, end })
    }
}

fn time_arg(name: &str, v: Option<&str>, default: i64) -> anyhow::Result<i64> {
    v.map_or(Ok(default), |s| {
        parse_time(s).map_err(|e| anyhow::anyhow!("--{name}: {e}"))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn args(matches: &[&str], start: Option<&str>, end: Option<&str>) -> SelectionArgs {
        SelectionArgs {
            matches: matches.iter().map(|s| s.to_string()).collect(),
            start: start.map(str::to_string),
            end: end.map(str::to_string),
        }
    }

    #[test]
    fn defaults_cover_all_time() {
        let s = args(&["up"], None, None).parse(true).unwrap();
        assert_eq!((s.start, s.end), (MIN_TIME_MS, MAX_TIME_MS));
        assert_eq!(s.sets.len(), 1);
    }

    #[test]
    fn errors_name_the_flag() {
        let e = args(&[], None, None).parse(true).unwrap_err().to_string();
        assert!(e.contains("--match"), "{e}");
        let e = args(&["up"], Some("soon"), None)
            .parse(true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--start"), "{e}");
        let e = args(&["up"], Some("20"), Some("10"))
            .parse(true)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "--end is before --start");
        let e = args(&["rate(up[5m])"], None, None)
            .parse(true)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--match"), "{e}");
        assert!(args(&[], None, None).parse(false).is_ok());
    }
}
