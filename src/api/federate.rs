//! `GET /federate?match[]=...`: the newest sample of every series matching
//! any selector, within the lookback window before now, in text format
//! 0.0.4 with its timestamp, as Prometheus federates. Series keep all
//! their labels (`job`, `instance` included), so a scraper with
//! `honor_labels: true` stores them as they are here. No `match[]` selects
//! nothing; stale series (newest sample a staleness marker) are left out.

use super::envelope::{ApiError, ApiResult};
use super::labels::{blocking, deadline};
use super::params::Params;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use hourglass_query::ErrorKind;
use hourglass_query::prom_text::{Quoting, plain_float, write_quoted};
use hourglass_storage::{Labels, Querier, Sample, is_stale_nan};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

pub async fn federate(State(state): State<AppState>, params: Params) -> ApiResult {
    let sets = params.match_sets()?;
    let slot = super::query::admitted(&state).await?;
    let storage = state.storage();
    let lookback = state.engine().options().lookback_delta_ms;
    let max_series = state.engine().options().max_series;
    let until = deadline(&state);
    let now = wall_ms();
    let latest = blocking(move || {
        let _slot = slot;
        let (mint, maxt) = (now.saturating_sub(lookback).saturating_add(1), now);
        let q = storage.querier(mint, maxt);
        let mut latest: BTreeMap<Labels, Sample> = BTreeMap::new();
        let mut buf = Vec::new();
        for set in &sets {
            for mut s in q
                .select(set, mint, maxt)
                .map_err(|e| ApiError::internal(format!("storage: {e}")))?
            {
                if Instant::now() > until {
                    return Err(ApiError {
                        kind: ErrorKind::Timeout,
                        message: "federation timed out".to_string(),
                    });
                }
                if latest.contains_key(&s.labels) {
                    continue;
                }
                buf.clear();
                s.samples.read_into(&mut buf);
                if let Some(e) = s.samples.error() {
                    return Err(ApiError::internal(format!("storage: {e}")));
                }
                if let Some(&last) = buf.last()
                    && !is_stale_nan(last.v)
                {
                    latest.insert(s.labels, last);
                }
                if latest.len() > max_series {
                    return Err(ApiError {
                        kind: ErrorKind::Execution,
                        message: format!(
                            "federation selects more than {max_series} series, the most a query may select; narrow match[]"
                        ),
                    });
                }
            }
        }
        Ok(latest)
    })
    .await?;
    let mut r = (StatusCode::OK, render(&latest)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Text format 0.0.4, one `# TYPE <name> untyped` per metric name (series
/// grouped by name), labels but `__name__` in label order.
fn render(latest: &BTreeMap<Labels, Sample>) -> String {
    let mut by_name: BTreeMap<&str, Vec<(&Labels, &Sample)>> = BTreeMap::new();
    for (labels, s) in latest {
        by_name
            .entry(labels.metric_name().unwrap_or_default())
            .or_default()
            .push((labels, s));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        if name.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (labels, s) in series {
            out.push_str(name);
            let mut first = true;
            for l in labels.iter().filter(|l| &*l.name != "__name__") {
                out.push(if first { '{' } else { ',' });
                first = false;
                out.push_str(&l.name);
                out.push('=');
                write_quoted(&mut out, &l.value, Quoting::Exposition);
            }
            if !first {
                out.push('}');
            }
            let _ = writeln!(out, " {} {}", plain_float(s.v), s.t);
        }
    }
    out
}
