//! The scraper's mode of the parser: sample lines come out split but with
//! their labels unread, so a caller that knows the series by its text
//! (Prometheus's scrape cache) parses labels only for series it has not
//! seen. Comments, `# HELP` and `# TYPE` go through the full parser, which
//! also keeps track of the current family for [`Parser::parse_sample`].

use super::{Entry, ErrorKind, ParseError, Parser, SampleLine, Step, line};

/// A sample line whose labels are not read yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample<'a> {
    /// The series as written: `name`, `name{…}` or `{…}`.
    pub series: &'a str,
    /// The value.
    pub value: f64,
    /// Timestamp in Unix milliseconds, when the line has one.
    pub timestamp_ms: Option<i64>,
    /// The whole line, for [`Parser::parse_sample`].
    pub line: &'a str,
}

/// One meaningful line, in the scraper's mode.
#[derive(Debug, Clone, PartialEq)]
pub enum RawEntry<'a> {
    /// A sample line, split.
    Sample(RawSample<'a>),
    /// Anything else, or a sample line only the full parser could read.
    Full(Entry<'a>),
}

impl<'a> Parser<'a> {
    /// The next entry, with sample lines split but not parsed (see the
    /// module docs); same lines, errors and end as the iterator. Not for
    /// strict parsers, whose every line goes through the full parser.
    pub fn next_raw(&mut self) -> Option<Result<RawEntry<'a>, ParseError>> {
        loop {
            if self.failed || self.rest.is_empty() {
                return None;
            }
            if self.strict.is_none() && !self.eof {
                let (text, rest) = self.rest.split_once('\n').unwrap_or((self.rest, ""));
                let first = text.bytes().find(|&b| b != b' ' && b != b'\t');
                match first {
                    None => {
                        self.rest = rest;
                        self.line_no += 1;
                        continue;
                    }
                    Some(b'#') => {}
                    Some(_) => {
                        if let Some((series, value, timestamp_ms)) =
                            line::split_sample(text, self.openmetrics)
                                .filter(|(s, _, _)| !self.skip_needs_full_parse(s))
                        {
                            self.rest = rest;
                            self.line_no += 1;
                            if self.skips_raw(series) {
                                // Skipped, but only once it reads whole.
                                if let Err(e) = self.parse_sample(text) {
                                    self.failed = true;
                                    return Some(Err(e));
                                }
                                continue;
                            }
                            return Some(Ok(RawEntry::Sample(RawSample {
                                series,
                                value,
                                timestamp_ms,
                                line: text,
                            })));
                        }
                    }
                }
            }
            match self.step()? {
                Step::Skip => continue,
                Step::Entry(e) => return Some(Ok(RawEntry::Full(e))),
                Step::Error(e) => return Some(Err(e)),
            }
        }
    }

    /// Fully parses `line`, the last [`RawSample`]'s, in the current
    /// family: its labels, and the error the iterator would have given.
    pub fn parse_sample(&self, text: &'a str) -> Result<SampleLine<'a>, ParseError> {
        match line::parse_line(text, self.family.as_ref(), self.openmetrics, false) {
            Ok(Some(Entry::Sample(s))) => Ok(s),
            Ok(_) => Err(self.error_at(text, 0, ErrorKind::ExpectedMetricName)),
            Err((column, kind)) => Err(self.error_at(text, column, kind)),
        }
    }
}

/// Checks that the raw mode reads `input` as the iterator does: the same
/// samples (labels read from each raw line equal the iterator's) with the
/// same created timestamps (`created`: OpenMetrics `_created` lines read
/// as such), the same first error. For [`super::fuzz_one`]; panics on a
/// difference.
pub(super) fn check_against_iterator(input: &str, openmetrics: bool, created: bool) {
    let make = || {
        let p = if openmetrics {
            super::parse_openmetrics(input)
        } else {
            super::parse(input)
        };
        if created {
            p.with_created_timestamps()
        } else {
            p
        }
    };
    let mut raw = make();
    let mut full = make();
    loop {
        let want = loop {
            match full.next() {
                Some(Ok(Entry::Sample(s))) => {
                    let ct = full.created_ms(&s);
                    break Some(Ok((s, ct)));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(Err(e)),
                None => break None,
            }
        };
        let got = loop {
            match raw.next_raw() {
                Some(Ok(RawEntry::Sample(r))) => {
                    let parsed = raw.parse_sample(r.line);
                    if let Ok(s) = &parsed {
                        assert_eq!(s.value.to_bits(), r.value.to_bits(), "{input:?}");
                        assert_eq!(s.timestamp_ms, r.timestamp_ms, "{input:?}");
                    }
                    let ct = raw.created_ms_raw(&r);
                    break Some(parsed.map(|s| (s, ct)));
                }
                Some(Ok(RawEntry::Full(Entry::Sample(s)))) => {
                    let ct = raw.created_ms(&s);
                    break Some(Ok((s, ct)));
                }
                Some(Ok(RawEntry::Full(_))) => continue,
                Some(Err(e)) => break Some(Err(e)),
                None => break None,
            }
        };
        match (&want, &got) {
            // Debug, not ==: NaN values compare unequal.
            (Some(Ok(a)), Some(Ok(b))) => {
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{input:?}");
            }
            (Some(Err(a)), Some(Err(b))) => {
                assert_eq!(a, b, "{input:?}");
                return;
            }
            (None, None) => return,
            _ => panic!("raw mode and iterator differ on {input:?}: {want:?} vs {got:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::text::{parse, parse_openmetrics};

    /// Every sample the raw mode gives, fully parsed, and the first error.
    fn through_raw(mut p: Parser<'_>) -> (Vec<(String, SampleLine<'_>)>, Option<ParseError>) {
        let mut out = Vec::new();
        while let Some(entry) = p.next_raw() {
            match entry {
                Ok(RawEntry::Sample(raw)) => {
                    assert!(raw.line.contains(raw.series), "{raw:?}");
                    match p.parse_sample(raw.line) {
                        Ok(s) => {
                            assert_eq!(s.value.to_bits(), raw.value.to_bits(), "{raw:?}");
                            assert_eq!(s.timestamp_ms, raw.timestamp_ms, "{raw:?}");
                            out.push((raw.series.to_string(), s));
                        }
                        Err(e) => return (out, Some(e)),
                    }
                }
                Ok(RawEntry::Full(Entry::Sample(s))) => out.push((String::new(), s)),
                Ok(RawEntry::Full(_)) => {}
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    fn through_iterator(p: Parser<'_>) -> (Vec<SampleLine<'_>>, Option<ParseError>) {
        let mut out = Vec::new();
        for entry in p {
            match entry {
                Ok(Entry::Sample(s)) => out.push(s),
                Ok(_) => {}
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    const GOOD: &str = concat!(
        "# HELP http_requests_total Requests.\n",
        "# TYPE http_requests_total counter\n",
        "http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n",
        "\n",
        "   http_requests_total{method=\"a }\\\"b\",code=\"4 00\"}\t3\n",
        "# a comment\n",
        "# TYPE lat histogram\n",
        "lat_bucket{le=\"1\"} 2\n",
        "lat_bucket {le=\"+inf\"} 3\n",
        "lat_sum 1e3\n",
        "{\"my.metric\", \"x\"=\"y\"} NaN\n",
        "plain -Inf\n",
        "odd{path=\"C:\\\\dir\\\\\"} 7\n",
    );

    #[test]
    fn raw_mode_gives_the_iterators_samples_with_their_series_text() {
        let (raw, err) = through_raw(parse(GOOD));
        let (full, err2) = through_iterator(parse(GOOD));
        assert_eq!(err, None);
        assert_eq!(err2, None);
        assert_eq!(raw.len(), full.len());
        for ((_, a), b) in raw.iter().zip(&full) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        let series: Vec<&str> = raw.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            series,
            [
                "http_requests_total{method=\"GET\",code=\"200\"}",
                "http_requests_total{method=\"a }\\\"b\",code=\"4 00\"}",
                "lat_bucket{le=\"1\"}",
                "lat_bucket {le=\"+inf\"}",
                "lat_sum",
                "{\"my.metric\", \"x\"=\"y\"}",
                "plain",
                "odd{path=\"C:\\\\dir\\\\\"}",
            ]
        );
        // The family is tracked for labels read later: `le` normalised.
        assert_eq!(raw[2].1.labels[0].1, "1.0");
    }

    #[test]
    fn raw_mode_fails_where_the_iterator_fails_with_the_same_error() {
        for bad in [
            "a{b=c} 1\n",
            "a{b=\"c\"} x\n",
            "a{b=\"c\"} 1 2 3\n",
            "a{b=\"c\" 1\n",
            "a{b=\"c\"} 1 1.5\n",
            "ok 1\na{b=\"c\",b=\"d\"} 1\n",
            "ok 1\n{} 1\n",
            "a 1\n# TYPE a nonsense\n",
            "9a 1\n",
            "a\n",
        ] {
            let (raw, e1) = through_raw(parse(bad));
            let (full, e2) = through_iterator(parse(bad));
            assert!(e1.is_some(), "{bad:?}");
            assert_eq!(e1, e2, "{bad:?}");
            assert_eq!(raw.len(), full.len(), "{bad:?}");
        }
    }

    #[test]
    fn openmetrics_lines_split_with_exemplars_and_eof() {
        let om = "# TYPE c counter\nc_total{a=\"b\"} 1 1700000000.5 # {t=\"x\"} 1\n# EOF\n";
        let (raw, err) = through_raw(parse_openmetrics(om));
        assert_eq!(err, None);
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0].0, "c_total{a=\"b\"}");
        assert_eq!(raw[0].1.timestamp_ms, Some(1_700_000_000_500));
        let after = "c_total 1\n# EOF\nc_total 2\n";
        let (_, e1) = through_raw(parse_openmetrics(after));
        let (_, e2) = through_iterator(parse_openmetrics(after));
        assert!(e1.is_some());
        assert_eq!(e1, e2);
    }
}
