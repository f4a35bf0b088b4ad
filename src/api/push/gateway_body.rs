//! A Pushgateway push's body into series: the text format 0.0.4 with the
//! Pushgateway's strictness, or delimited `MetricFamily` protobuf messages
//! (`Content-Type: application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`, what the
//! Go client's `push` package sends), native histograms included. Either
//! way the grouping labels win over body labels of the same name,
//! timestamps are refused, a series may appear once, and a push holds at
//! most `max_series_per_request` series. The families' HELP, TYPE and UNIT
//! go to the metadata store. A protobuf counter's, summary's or
//! histogram's `created_timestamp` goes with its series, for
//! `--created-timestamp-zero-ingestion`.

use crate::ingest::metric_family::series::{self, Value};
use crate::ingest::metric_family::{self as mf, Families};
use crate::ingest::text::{self, Entry, MetricKind};
use crate::metadata::MetricMetadata;
use crate::push::grouping::GroupKey;
use crate::server::AppState;
use axum::http::{HeaderMap, header};
use hourglass_storage::Labels;
use std::collections::{HashMap, HashSet};

/// Written by the server for each push; a body may not carry it.
pub(super) const PUSH_TIME: &str = "push_time_seconds";

/// One parsed series of a push.
pub(super) struct Pushed {
    pub(super) family: String,
    pub(super) labels: Labels,
    pub(super) value: Value,
    /// The created timestamp its metric carried (protobuf), ms.
    pub(super) created_ms: Option<i64>,
}

/// How a body is read, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Any type but protobuf (curl's form type included), as the
    /// Pushgateway reads it.
    Text,
    /// Delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
}

/// The body's format, or why it cannot be read: a protobuf type other than
/// delimited `MetricFamily` messages.
pub(super) fn format(h: &HeaderMap) -> Result<Format, String> {
    let Some(ct) = h.get(header::CONTENT_TYPE) else {
        return Ok(Format::Text);
    };
    let ct = String::from_utf8_lossy(ct.as_bytes());
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
        return Ok(Format::Text);
    }
    let mut params = HashMap::new();
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim().trim_matches('"');
            params.insert(k.trim().to_ascii_lowercase(), v.to_string());
        }
    }
    let is = |k: &str, want: &str| params.get(k).is_some_and(|v| v == want);
    if is("proto", "io.prometheus.client.MetricFamily") && is("encoding", "delimited") {
        Ok(Format::Protobuf)
    } else {
        Err(format!(
            "unsupported Content-Type {ct:?}: protobuf pushes must be delimited \
             MetricFamily messages (application/vnd.google.protobuf; \
             proto=io.prometheus.client.MetricFamily; encoding=delimited)"
        ))
    }
}

/// A family's metadata as the store keeps it.
struct Meta {
    family: String,
    kind: &'static str,
    help: String,
    unit: String,
}

/// One sample of the body as read.
struct Point {
    /// Its own timestamp (refused when set).
    timestamp: Option<i64>,
    value: Value,
    /// Its metric's created timestamp (protobuf), ms.
    created_ms: Option<i64>,
}

/// The series of a push, checked against the grouping key and limits.
struct Builder<'k> {
    key: &'k GroupKey,
    max: usize,
    out: Vec<Pushed>,
    seen: HashSet<Labels>,
}

impl Builder<'_> {
    /// Adds one series; `at` says where it came from, for the errors.
    fn add(
        &mut self,
        at: &str,
        family: &str,
        name: &str,
        body_labels: &[(&str, &str)],
        point: Point,
    ) -> Result<(), String> {
        if point.timestamp.is_some() {
            return Err(format!(
                "{at}: sample {name} has a timestamp; pushed samples are stamped at \
                 receive time, so timestamps are refused (as the Pushgateway does)"
            ));
        }
        if name == PUSH_TIME {
            return Err(format!(
                "{at}: {PUSH_TIME} is written by the server for each push"
            ));
        }
        let key = self.key;
        let body = body_labels
            .iter()
            .filter(|(n, _)| !key.iter().any(|(k, _)| k == n))
            .copied();
        let grouping = key.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let labels = Labels::from_pairs(
            std::iter::once(("__name__", name))
                .chain(body)
                .chain(grouping),
        );
        if !self.seen.insert(labels.clone()) {
            return Err(format!("{at}: series {labels} appears twice in the push"));
        }
        if self.out.len() >= self.max {
            return Err(format!(
                "{at}: push has more than {} series, the limit per request",
                self.max
            ));
        }
        self.out.push(Pushed {
            family: family.to_string(),
            labels,
            value: point.value,
            created_ms: point.created_ms,
        });
        Ok(())
    }
}

/// The body's series with the grouping labels applied, its metadata
/// recorded; `Err` is the reason for a 400.
pub(super) fn parse(
    state: &AppState,
    key: &GroupKey,
    format: Format,
    body: &[u8],
) -> Result<Vec<Pushed>, String> {
    let mut b = Builder {
        key,
        max: state.limits().max_series_per_request,
        out: Vec::new(),
        seen: HashSet::new(),
    };
    let meta = match format {
        Format::Text => text_body(&mut b, body)?,
        Format::Protobuf => protobuf_body(&mut b, body)?,
    };
    record_metadata(state, meta);
    Ok(b.out)
}

/// The text format, parsed strictly (as the Pushgateway does).
fn text_body(b: &mut Builder<'_>, body: &[u8]) -> Result<Vec<Meta>, String> {
    let bad = |e: text::ParseError| format!("text format parsing error: {e}");
    let mut helps: Vec<(String, String)> = Vec::new();
    let mut kinds: Vec<(String, MetricKind)> = Vec::new();
    let mut parser = text::parse_strict_bytes(body).map_err(bad)?;
    while let Some(entry) = parser.next() {
        match entry.map_err(bad)? {
            Entry::Help { family, text } => helps.push((family.into_owned(), text.into_owned())),
            Entry::Type { family, kind } => kinds.push((family.into_owned(), kind)),
            Entry::Sample(s) => {
                let labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.as_ref(), v.as_ref()))
                    .collect();
                b.add(
                    &format!("line {}", parser.line()),
                    &s.family,
                    &s.name,
                    &labels,
                    Point {
                        timestamp: s.timestamp_ms,
                        value: Value::Float(s.value),
                        created_ms: None,
                    },
                )?;
            }
        }
    }
    let mut families: Vec<&str> = helps
        .iter()
        .map(|(f, _)| f.as_str())
        .chain(kinds.iter().map(|(f, _)| f.as_str()))
        .collect();
    families.sort_unstable();
    families.dedup();
    Ok(families
        .into_iter()
        .map(|family| Meta {
            family: family.to_string(),
            kind: kinds.iter().rev().find(|(f, _)| f == family).map_or(
                "unknown",
                |(_, k)| match k {
                    MetricKind::Untyped => "unknown",
                    k => k.as_str(),
                },
            ),
            help: helps
                .iter()
                .rev()
                .find(|(f, _)| f == family)
                .map(|(_, h)| h.clone())
                .unwrap_or_default(),
            unit: String::new(),
        })
        .collect())
}

/// How a pushed family's histograms are stored: native histograms as
/// such, and classic buckets whenever the client sent them, so nothing
/// pushed is dropped.
const PUSHED_HISTOGRAMS: series::Options = series::Options {
    native: true,
    always_classic: true,
    convert_nhcb: false,
};

/// Delimited `MetricFamily` messages. A family named again replaces the
/// earlier one, as the Pushgateway keeps one family per name.
fn protobuf_body(b: &mut Builder<'_>, body: &[u8]) -> Result<Vec<Meta>, String> {
    let bad = |e: crate::ingest::remote_write::DecodeError| format!("protobuf parsing error: {e}");
    // Every metric is at least one series: refuse before holding them.
    let metrics = mf::count_metrics(body).map_err(bad)?;
    if metrics > b.max {
        return Err(format!(
            "push has {metrics} metrics, more than {} series, the limit per request",
            b.max
        ));
    }
    let mut decoded = Vec::new();
    let mut families = Families::new(body);
    while let Some(f) = families.next_family() {
        decoded.push(f.map_err(bad)?);
    }
    let last: HashMap<&str, usize> = decoded
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name, i))
        .collect();
    let mut meta = Vec::new();
    let mut exposed = Vec::new();
    for (i, f) in decoded.iter().enumerate() {
        if last.get(f.name) != Some(&i) {
            continue;
        }
        let at = format!("family {:?}", f.name);
        exposed.clear();
        series::series(f, PUSHED_HISTOGRAMS, &mut exposed).map_err(|e| format!("{at}: {e}"))?;
        for e in exposed.drain(..) {
            let mut labels: Vec<(&str, &str)> = Vec::with_capacity(e.line.labels.len());
            for (n, v) in &e.line.labels {
                if n.is_empty() || n == "__name__" || labels.iter().any(|(m, _)| m == n) {
                    return Err(format!(
                        "{at}: metric {} has an empty, reserved or repeated label name {n:?}",
                        e.line.name
                    ));
                }
                labels.push((n.as_ref(), v.as_ref()));
            }
            b.add(
                &at,
                f.name,
                &e.line.name,
                &labels,
                Point {
                    timestamp: e.line.timestamp_ms,
                    value: e.value,
                    created_ms: e.created_ms,
                },
            )?;
        }
        meta.push(Meta {
            family: f.name.to_string(),
            kind: f.kind.metadata_name(),
            help: f.help.to_string(),
            unit: f.unit.to_string(),
        });
    }
    Ok(meta)
}

fn record_metadata(state: &AppState, meta: Vec<Meta>) {
    for m in meta {
        let md = MetricMetadata {
            kind: m.kind,
            help: m.help,
            unit: m.unit,
        };
        if let Err(why) = state.metadata().set(&m.family, md) {
            state.refused("metadata", why.reason());
        }
    }
}
