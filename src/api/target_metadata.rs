//! `GET /api/v1/targets/metadata`: the metadata (type, help, unit) each
//! scraped target exposes, as Prometheus answers it from its scrape caches.

use super::envelope::{ApiError, ApiResult, success};
use super::params::{Params, parse_selector};
use crate::scrape::TargetMetadata;
use crate::server::AppState;
use axum::extract::State;
use hourglass_storage::Matcher;
use serde_json::{Value, json};

/// What the caller asked for.
struct Query {
    matchers: Vec<Matcher>,
    metric: Option<String>,
    /// Entries wanted; checked before each target, so one target's list may
    /// overshoot it (as in Prometheus).
    limit: Option<usize>,
}

fn parse(params: &Params) -> Result<Query, ApiError> {
    let limit = match params.get("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(_) => return Err(ApiError::param("limit", "limit must be a number")),
        },
    };
    let matchers = match params.get("match_target").filter(|m| !m.is_empty()) {
        None => Vec::new(),
        Some(m) => parse_selector(m).map_err(|e| ApiError::param("match_target", e))?,
    };
    Ok(Query {
        matchers,
        metric: params
            .get("metric")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        limit,
    })
}

/// The entries `q` selects from every target's metadata (grouped by
/// target, as the manager lists it).
fn select(q: &Query, all: Vec<TargetMetadata>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut current: Option<crate::scrape::relabel::LabelSet> = None;
    let mut target_matches = false;
    for md in all {
        if current.as_ref() != Some(&md.target) {
            if q.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            target_matches = q
                .matchers
                .iter()
                .all(|m| m.matches(md.target.get(m.name()).map_or("", String::as_str)));
            current = Some(md.target.clone());
        }
        if !target_matches {
            continue;
        }
        let mut entry = json!({
            "target": md.target,
            "type": md.metadata.kind,
            "help": md.metadata.help,
            "unit": md.metadata.unit,
        });
        match &q.metric {
            Some(want) if *want != md.metric => continue,
            Some(_) => {}
            None => entry["metric"] = Value::String(md.metric),
        }
        out.push(entry);
    }
    out
}

/// `GET /api/v1/targets/metadata[?match_target=<selector>][&metric=<family>][&limit=<n>]`.
pub async fn targets_metadata(State(state): State<AppState>, params: Params) -> ApiResult {
    let q = parse(&params)?;
    let scrape = state.scrape().clone();
    let all = tokio::task::spawn_blocking(move || scrape.metadata())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(success(Value::Array(select(&q, all)), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::cache::Metadata;

    fn md(job: &str, metric: &str) -> TargetMetadata {
        TargetMetadata {
            target: [("job".to_string(), job.to_string())].into(),
            metric: metric.into(),
            metadata: Metadata {
                kind: "gauge".into(),
                help: format!("{metric} help"),
                unit: String::new(),
            },
        }
    }

    fn all() -> Vec<TargetMetadata> {
        vec![md("a", "x"), md("a", "y"), md("b", "x"), md("c", "z")]
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        parse(&Params::from_pairs(pairs)).unwrap()
    }

    #[test]
    fn match_target_metric_and_limit_select_as_prometheus() {
        let r = select(&query(&[]), all());
        assert_eq!(r.len(), 4);
        assert_eq!(r[0]["metric"], "x");
        assert_eq!(r[0]["target"]["job"], "a");

        let r = select(
            &query(&[("match_target", "{job=~\"a|b\"}"), ("metric", "x")]),
            all(),
        );
        assert_eq!(r.len(), 2);
        assert!(r[0].get("metric").is_none(), "{}", r[0]);
        assert_eq!(r[1]["target"]["job"], "b");
        assert_eq!(r[1]["help"], "x help");

        // The limit is checked before each target: target a's two entries
        // both come although the limit is 1.
        let r = select(&query(&[("limit", "1")]), all());
        assert_eq!(r.len(), 2);
        let r = select(&query(&[("limit", "0")]), all());
        assert!(r.is_empty());
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = parse(&Params::from_pairs(&[("limit", "x")])).err().unwrap();
        assert!(e.message.contains("limit"), "{}", e.message);
        let e = parse(&Params::from_pairs(&[("match_target", "{job=")]))
            .err()
            .unwrap();
        assert!(e.message.contains("match_target"), "{}", e.message);
    }
}
