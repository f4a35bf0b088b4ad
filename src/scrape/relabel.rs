//! Prometheus relabelling: `relabel_configs` and `metric_relabel_configs`
//! rules, checked when loaded and applied to a label set in order.
//!
//! Defaults as Prometheus: action `replace`, separator `;`, regex `(.*)`
//! anchored at both ends with `.` matching newlines, replacement `$1`.
//! Setting a label to "" deletes it.

use md5::{Digest, Md5};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A label set being relabelled: name → value, no empty values.
pub type LabelSet = BTreeMap<String, String>;

/// One relabelling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Set `target_label` to the expanded replacement on a match.
    Replace,
    /// Drop unless the regex matches.
    Keep,
    /// Drop if the regex matches.
    Drop,
    /// Drop unless the value equals `target_label`'s.
    KeepEqual,
    /// Drop if the value equals `target_label`'s.
    DropEqual,
    /// `target_label` = MD5 of the value mod `modulus`.
    HashMod,
    /// Copy labels whose names match to the replaced names.
    LabelMap,
    /// Delete labels whose names match.
    LabelDrop,
    /// Delete labels whose names don't match.
    LabelKeep,
    /// `target_label` = the value lowercased.
    Lowercase,
    /// `target_label` = the value uppercased.
    Uppercase,
}

impl Action {
    fn from_name(s: &str) -> Option<Action> {
        Some(match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

/// A regex as Prometheus compiles it: `^(?s:…)$`, with Go's ASCII-only
/// `\d`, `\w`, `\s` and `\b`.
#[derive(Clone)]
pub struct AnchoredRegex {
    source: String,
    re: Regex,
}

impl AnchoredRegex {
    /// Compiles `source` anchored at both ends.
    pub fn new(source: &str) -> Result<AnchoredRegex, regex::Error> {
        let re = Regex::new(&format!("^(?s:{})$", ascii_classes(source)))?;
        Ok(AnchoredRegex {
            source: source.to_string(),
            re,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    fn is_default(&self) -> bool {
        self.source == DEFAULT_REGEX
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for AnchoredRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl<'de> Deserialize<'de> for AnchoredRegex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AnchoredRegex::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid regex {s:?}: {e}")))
    }
}

/// Rewrites Go's ASCII-only Perl classes for Rust's Unicode-aware engine.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push(c);
                    break;
                };
                match (in_class, n) {
                    (false, 'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'b' | 'B') => {
                        out.push_str("(?-u:\\");
                        out.push(n);
                        out.push(')');
                    }
                    (true, 'd') => out.push_str("0-9"),
                    (true, 'w') => out.push_str("0-9A-Za-z_"),
                    (true, 's') => out.push_str("\\t\\n\\f\\r "),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal.
                let mut peek = chars.clone();
                match peek.next() {
                    Some('^') => {
                        out.push('^');
                        chars.next();
                        if chars.clone().next() == Some(']') {
                            out.push(']');
                            chars.next();
                        }
                    }
                    Some(']') => {
                        out.push(']');
                        chars.next();
                    }
                    _ => {}
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// One rule as written in YAML.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRule {
    source_labels: Vec<String>,
    separator: Option<String>,
    target_label: Option<String>,
    regex: Option<AnchoredRegex>,
    modulus: u64,
    replacement: Option<String>,
    action: Option<Action>,
}

/// A checked relabelling rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Labels whose values are joined into the input.
    pub source_labels: Vec<String>,
    /// Joins the source values.
    pub separator: String,
    /// The label written (or compared, for the `*equal` actions).
    pub target_label: String,
    /// Matched against the input (or label names).
    pub regex: AnchoredRegex,
    /// For `hashmod`.
    pub modulus: u64,
    /// Template with `$1`, `${name}`.
    pub replacement: String,
    /// What the rule does.
    pub action: Action,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(d)?;
        Rule::check(raw).map_err(serde::de::Error::custom)
    }
}

fn has_var(s: &str) -> bool {
    s.contains('$')
}

impl Rule {
    fn check(raw: RawRule) -> Result<Rule, String> {
        let action = raw.action.unwrap_or(Action::Replace);
        let name = action.as_str();
        let regex_default = raw.regex.as_ref().is_none_or(AnchoredRegex::is_default);
        let sep_default = raw
            .separator
            .as_deref()
            .is_none_or(|s| s == DEFAULT_SEPARATOR);
        let repl_default = raw
            .replacement
            .as_deref()
            .is_none_or(|s| s == DEFAULT_REPLACEMENT);
        let target = raw.target_label.clone().unwrap_or_default();
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(format!(
                "relabel configuration for {name} action requires 'target_label' value"
            ));
        }
        if action == Action::HashMod && raw.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let plain_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if plain_target && has_var(&target) {
            return Err(format!(
                "{target:?} is invalid 'target_label' for {name} action"
            ));
        }
        if plain_target && !repl_default {
            return Err(format!("'replacement' can not be set for {name} action"));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (!regex_default || raw.modulus != 0 || !sep_default)
        {
            return Err(format!(
                "{name} action requires only 'source_labels' and 'target_label', and no other fields"
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!raw.source_labels.is_empty()
                || !target.is_empty()
                || raw.modulus != 0
                || !sep_default
                || !repl_default)
        {
            return Err(format!(
                "{name} action requires only 'regex', and no other fields"
            ));
        }
        if action == Action::LabelMap && raw.replacement.as_deref() == Some("") {
            return Err("\"\" is invalid 'replacement' for labelmap action".into());
        }
        let regex = match raw.regex {
            Some(r) => r,
            None => AnchoredRegex::new(DEFAULT_REGEX).map_err(|e| e.to_string())?,
        };
        Ok(Rule {
            source_labels: raw.source_labels,
            separator: raw.separator.unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            target_label: target,
            regex,
            modulus: raw.modulus,
            replacement: raw
                .replacement
                .unwrap_or_else(|| DEFAULT_REPLACEMENT.into()),
            action,
        })
    }
}

/// Sets `name` to `value`, deleting it when `value` is empty.
fn set(labels: &mut LabelSet, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_string(), value);
    }
}

/// Applies `rules` in order; `false` when a rule drops the set.
pub fn apply(rules: &[Rule], labels: &mut LabelSet) -> bool {
    rules.iter().all(|r| apply_one(r, labels))
}

fn apply_one(rule: &Rule, labels: &mut LabelSet) -> bool {
    let mut val = String::new();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&rule.separator);
        }
        if let Some(v) = labels.get(name) {
            val.push_str(v);
        }
    }
    match rule.action {
        Action::Keep => return rule.regex.is_match(&val),
        Action::Drop => return !rule.regex.is_match(&val),
        Action::KeepEqual => {
            return labels.get(&rule.target_label).map_or("", String::as_str) == val;
        }
        Action::DropEqual => {
            return labels.get(&rule.target_label).map_or("", String::as_str) != val;
        }
        Action::Replace => replace(rule, &val, labels),
        Action::Lowercase => set(labels, &rule.target_label, simple_case(&val, false)),
        Action::Uppercase => set(labels, &rule.target_label, simple_case(&val, true)),
        Action::HashMod => {
            let sum = Md5::digest(val.as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&sum[8..16]);
            let m = u64::from_be_bytes(tail) % rule.modulus;
            set(labels, &rule.target_label, m.to_string());
        }
        Action::LabelMap => {
            let snapshot: Vec<(String, String)> =
                labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (name, value) in snapshot {
                if rule.regex.is_match(&name) {
                    let new = rule.regex.re.replace_all(&name, rule.replacement.as_str());
                    set(labels, &new, value);
                }
            }
        }
        Action::LabelDrop => labels.retain(|k, _| !rule.regex.is_match(k)),
        Action::LabelKeep => labels.retain(|k, _| rule.regex.is_match(k)),
    }
    true
}

fn replace(rule: &Rule, val: &str, labels: &mut LabelSet) {
    if val.is_empty()
        && rule.regex.is_default()
        && !has_var(&rule.target_label)
        && !has_var(&rule.replacement)
    {
        set(labels, &rule.target_label, rule.replacement.clone());
        return;
    }
    let Some(caps) = rule.regex.re.captures(val) else {
        return;
    };
    let mut target = String::new();
    caps.expand(&rule.target_label, &mut target);
    if target.is_empty() {
        return;
    }
    let mut res = String::new();
    caps.expand(&rule.replacement, &mut res);
    set(labels, &target, res);
}

/// Per-character case mapping that never changes a character into
/// several (as Go's `strings.ToLower`/`ToUpper` for all but a few
/// characters): `ß` stays `ß` in upper case.
fn simple_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut it: Box<dyn Iterator<Item = char>> = if upper {
                Box::new(c.to_uppercase())
            } else {
                Box::new(c.to_lowercase())
            };
            match (it.next(), it.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        })
        .collect()
}
