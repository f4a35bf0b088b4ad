//! OpenMetrics `_created` lines as created timestamps, read as Prometheus's
//! OpenMetrics parser reads them when created-timestamp zero ingestion is
//! on (`CreatedTimestamp`, `_created` series skipped):
//!
//! - in a counter, summary or histogram family (not a gauge histogram, an
//!   info, a stateset or an unknown one), a sample named `…_created` is no
//!   series of its own;
//! - a sample's created timestamp is the value (seconds, truncated to ms)
//!   of the first `_created` line after it, before the next `#` line, when
//!   that line names the same metric: the sample's name cut to the
//!   family's length equals the `_created` name without its suffix, and
//!   the labels are the same in the same order, `le` (histograms) and
//!   `quantile` (summaries) left out. A `_created` line of another metric
//!   first, or none, gives none, so a `_created` line written before its
//!   samples is lost, as in Prometheus.
//!
//! The line found ahead is kept until the parser passes it, so a family's
//! samples cost one look ahead between them, not one each.

use super::{Entry, MetricKind, Parser, RawSample, SampleLine, line};

/// The `_created` line (or its absence) ahead of the current sample.
#[derive(Debug, Clone)]
pub(super) struct Ahead<'a> {
    /// Valid while the parser has not read this line number.
    until_line: usize,
    /// The `_created` line found, read; `None` when a `#` line or the end
    /// came first.
    found: Option<SampleLine<'a>>,
    /// Its series as written, for the quick comparison.
    series: &'a str,
}

/// The type words whose families carry created timestamps.
pub(super) fn has_created(type_word: &str) -> bool {
    matches!(type_word, "counter" | "summary" | "histogram")
}

/// The name of a sample written `name…`, `None` for `{"name", …}`.
fn legacy_name(series: &str) -> Option<&str> {
    if series.starts_with('{') {
        return None;
    }
    let end = series.find(['{', ' ', '\t']).unwrap_or(series.len());
    Some(&series[..end])
}

impl<'a> Parser<'a> {
    /// OpenMetrics with created timestamps: `_created` samples of counter,
    /// summary and histogram families are skipped, and
    /// [`Parser::created_ms`] gives each sample's created timestamp (see
    /// the module docs). No effect on the text format, where `_created`
    /// lines are ordinary series.
    pub fn with_created_timestamps(self) -> Parser<'a> {
        Parser {
            skip_created: self.openmetrics,
            ..self
        }
    }

    /// Whether a sample of this name is a `_created` line to skip.
    pub(super) fn skips(&self, name: &str) -> bool {
        self.skip_created && self.ct_family && name.ends_with("_created")
    }

    /// Whether the raw mode must leave this series to the full parser to
    /// tell whether it is skipped (a name inside the braces).
    pub(super) fn skip_needs_full_parse(&self, series: &str) -> bool {
        self.skip_created && self.ct_family && series.starts_with('{')
    }

    /// Whether the raw mode skips this series (written `name…`).
    pub(super) fn skips_raw(&self, series: &str) -> bool {
        legacy_name(series).is_some_and(|n| self.skips(n))
    }

    /// The created timestamp (ms) of the sample just read in raw mode.
    pub fn created_ms_raw(&mut self, s: &RawSample<'a>) -> Option<i64> {
        if !self.skip_created || !self.ct_family {
            return None;
        }
        self.refresh_ahead();
        let ahead = self.ahead.as_ref()?;
        let found = ahead.found.as_ref()?;
        // Quick path: the same labels as written.
        if let (Some(name), Some(cname)) = (legacy_name(s.series), legacy_name(ahead.series))
            && s.series.get(name.len()..) == ahead.series.get(cname.len()..)
        {
            let family = self.family.as_ref().map_or("", |(f, _)| f.as_ref());
            return same_name(name, family, &found.name).then(|| ms(found.value))?;
        }
        let line = self.parse_sample(s.line).ok()?;
        self.created_ms(&line)
    }

    /// The created timestamp (ms) of the sample just read.
    pub fn created_ms(&mut self, s: &SampleLine<'_>) -> Option<i64> {
        if !self.skip_created || !self.ct_family {
            return None;
        }
        self.refresh_ahead();
        let found = self.ahead.as_ref()?.found.as_ref()?;
        let (family, kind) = self
            .family
            .as_ref()
            .map_or(("", MetricKind::Untyped), |(f, k)| (f.as_ref(), *k));
        let skip = match kind {
            MetricKind::Histogram => "le",
            MetricKind::Summary => "quantile",
            _ => "",
        };
        let same_labels = s
            .labels
            .iter()
            .filter(|(n, _)| n != skip)
            .eq(found.labels.iter().filter(|(n, _)| n != skip));
        (same_labels && same_name(&s.name, family, &found.name)).then(|| ms(found.value))?
    }

    /// Finds the look ahead again once the parser has passed it.
    fn refresh_ahead(&mut self) {
        let valid = self
            .ahead
            .as_ref()
            .is_some_and(|a| self.line_no < a.until_line);
        if !valid {
            self.ahead = Some(self.look_ahead());
        }
    }

    /// The first `_created` sample after the current line, before any `#`
    /// line.
    fn look_ahead(&self) -> Ahead<'a> {
        let mut n = self.line_no;
        let mut until_line = usize::MAX;
        for text in self.rest.split('\n') {
            n += 1;
            let t = text.trim_start_matches([' ', '\t']);
            if t.trim_end().is_empty() {
                continue;
            }
            if t.starts_with('#') {
                until_line = n;
                break;
            }
            let parsed = || match line::parse_line(text, self.family.as_ref(), true, false) {
                Ok(Some(Entry::Sample(s))) => Some(s),
                _ => None,
            };
            let created = match legacy_name(t) {
                Some(name) => name.ends_with("_created"),
                None => parsed().is_some_and(|s| s.name.ends_with("_created")),
            };
            if created {
                let series = line::split_sample(text, true).map_or("", |(s, _, _)| s);
                return Ahead {
                    until_line: n,
                    found: parsed(),
                    series,
                };
            }
        }
        Ahead {
            until_line,
            found: None,
            series: "",
        }
    }
}

/// The sample's name cut to the family's length is the `_created` name
/// without its suffix.
fn same_name(sample: &str, family: &str, created: &str) -> bool {
    let base = created.strip_suffix("_created").unwrap_or(created);
    sample.get(..family.len()) == Some(base)
}

/// Seconds to ms as Prometheus converts them (`int64(v * 1000)`); 0 is
/// none.
fn ms(seconds: f64) -> Option<i64> {
    let t = (seconds * 1000.0) as i64;
    (t != 0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::super::{RawEntry, parse, parse_openmetrics, raw};

    /// Each sample the raw mode gives as `name{labels}` with its created
    /// timestamp, as the scraper reads them.
    fn read(input: &str) -> Vec<(String, Option<i64>)> {
        raw::check_against_iterator(input, true, true);
        let mut p = parse_openmetrics(input).with_created_timestamps();
        let mut out = Vec::new();
        while let Some(entry) = p.next_raw() {
            match entry {
                Ok(RawEntry::Sample(r)) => {
                    let ct = p.created_ms_raw(&r);
                    out.push((r.series.to_string(), ct));
                }
                Ok(RawEntry::Full(super::Entry::Sample(s))) => {
                    let ct = p.created_ms(&s);
                    out.push((s.name.to_string(), ct));
                }
                Ok(RawEntry::Full(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    fn ct(pairs: &[(&str, Option<i64>)]) -> Vec<(String, Option<i64>)> {
        pairs.iter().map(|(s, t)| (s.to_string(), *t)).collect()
    }

    #[test]
    fn created_lines_become_the_created_timestamps_of_their_metrics() {
        let om = "# TYPE foo counter\n\
                  foo_total{a=\"1\"} 17\n\
                  foo_created{a=\"1\"} 1520872607.123\n\
                  foo_total{a=\"2\"} 3\n\
                  foo_created{a=\"2\"} 1520872608\n\
                  # TYPE lat histogram\n\
                  lat_bucket{le=\"0.1\",path=\"/\"} 2\n\
                  lat_bucket{le=\"+Inf\",path=\"/\"} 5\n\
                  lat_count{path=\"/\"} 5\n\
                  lat_sum{path=\"/\"} 1.5\n\
                  lat_created{path=\"/\"} 1520430000.5\n\
                  # TYPE rpc summary\n\
                  rpc{quantile=\"0.5\"} 0.2\n\
                  rpc_sum 3\n\
                  rpc_count 9\n\
                  rpc_created 1520430001\n\
                  # EOF\n";
        assert_eq!(
            read(om),
            ct(&[
                ("foo_total{a=\"1\"}", Some(1_520_872_607_123)),
                ("foo_total{a=\"2\"}", Some(1_520_872_608_000)),
                ("lat_bucket{le=\"0.1\",path=\"/\"}", Some(1_520_430_000_500)),
                (
                    "lat_bucket{le=\"+Inf\",path=\"/\"}",
                    Some(1_520_430_000_500)
                ),
                ("lat_count{path=\"/\"}", Some(1_520_430_000_500)),
                ("lat_sum{path=\"/\"}", Some(1_520_430_000_500)),
                ("rpc{quantile=\"0.5\"}", Some(1_520_430_001_000)),
                ("rpc_sum", Some(1_520_430_001_000)),
                ("rpc_count", Some(1_520_430_001_000)),
            ])
        );
    }

    #[test]
    fn created_lines_out_of_place_are_lost_as_in_prometheus() {
        // Prometheus's TestCTParseFailures: a `_created` line before its
        // samples, or between them, gives nothing to the samples after it;
        // one of another metric first gives nothing to the ones before.
        let om = "# TYPE something histogram\n\
                  something_count 17\n\
                  something_created 1520430001\n\
                  something_bucket{le=\"+Inf\"} 17\n\
                  # TYPE thing counter\n\
                  thing_created 1520430002\n\
                  thing_total 1\n\
                  # TYPE c counter\n\
                  c_total{a=\"1\"} 1\n\
                  c_total{a=\"2\"} 2\n\
                  c_created{a=\"1\"} 5\n\
                  c_created{a=\"2\"} 6\n\
                  # EOF\n";
        assert_eq!(
            read(om),
            ct(&[
                ("something_count", Some(1_520_430_001_000)),
                ("something_bucket{le=\"+Inf\"}", None),
                ("thing_total", None),
                ("c_total{a=\"1\"}", Some(5_000)),
                ("c_total{a=\"2\"}", None),
            ])
        );
    }

    #[test]
    fn only_counter_summary_and_histogram_families_have_created_lines() {
        let om = "# TYPE g gauge\n\
                  g_created 5\n\
                  # TYPE gh gaugehistogram\n\
                  gh_bucket{le=\"+Inf\"} 1\n\
                  gh_created 6\n\
                  # TYPE u unknown\n\
                  u_created 7\n\
                  # TYPE q counter\n\
                  {\"q\",\"x\"=\"y\"} 1\n\
                  {\"q_created\",\"x\"=\"y\"} 8\n\
                  # EOF\n";
        assert_eq!(
            read(om),
            ct(&[
                ("g_created", None),
                ("gh_bucket{le=\"+Inf\"}", None),
                ("gh_created", None),
                ("u_created", None),
                ("q", Some(8_000)),
            ])
        );
    }

    #[test]
    fn without_the_option_or_in_the_text_format_created_lines_are_series() {
        let om = "# TYPE foo counter\nfoo_total 1\nfoo_created 5\n# EOF\n";
        let names = |p: super::Parser<'_>| -> Vec<String> {
            p.filter_map(|e| match e {
                Ok(super::Entry::Sample(s)) => Some(s.name.to_string()),
                _ => None,
            })
            .collect()
        };
        assert_eq!(names(parse_openmetrics(om)), ["foo_total", "foo_created"]);
        let text = "# TYPE foo counter\nfoo_total 1\nfoo_created 5\n";
        let mut p = parse(text).with_created_timestamps();
        assert_eq!(names(p.clone()), ["foo_total", "foo_created"]);
        while let Some(Ok(e)) = p.next_raw() {
            if let RawEntry::Sample(r) = e {
                assert_eq!(p.created_ms_raw(&r), None);
            }
        }
    }

    #[test]
    fn a_broken_created_line_fails_the_parse_as_any_line_does() {
        let om = "# TYPE foo counter\nfoo_total 1\nfoo_created{a=b} 5\n# EOF\n";
        raw::check_against_iterator(om, true, true);
        let mut p = parse_openmetrics(om).with_created_timestamps();
        let mut failed = false;
        while let Some(e) = p.next_raw() {
            failed |= e.is_err();
        }
        assert!(failed);
    }
}
