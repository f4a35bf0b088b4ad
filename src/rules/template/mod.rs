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
    /// A label map as a template value.
    pub fn labels(m: &BTreeMap<String, String>) -> Val {
        Val::Map(m.iter().map(|(k, v)| (k.clone(), Val::Str(v.clone()))).collect())
    }
}

/// Runs instant queries for the `query` function: `(labels, value)` pairs.
pub trait QueryFn {
    /// Evaluates `q` at the rule's evaluation time.
    fn query(&self, q: &str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String>;
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
