//! `MetricFilter`s of a registration: include or exclude by name pattern
//! and label matchers, each regex checked.

use super::TargetError;
use super::fields::{MAX_TEXT, bad, bounded, field, object, only, string};
use crate::scrape::registry::{Filter, FilterKind, LabelMatcher, MatchOp};
use crate::scrape::relabel::AnchoredRegex;
use hourglass_query::prom_text::is_legacy_label_name;
use serde_json::Value;

/// Most filters per target, and matchers per filter.
const MAX_FILTERS: usize = 64;
const MAX_MATCHERS: usize = 32;

/// The `filters` list.
pub fn filters(v: &Value) -> Result<Vec<Filter>, TargetError> {
    let list = v
        .as_array()
        .ok_or_else(|| bad("filters", "filters must be a list"))?;
    if list.len() > MAX_FILTERS {
        return Err(bad(
            "filters",
            format!("at most {MAX_FILTERS} filters, got {}", list.len()),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, f)| filter(f, &format!("filters[{i}]")))
        .collect()
}

fn filter(v: &Value, at: &str) -> Result<Filter, TargetError> {
    let o = object(v, at)?;
    only(
        o,
        &["type", "name_pattern", "label_matchers"],
        &format!("{at}."),
    )?;
    let kind_field = format!("{at}.type");
    let kind = match field(o, "type")
        .map(|v| string(v, &kind_field))
        .transpose()?
    {
        Some(k) if k.eq_ignore_ascii_case("include") => FilterKind::Include,
        Some(k) if k.eq_ignore_ascii_case("exclude") => FilterKind::Exclude,
        Some(k) => {
            return Err(bad(
                kind_field,
                format!("filter type must be include or exclude, got {k:?}"),
            ));
        }
        None => return Err(bad(kind_field, "type (include or exclude) is required")),
    };
    let name_field = format!("{at}.name_pattern");
    let name_pattern = match field(o, "name_pattern") {
        Some(v) => {
            let p = bounded(v, &name_field, MAX_TEXT)?;
            AnchoredRegex::new(p)
                .map_err(|e| bad(&name_field, format!("invalid regex {p:?}: {e}")))?;
            Some(p.to_string())
        }
        None => None,
    };
    let mfield = format!("{at}.label_matchers");
    let label_matchers = match field(o, "label_matchers") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let value = string(v, &format!("{mfield}.{k}"))?;
                matcher(k, MatchOp::Equal, value, &format!("{mfield}.{k}"))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, m)| {
                let at = format!("{mfield}[{j}]");
                let o = object(m, &at)?;
                only(o, &["name", "op", "value"], &format!("{at}."))?;
                let name = match field(o, "name") {
                    Some(v) => string(v, &format!("{at}.name"))?,
                    None => return Err(bad(format!("{at}.name"), "name is required")),
                };
                let op = match field(o, "op") {
                    Some(v) => {
                        let s = string(v, &format!("{at}.op"))?;
                        MatchOp::parse(s).ok_or_else(|| {
                            bad(
                                format!("{at}.op"),
                                format!("op must be one of =, !=, =~, !~; got {s:?}"),
                            )
                        })?
                    }
                    None => MatchOp::Equal,
                };
                let value = match field(o, "value") {
                    Some(v) => string(v, &format!("{at}.value"))?,
                    None => "",
                };
                matcher(name, op, value, &at)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                mfield,
                "label_matchers must be a list of {name, op, value} or an object of name: value",
            ));
        }
    };
    if label_matchers.len() > MAX_MATCHERS {
        return Err(bad(
            mfield,
            format!("at most {MAX_MATCHERS} label matchers"),
        ));
    }
    Ok(Filter {
        kind,
        name_pattern,
        label_matchers,
    })
}

fn matcher(name: &str, op: MatchOp, value: &str, at: &str) -> Result<LabelMatcher, TargetError> {
    if !is_legacy_label_name(name) {
        return Err(bad(
            format!("{at}.name"),
            format!("{name:?} is not a valid label name"),
        ));
    }
    if value.len() > MAX_TEXT {
        return Err(bad(
            format!("{at}.value"),
            format!("longer than {MAX_TEXT} bytes"),
        ));
    }
    if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
        AnchoredRegex::new(value).map_err(|e| {
            bad(
                format!("{at}.value"),
                format!("invalid regex {value:?}: {e}"),
            )
        })?;
    }
    Ok(LabelMatcher {
        name: name.to_string(),
        op,
        value: value.to_string(),
    })
}
