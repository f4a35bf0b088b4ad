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
    assert_same_within(what, theirs, ours, 1e-9);
}

/// [`assert_same`] with values equal to a relative `rel`.
pub fn assert_same_within(what: &str, theirs: &Value, ours: &Value, rel: f64) {
    assert_eq!(
        theirs["data"]["resultType"], ours["data"]["resultType"],
        "{what}: result types differ"
    );
    let (a, b) = (by_series(theirs), by_series(ours));
    assert!(!a.is_empty(), "{what}: Prometheus returned nothing");
    each_point(what, &a, &b, |at, va, vb| {
        let (x, y): (f64, f64) = (va.parse().unwrap(), vb.parse().unwrap());
        assert!(close(x, y, rel), "{at}: Prometheus {va}, Hourglass {vb}");
    });
}

/// Both sides have the same series, each with the same timestamps; `check`
/// sees each pair of points with a description of where it is.
fn each_point<P>(
    what: &str,
    a: &BTreeMap<String, Vec<(f64, P)>>,
    b: &BTreeMap<String, Vec<(f64, P)>>,
    mut check: impl FnMut(&str, &P, &P),
) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: series differ"
    );
    for (k, pa) in a {
        let pb = &b[k];
        assert_eq!(pa.len(), pb.len(), "{what} {k}: point counts differ");
        for ((ta, va), (tb, vb)) in pa.iter().zip(pb) {
            assert_eq!(ta, tb, "{what} {k}");
            check(&format!("{what} {k} at {ta}"), va, vb);
        }
    }
}

/// Equal to a relative `rel`, NaN equal to NaN.
fn close(x: f64, y: f64, rel: f64) -> bool {
    x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= rel * x.abs().max(y.abs())
}

/// A query result's native histograms as labels (JSON text) → `(time,
/// histogram object)` points, for vectors (`histogram`) and matrices
/// (`histograms`) alike.
fn histograms_by_series(v: &Value) -> BTreeMap<String, Vec<(f64, Value)>> {
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let points: Vec<&Value> = match (s.get("histograms"), s.get("histogram")) {
            (Some(hs), _) => hs.as_array().unwrap().iter().collect(),
            (None, Some(h)) => vec![h],
            (None, None) => Vec::new(),
        };
        let parsed = points
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].clone()))
            .collect();
        out.insert(s["metric"].to_string(), parsed);
    }
    out
}

/// A number Prometheus writes as text, equal to a relative 1e-9.
fn close_text(a: &Value, b: &Value) -> bool {
    let (x, y): (f64, f64) = (
        a.as_str().unwrap().parse().unwrap(),
        b.as_str().unwrap().parse().unwrap(),
    );
    close(x, y, 1e-9)
}

/// As [`assert_same`] for native histogram results: the same series and
/// timestamps, and per histogram the same count, sum and buckets
/// (boundary rule, bounds and count, numbers to a relative 1e-9).
/// Prometheus's answer must hold at least one histogram.
pub fn assert_same_histograms(what: &str, theirs: &Value, ours: &Value) {
    assert_eq!(
        theirs["data"]["resultType"], ours["data"]["resultType"],
        "{what}: result types differ"
    );
    let (a, b) = (histograms_by_series(theirs), histograms_by_series(ours));
    assert!(
        a.values().any(|p| !p.is_empty()),
        "{what}: Prometheus returned no histogram: {theirs}"
    );
    each_point(what, &a, &b, |at, ha, hb| {
        let at = format!("{at}: Prometheus {ha}, Hourglass {hb}");
        assert!(close_text(&ha["count"], &hb["count"]), "{at}");
        assert!(close_text(&ha["sum"], &hb["sum"]), "{at}");
        let empty = Vec::new();
        let ba = ha["buckets"].as_array().unwrap_or(&empty);
        let bb = hb["buckets"].as_array().unwrap_or(&empty);
        assert_eq!(ba.len(), bb.len(), "{at}");
        for (x, y) in ba.iter().zip(bb) {
            let (x, y) = (x.as_array().unwrap(), y.as_array().unwrap());
            assert_eq!(x.len(), y.len(), "{at}");
            assert_eq!(x[0], y[0], "{at}");
            for (a, b) in x.iter().zip(y).skip(1) {
                assert!(close_text(a, b), "{at}");
            }
        }
    });
}

/// Prometheus at `prom` and Hourglass at `ours`, asked the same question
/// at the evaluation time `t` (Unix seconds).
pub struct Both {
    pub prom: SocketAddr,
    pub ours: SocketAddr,
    pub t: f64,
}

impl Both {
    /// Both answers to the instant query `q` at `t`: (Prometheus, ours).
    pub fn instant(&self, q: &str) -> (Value, Value) {
        self.get(&format!(
            "/api/v1/query?query={}&time={}",
            crate::common::query::enc(q),
            self.t
        ))
    }

    /// Both answers to the range query `q` over the `secs` seconds up to
    /// `t`, one step a second.
    pub fn range(&self, q: &str, secs: f64) -> (Value, Value) {
        self.get(&format!(
            "/api/v1/query_range?query={}&start={}&end={}&step=1",
            crate::common::query::enc(q),
            self.t - secs,
            self.t
        ))
    }

    fn get(&self, path: &str) -> (Value, Value) {
        (get_json(self.prom, path), get_json(self.ours, path))
    }
}

/// Waits (up to `within`) until Hourglass at `ours` holds remote-written
/// data: `count` (a query answering one number) reaches `at_least` and the
/// newest `up` is in the past; returns a whole second before that newest
/// sample, an evaluation time both sides have certainly received.
pub fn settled_time(
    ours: SocketAddr,
    count: &str,
    at_least: f64,
    within: std::time::Duration,
) -> f64 {
    let deadline = std::time::Instant::now() + within;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no remote-written data arrived ({count} below {at_least})"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        let first = |q: &str| {
            let v = get_json(
                ours,
                &format!("/api/v1/query?query={}", crate::common::query::enc(q)),
            );
            v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
        };
        let newest = first("max(timestamp(up))");
        if let (Some(newest), Some(n)) = (newest, first(count))
            && n >= at_least
            && newest < crate::common::external::now_s()
        {
            return (newest - 1.0).floor();
        }
    }
}
