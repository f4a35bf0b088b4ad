//! A recording rule's evaluation: the query's samples (floats or native
//! histograms) renamed to the rule's name with its labels applied,
//! refused whole when two samples end up with one label set or `limit` is
//! exceeded.

use super::rule::{self, Health, Row, RuleState};
use hourglass_query::Engine;
use hourglass_storage::{Labels, Storage};
use std::collections::HashSet;

/// The series a recording rule writes from a query result.
pub fn output(
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
    result: Vec<Row>,
    limit: usize,
) -> Result<Vec<Row>, String> {
    let mut out = Vec::with_capacity(result.len());
    let mut seen = HashSet::with_capacity(result.len());
    for (l, v, h) in result {
        let mut m = rule::to_map(&l);
        m.insert("__name__".into(), name.to_string());
        for (k, val) in labels {
            m.insert(k.clone(), val.clone());
        }
        let l = Labels::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !seen.insert(l.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push((l, v, h));
    }
    if limit > 0 && out.len() > limit {
        return Err(format!(
            "exceeded limit of {limit} with {} series",
            out.len()
        ));
    }
    Ok(out)
}

/// Evaluates `rule` at `t_ms` (the query runs at `t_ms` as well) and
/// writes its output; the number of samples written.
pub fn evaluate(
    rule: &mut RuleState,
    engine: &Engine,
    storage: &Storage,
    t_ms: i64,
    limit: usize,
) -> usize {
    let result = rule::instant_rows(engine, storage, &rule.spec.expr, t_ms)
        .and_then(|r| output(&rule.spec.name, &rule.spec.labels, r, limit));
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            rule.health = Health::Err;
            rule.last_error = Some(e);
            return 0;
        }
    };
    match rule::write_rows(storage, &out, &rule.series, t_ms) {
        Ok(0) => {
            rule.health = Health::Ok;
            rule.last_error = None;
        }
        Ok(refused) => {
            rule.health = Health::Err;
            rule.last_error = Some(format!("{refused} samples refused by storage"));
        }
        Err(e) => {
            rule.health = Health::Err;
            rule.last_error = Some(e);
            return 0;
        }
    }
    let n = out.len();
    rule.series = out.into_iter().map(|(l, _, _)| l).collect();
    n
}
