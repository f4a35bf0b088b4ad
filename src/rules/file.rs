//! Rule files in Prometheus's format (`groups: [{name, interval, limit,
//! query_offset, labels, rules: [{record|alert, expr, for,
//! keep_firing_for, labels, annotations}]}]`), decoded strictly and
//! checked as `promtool check rules` checks them: every refusal names the
//! file, the line and the reason.

use super::template::Template;
use hourglass_query::Expr;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Largest rule file read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most rules in one file.
pub const MAX_RULES_PER_FILE: usize = 100_000;

/// Why a rule file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {reason}")]
pub struct RuleFileError {
    /// The file.
    pub file: String,
    /// 1-based line (0: unknown).
    pub line: u64,
    /// 1-based column (0: unknown).
    pub column: u64,
    /// What is wrong.
    pub reason: String,
}

/// What a rule computes.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Writes its result as the series `name`.
    Recording,
    /// Raises alerts named `name`.
    Alerting {
        /// `for`.
        hold: Duration,
        /// `keep_firing_for`.
        keep_firing_for: Duration,
        /// Templated annotations.
        annotations: BTreeMap<String, String>,
    },
}

/// One checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// `record` or `alert`.
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
    /// The expression re-printed (what the API shows).
    pub query: String,
    /// Group labels merged under the rule's own (templated for alerts).
    pub labels: BTreeMap<String, String>,
    /// Recording or alerting.
    pub kind: RuleKind,
}

/// One checked group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Unique in its file.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `interval`; none: the global evaluation interval.
    pub interval: Option<Duration>,
    /// `query_offset`.
    pub query_offset: Option<Duration>,
    /// `limit` (0: none).
    pub limit: usize,
    /// Rules in file order.
    pub rules: Vec<RuleSpec>,
}

fn dur<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => hourglass_query::duration::parse_duration(&s)
            .map(Some)
            .map_err(|e| {
                serde::de::Error::custom(format!("not a valid duration string: {s:?}: {e}"))
            }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: Spanned<String>,
    #[serde(default, deserialize_with = "dur")]
    interval: Option<Duration>,
    #[serde(default, deserialize_with = "dur")]
    query_offset: Option<Duration>,
    #[serde(default)]
    limit: usize,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    record: Option<Spanned<String>>,
    alert: Option<Spanned<String>>,
    expr: Option<Spanned<String>>,
    #[serde(default, rename = "for", deserialize_with = "dur")]
    hold: Option<Duration>,
    #[serde(default, deserialize_with = "dur")]
    keep_firing_for: Option<Duration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    annotations: Option<BTreeMap<String, String>>,
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// Reads and checks one rule file.
pub fn load(path: &Path) -> Result<Vec<GroupSpec>, RuleFileError> {
    let file = path.display().to_string();
    let io = |reason: String| RuleFileError {
        file: file.clone(),
        line: 0,
        column: 0,
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(io(format!("file larger than {MAX_FILE_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
    parse(&file, &text)
}

/// Checks the text of a rule file named `file`.
pub fn parse(file: &str, text: &str) -> Result<Vec<GroupSpec>, RuleFileError> {
    let at = |line: u64, column: u64, reason: String| RuleFileError {
        file: file.to_string(),
        line,
        column,
        reason,
    };
    // Only the first document counts, as in Prometheus.
    let first_doc = first_document(text);
    let raw: RawFile = if first_doc.trim().is_empty() {
        RawFile { groups: Vec::new() }
    } else {
        serde_saphyr::from_str(first_doc).map_err(|e| {
            let (line, column, reason) = crate::scrape::config::yaml_place(&e);
            at(line, column, reason)
        })?
    };
    let total: usize = raw.groups.iter().map(|g| g.rules.len()).sum();
    if total > MAX_RULES_PER_FILE {
        return Err(at(
            0,
            0,
            format!("more than {MAX_RULES_PER_FILE} rules in one file"),
        ));
    }
    let mut groups: Vec<GroupSpec> = Vec::new();
    for g in raw.groups {
        let (gl, gc) = (g.name.referenced.line(), g.name.referenced.column());
        if g.name.value.is_empty() {
            return Err(at(gl, gc, "Groupname must not be empty".into()));
        }
        if groups.iter().any(|x| x.name == g.name.value) {
            return Err(at(
                gl,
                gc,
                format!(
                    "groupname: \"{}\" is repeated in the same file",
                    g.name.value
                ),
            ));
        }
        for (k, v) in &g.labels {
            if !is_label_name(k) || k == "__name__" {
                return Err(at(
                    gl,
                    gc,
                    format!("group {:?}: invalid label name: {k}", g.name.value),
                ));
            }
            if v.is_empty() {
                return Err(at(
                    gl,
                    gc,
                    format!("group {:?}: invalid label value for {k}", g.name.value),
                ));
            }
        }
        let mut rules = Vec::new();
        for (i, r) in g.rules.into_iter().enumerate() {
            rules.push(check_rule(
                file,
                &g.name.value,
                i + 1,
                r,
                &g.labels,
                (gl, gc),
            )?);
        }
        groups.push(GroupSpec {
            name: g.name.value,
            file: file.to_string(),
            interval: g.interval.filter(|d| !d.is_zero()),
            query_offset: g.query_offset,
            limit: g.limit,
            rules,
        });
    }
    Ok(groups)
}

fn first_document(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            if seen_content {
                return &text[..offset];
            }
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

fn check_rule(
    file: &str,
    group: &str,
    index: usize,
    r: RawRule,
    group_labels: &BTreeMap<String, String>,
    group_at: (u64, u64),
) -> Result<RuleSpec, RuleFileError> {
    let name_node = r.record.as_ref().or(r.alert.as_ref());
    let (line, column) = name_node
        .map(|n| (n.referenced.line(), n.referenced.column()))
        .or_else(|| {
            r.expr
                .as_ref()
                .map(|e| (e.referenced.line(), e.referenced.column()))
        })
        .unwrap_or(group_at);
    let name = name_node.map(|n| n.value.clone()).unwrap_or_default();
    let fail = |line: u64, column: u64, reason: String| RuleFileError {
        file: file.to_string(),
        line,
        column,
        reason: format!("group {group:?}, rule {index}, {name:?}: {reason}"),
    };
    let (is_record, rule_name) = match (&r.record, &r.alert) {
        (Some(_), Some(_)) => {
            return Err(fail(
                line,
                column,
                "only one of 'record' and 'alert' must be set".into(),
            ));
        }
        (None, None) => {
            return Err(fail(
                line,
                column,
                "one of 'record' or 'alert' must be set".into(),
            ));
        }
        (Some(rec), None) => (true, rec.value.clone()),
        (None, Some(a)) => (false, a.value.clone()),
    };
    if rule_name.is_empty() {
        return Err(fail(
            line,
            column,
            "one of 'record' or 'alert' must be set".into(),
        ));
    }
    let Some(expr_node) = r.expr.as_ref().filter(|e| !e.value.trim().is_empty()) else {
        return Err(fail(
            line,
            column,
            "field 'expr' must be set in rule".into(),
        ));
    };
    let (el, ec) = (expr_node.referenced.line(), expr_node.referenced.column());
    let expr = hourglass_query::parse(&expr_node.value).map_err(|e| {
        let (l, c) = e.line_col();
        fail(
            el,
            ec,
            format!(
                "could not parse expression: {l}:{c}: parse error: {}",
                e.message()
            ),
        )
    })?;
    if is_record {
        if !is_metric_name(&rule_name) {
            return Err(fail(
                line,
                column,
                format!("invalid recording rule name: {rule_name}"),
            ));
        }
        if r.hold.is_some_and(|d| !d.is_zero()) {
            return Err(fail(
                line,
                column,
                "invalid field 'for' in recording rule".into(),
            ));
        }
        if r.keep_firing_for.is_some_and(|d| !d.is_zero()) {
            return Err(fail(
                line,
                column,
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if r.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(fail(
                line,
                column,
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
    }
    for (k, v) in &r.labels {
        if !is_label_name(k) || k == "__name__" {
            return Err(fail(line, column, format!("invalid label name: {k}")));
        }
        if !is_record {
            Template::parse(&format!("__alert_{rule_name}"), v).map_err(|e| {
                fail(
                    line,
                    column,
                    format!("msg=\"template error\" label {k}: {e}"),
                )
            })?;
        }
    }
    let annotations = r.annotations.unwrap_or_default();
    for (k, v) in &annotations {
        if !is_label_name(k) {
            return Err(fail(line, column, format!("invalid annotation name: {k}")));
        }
        Template::parse(&format!("__alert_{rule_name}"), v).map_err(|e| {
            fail(
                line,
                column,
                format!("msg=\"template error\" annotation {k}: {e}"),
            )
        })?;
    }
    let mut labels = group_labels.clone();
    labels.extend(r.labels);
    labels.retain(|_, v| !v.is_empty());
    let kind = if is_record {
        RuleKind::Recording
    } else {
        RuleKind::Alerting {
            hold: r.hold.unwrap_or_default(),
            keep_firing_for: r.keep_firing_for.unwrap_or_default(),
            annotations,
        }
    };
    Ok(RuleSpec {
        name: rule_name,
        query: expr.to_string(),
        expr,
        labels,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_prometheus_rule_file() {
        let g = parse(
            "r.yml",
            "groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    labels: {severity: page}\n    annotations:\n      summary: '{{ $labels.instance }} down'\n",
        )
        .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].interval, Some(Duration::from_secs(30)));
        assert_eq!(g[0].rules.len(), 2);
        assert_eq!(g[0].rules[0].query, "sum by (job) (up)");
    }

    #[track_caller]
    fn refused(text: &str, line: u64, want: &str) {
        let e = parse("bad.yml", text).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert!(e.reason.contains(want), "{e}");
        assert!(e.to_string().starts_with("bad.yml:"), "{e}");
    }

    #[test]
    fn refusals_name_line_and_reason() {
        refused(
            "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n",
            5,
            "could not parse expression",
        );
        refused(
            "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
            4,
            "repeated in the same file",
        );
        refused(
            "groups:\n- name: g\n  rules:\n  - record: x\n    alert: y\n    expr: up\n",
            4,
            "only one of",
        );
        refused(
            "groups:\n- name: g\n  rules:\n  - record: 'a-b'\n    expr: up\n",
            4,
            "invalid recording rule name",
        );
        refused(
            "groups:\n- name: g\n  rules:\n  - record: x\n    expr: up\n    for: 1m\n",
            4,
            "invalid field 'for'",
        );
        refused(
            "groups:\n- name: g\n  rules:\n  - alert: x\n    expr: up\n    annotations: {a: '{{ nosuch }}'}\n",
            4,
            "template",
        );
        refused("groups:\n- name: g\n  bogus: 1\n", 3, "bogus");
        refused("groups:\n- name: g\n  rules: [\n", 3, "");
    }
}
