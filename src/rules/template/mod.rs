//! Templates of alerting rules' labels and annotations: a Go
//! `text/template` subset of our own ([`parse`]), run over the query
//! sample ([`exec`]) with Prometheus's functions ([`funcs`]) and Go's
//! number spellings ([`gofmt`]).

pub mod exec;
pub mod funcs;
pub mod gofmt;
pub mod parse;

use std::collections::BTreeMap;

/// Most bytes one expansion may produce.
pub const MAX_OUTPUT_BYTES: usize = 64 << 10;

/// A template that failed to parse or to run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// A value inside a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `nil` and missing values.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (`$value`).
    Float(f64),
    /// A string.
    Str(String),
    /// A map (`$labels`, a query sample's `Labels`/`Value`).
    Map(BTreeMap<String, Val>),
    /// A list (query results).
    List(Vec<Val>),
}

impl Val {
    /// Go's truth: false, 0, nil and empty values are false.
    pub fn truth(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::List(l) => !l.is_empty(),
        }
    }

    /// Go's name for the value's type, in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Map(_) => "map[string]interface {}",
            Val::List(_) => "[]interface {}",
        }
    }

    /// A label map as a template value.
    pub fn labels(m: &BTreeMap<String, String>) -> Val {
        Val::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), Val::Str(v.clone())))
                .collect(),
        )
    }
}

/// A query result: `(labels, value)` per sample.
pub type Rows = Vec<(BTreeMap<String, String>, f64)>;

/// Runs instant queries for the `query` function.
pub trait QueryFn {
    /// Evaluates `q` at the rule's evaluation time.
    fn query(&self, q: &str) -> Result<Rows, String>;
}

/// What a template sees.
pub struct Data<'a> {
    /// `$labels`: the query result sample's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// `$value`.
    pub value: f64,
    /// `$externalLabels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// For `query`; none: `query` fails.
    pub query: Option<&'a dyn QueryFn>,
    /// Evaluation time (unix seconds) for `now`.
    pub now_s: f64,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    /// Parses `src`; `name` prefixes the error as Go's does.
    pub fn parse(name: &str, src: &str) -> Result<Template, TemplateError> {
        parse::parse(src)
            .map(|nodes| Template { nodes })
            .map_err(|e| TemplateError(format!("template: {name}:{e}")))
    }

    /// Expands the template over `data`.
    pub fn expand(&self, name: &str, data: &Data<'_>) -> Result<String, TemplateError> {
        exec::run(&self.nodes, data)
            .map_err(|e| TemplateError(format!("error executing template {name}: {e}")))
    }
}

/// Expands `src` once, replacing a failure by Prometheus's
/// `<error expanding template: …>` text; the error is returned beside it.
pub fn expand_or_error(name: &str, src: &str, data: &Data<'_>) -> (String, Option<String>) {
    if !src.contains("{{") {
        return (src.to_string(), None);
    }
    match Template::parse(name, src).and_then(|t| t.expand(name, data)) {
        Ok(s) => (s, None),
        Err(e) => (format!("<error expanding template: {e}>"), Some(e.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(src: &str, value: f64) -> Result<String, TemplateError> {
        let labels: BTreeMap<String, String> = [
            ("instance".to_string(), "h1:9100".to_string()),
            ("job".to_string(), "node".to_string()),
        ]
        .into_iter()
        .collect();
        let ext: BTreeMap<String, String> =
            [("dc".to_string(), "eu".to_string())].into_iter().collect();
        let data = Data {
            labels: &labels,
            value,
            external_labels: &ext,
            external_url: "http://hg",
            query: None,
            now_s: 0.0,
        };
        Template::parse("t", src)?.expand("t", &data)
    }

    #[test]
    fn expands_as_prometheus_does() {
        for (src, v, want) in [
            ("{{ $labels.instance }} down", 0.0, "h1:9100 down"),
            ("{{ .Labels.job }}/{{ $externalLabels.dc }}", 0.0, "node/eu"),
            ("{{ $value }}", 1_000_000.0, "1e+06"),
            ("{{ $value | humanize }}", 1_234_567.0, "1.235M"),
            ("{{ humanizePercentage $value }}", 0.256, "25.6%"),
            ("{{ $value | humanizeDuration }}", 3725.0, "1h 2m 5s"),
            ("{{ printf \"%.2f\" $value }}", 2.0 / 3.0, "0.67"),
            ("{{ $labels.instance | stripPort | toUpper }}", 0.0, "H1"),
            ("{{ $labels.missing }}|", 0.0, "|"),
            (
                "{{ if gt $value 5.0 }}hi{{ else if gt $value 1.0 }}mid{{ else }}lo{{ end }}",
                3.0,
                "mid",
            ),
            (
                "{{- range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end -}}",
                0.0,
                "instance=h1:9100;job=node;",
            ),
            ("{{ $x := 2 }}{{ if eq $x 2 }}two{{ end }}", 0.0, "two"),
            (
                "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
                0.0,
                "h1",
            ),
            ("{{ index $labels \"job\" | title }}", 0.0, "Node"),
            ("  {{- \"x\" -}}  ", 0.0, "x"),
        ] {
            assert_eq!(expand(src, v).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn runtime_errors_are_reported() {
        assert!(expand("{{ humanize \"abc\" }}", 0.0).is_err());
        assert!(expand("{{ $labels.job.x }}", 0.0).is_err());
        assert!(expand("{{ query \"up\" }}", 0.0).is_err(), "no engine");
        let (text, err) = expand_or_error(
            "t",
            "{{ humanize \"abc\" }}",
            &Data {
                labels: &BTreeMap::new(),
                value: 0.0,
                external_labels: &BTreeMap::new(),
                external_url: "",
                query: None,
                now_s: 0.0,
            },
        );
        assert!(text.starts_with("<error expanding template: "), "{text}");
        assert!(err.is_some());
    }
}
