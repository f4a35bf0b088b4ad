//! Decoding of custom-metrics items, field by field.

use super::*;
use serde_json::json;

#[track_caller]
fn refused(v: Value, field: &str, reason_part: &str) {
    match decode(&v, 0) {
        Ok(i) => panic!("accepted {v}: {i:?}"),
        Err(e) => {
            assert_eq!(e.field, field, "{v}: {e:?}");
            assert!(e.reason.contains(reason_part), "{v}: {e:?}");
        }
    }
}

fn series(v: Value) -> Vec<String> {
    let item = decode(&v, 1000).unwrap_or_else(|e| panic!("{v}: {e:?}"));
    assert_eq!(item.num_samples(), item.series().len(), "{v}");
    item.series()
        .iter()
        .map(|(l, v)| format!("{l} {}", exposition_float(*v)))
        .collect()
}

#[test]
fn gauge_with_labels_source_and_times() {
    let i = decode(
        &json!({"name": "temp", "metric_type": "gauge", "value": 21.5, "labels": {"room": "a"},
                "source": "kubernetes", "timestamp": "2023-11-14T22:13:20Z", "help_text": "T"}),
        5,
    )
    .unwrap();
    assert_eq!(i.t, 1_700_000_000_000);
    assert_eq!(i.help.as_deref(), Some("T"));
    assert_eq!(
        series(
            json!({"name": "temp", "metric_type": "GAUGE", "value": "NaN", "source": "KUBERNETES"})
        ),
        vec![r#"temp{source="KUBERNETES"} NaN"#]
    );
    assert_eq!(decode(&json!({"name": "x", "metric_type": "CUSTOM", "value": 1, "timestamp": 1_700_000_000_123_i64}), 5).unwrap().t, 1_700_000_000_123);
    assert_eq!(
        decode(
            &json!({"name": "x", "metric_type": "CUSTOM", "value": 1}),
            5
        )
        .unwrap()
        .t,
        5
    );
}

#[test]
fn histogram_and_summary_series() {
    assert_eq!(
        series(
            json!({"name": "lat", "metric_type": "HISTOGRAM", "buckets": {"0.5": 1, "1": 3}, "sum": 2.5, "count": 4})
        ),
        vec![
            r#"lat_bucket{le="0.5"} 1.0"#,
            r#"lat_bucket{le="1.0"} 3.0"#,
            r#"lat_bucket{le="+Inf"} 4.0"#,
            "lat_sum{} 2.5",
            "lat_count{} 4.0",
        ]
    );
    assert_eq!(
        series(
            json!({"name": "rt", "metric_type": "SUMMARY", "quantiles": {"0.99": 7, "0.5": 2}, "sum": 30, "count": 10})
        ),
        vec![
            r#"rt{quantile="0.5"} 2.0"#,
            r#"rt{quantile="0.99"} 7.0"#,
            "rt_sum{} 30.0",
            "rt_count{} 10.0"
        ]
    );
}

#[test]
fn refusals_name_the_field() {
    refused(json!(3), "", "JSON object");
    refused(
        json!({"metric_type": "GAUGE", "value": 1}),
        "name",
        "required",
    );
    refused(json!({"name": "x", "value": 1}), "metric_type", "required");
    refused(
        json!({"name": "x", "metric_type": "METER", "value": 1}),
        "metric_type",
        "COUNTER",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE"}),
        "value",
        "required",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": "1"}),
        "value",
        "number",
    );
    refused(
        json!({"name": "x", "metric_type": "COUNTER", "value": -1}),
        "value",
        "negative",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "typo": 1}),
        "typo",
        "unknown",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "source": "MOON"}),
        "source",
        "APPLICATION",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "labels": {"a": 1}}),
        "labels.a",
        "strings",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "labels": {"a-b": "1"}}),
        "labels.a-b",
        "invalid label name",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "source": "CLOUD_PROVIDER", "labels": {"source": "1"}}),
        "labels.source",
        "conflicts",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "timestamp": "yesterday"}),
        "timestamp",
        "RFC 3339",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "timestamp": "1700000000"}),
        "timestamp",
        "RFC 3339",
    );
    refused(
        json!({"name": "x", "metric_type": "GAUGE", "value": 1, "timestamp": 1.5}),
        "timestamp",
        "integer",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "sum": 1, "count": 1}),
        "buckets",
        "required",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"x": 1}, "sum": 1, "count": 1}),
        "buckets.x",
        "not a number",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"1": 2, "2": 1}, "sum": 1, "count": 2}),
        "buckets.2.0",
        "cumulative",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"1": 2, "+Inf": 3}, "sum": 1, "count": 2}),
        "count",
        "+Inf",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"1": 2}, "sum": 1}),
        "count",
        "required",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"1": 2}, "count": 2}),
        "sum",
        "required",
    );
    refused(
        json!({"name": "h", "metric_type": "HISTOGRAM", "buckets": {"1": 2}, "sum": 1, "count": 2, "labels": {"le": "1"}}),
        "labels.le",
        "reserved",
    );
    refused(
        json!({"name": "s", "metric_type": "SUMMARY", "quantiles": {"1.5": 2}, "sum": 1, "count": 2}),
        "quantiles.1.5",
        "between 0 and 1",
    );
    refused(
        json!({"name": "s", "metric_type": "SUMMARY", "quantiles": {"0.5": 2}, "sum": 1}),
        "count",
        "required",
    );
}
