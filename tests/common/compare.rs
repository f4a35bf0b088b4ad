//! Asking Prometheus and Hourglass the same API question and comparing the
//! answers series by series, value by value.

use crate::common::http::request;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `GET path` on `addr`, which must answer 200 with JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    let r = request(addr, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// A query result as labels (JSON text) → `(time, value text)` points,
/// for vectors and matrices alike.
pub fn by_series(v: &Value) -> BTreeMap<String, Vec<(f64, String)>> {
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let points: Vec<&Value> = match s.get("values") {
            Some(vs) => vs.as_array().unwrap().iter().collect(),
            None => vec![&s["value"]],
        };
        let parsed = points
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
            .collect();
        out.insert(s["metric"].to_string(), parsed);
    }
    out
}

/// Both answers have the same result type, the same series, the same
/// timestamps, and values equal to a relative 1e-9 (NaN equals NaN).
/// Prometheus's answer must not be empty.
pub fn assert_same(what: &str, theirs: &Value, ours: &Value) {
    assert_eq!(
        theirs["data"]["resultType"], ours["data"]["resultType"],
        "{what}: result types differ"
    );
    let (a, b) = (by_series(theirs), by_series(ours));
    assert!(!a.is_empty(), "{what}: Prometheus returned nothing");
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: series differ"
    );
    for (k, pa) in &a {
        let pb = &b[k];
        assert_eq!(pa.len(), pb.len(), "{what} {k}: point counts differ");
        for ((ta, va), (tb, vb)) in pa.iter().zip(pb) {
            assert_eq!(ta, tb, "{what} {k}");
            let (x, y): (f64, f64) = (va.parse().unwrap(), vb.parse().unwrap());
            let close = x == y
                || (x.is_nan() && y.is_nan())
                || (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
            assert!(close, "{what} {k} at {ta}: Prometheus {va}, Hourglass {vb}");
        }
    }
}
