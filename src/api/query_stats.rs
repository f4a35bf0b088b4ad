//! `data.stats` of a query response, as Prometheus answers `stats=…`:
//! `timings` in seconds and `samples`; `stats=all` adds
//! `totalQueryableSamplesPerStep`, `[time, samples]` pairs.
//!
//! What the figures mean here: `totalQueryableSamples` is the samples read
//! from storage, each counted once (Prometheus counts a sample once per
//! step whose range it falls in); the per-step figures split that same
//! total by the first step at or after each sample. `peakSamples` is the
//! most samples the query held at once, as its `--query-max-samples`
//! limit counts them.

use super::json::format_timestamp;
use super::params::Params;
use hourglass_query::QueryStats;
use hourglass_query::prom_text::write_api_value;
use std::time::Duration;

/// What the `stats` parameter asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsWanted {
    /// No `stats`, or an empty one.
    None,
    /// Any other value: timings and sample totals.
    Summary,
    /// `stats=all`: samples per step as well.
    All,
}

impl StatsWanted {
    /// Reads the `stats` parameter as Prometheus does.
    pub fn from_params(params: &Params) -> StatsWanted {
        match params.get("stats") {
            None | Some("") => StatsWanted::None,
            Some("all") => StatsWanted::All,
            Some(_) => StatsWanted::Summary,
        }
    }
}

/// The `stats` object: the engine's figures, the time spent waiting for a
/// slot, and (with `stats=all`) samples per step.
pub fn stats_json(stats: &QueryStats, queue: Duration, per_step: Option<&[(i64, u64)]>) -> String {
    let mut out = String::with_capacity(320);
    out.push_str("{\"timings\":{");
    let timings = [
        ("evalTotalTime", stats.eval_time),
        ("resultSortTime", stats.sort_time),
        ("queryPreparationTime", stats.prepare_time),
        ("innerEvalTime", stats.inner_eval_time()),
        ("execQueueTime", queue),
        ("execTotalTime", queue + stats.eval_time),
    ];
    for (i, (name, d)) in timings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        write_api_value(d.as_secs_f64(), &mut out);
    }
    out.push_str("},\"samples\":{");
    if let Some(steps) = per_step {
        out.push_str("\"totalQueryableSamplesPerStep\":[");
        for (i, (t, n)) in steps.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            format_timestamp(*t, &mut out);
            out.push(',');
            out.push_str(&n.to_string());
            out.push(']');
        }
        out.push_str("],");
    }
    out.push_str("\"totalQueryableSamples\":");
    out.push_str(&stats.samples_loaded.to_string());
    out.push_str(",\"peakSamples\":");
    out.push_str(&stats.peak_samples.to_string());
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_have_prometheus_shape_and_names() {
        let stats = QueryStats {
            samples_loaded: 12,
            series_loaded: 2,
            peak_samples: 9,
            prepare_time: Duration::from_millis(1),
            sort_time: Duration::from_micros(500),
            eval_time: Duration::from_millis(4),
        };
        let text = stats_json(&stats, Duration::from_millis(2), None);
        assert_eq!(
            text,
            "{\"timings\":{\"evalTotalTime\":0.004,\"resultSortTime\":0.0005,\
             \"queryPreparationTime\":0.001,\"innerEvalTime\":0.0025,\
             \"execQueueTime\":0.002,\"execTotalTime\":0.006},\
             \"samples\":{\"totalQueryableSamples\":12,\"peakSamples\":9}}"
        );
        let with_steps = stats_json(&stats, Duration::ZERO, Some(&[(1_000, 5), (1_500, 7)]));
        let v: serde_json::Value = serde_json::from_str(&with_steps).unwrap();
        assert_eq!(
            v["samples"]["totalQueryableSamplesPerStep"],
            serde_json::json!([[1, 5], [1.5, 7]])
        );
    }

    #[test]
    fn any_nonempty_stats_value_asks_for_stats_and_all_for_steps() {
        let want = |q: &[(&str, &str)]| StatsWanted::from_params(&Params::from_pairs(q));
        assert_eq!(want(&[]), StatsWanted::None);
        assert_eq!(want(&[("stats", "")]), StatsWanted::None);
        assert_eq!(want(&[("stats", "1")]), StatsWanted::Summary);
        assert_eq!(want(&[("stats", "all")]), StatsWanted::All);
    }
}
