//! Prometheus 3's OTLP name translation (`UnderscoreEscapingWithSuffixes`,
//! after prometheus/otlptranslator): metric names split into tokens of
//! `[a-zA-Z0-9:]` joined by `_`, the UCUM unit appended as words
//! (`s` → `seconds`, `By` → `bytes`, `1/s` → `per_second`), `_total` on
//! monotonic sums, `_ratio` on gauges of unit `1`; label names with every
//! character outside `[a-zA-Z0-9_]` replaced by `_`, and `key_` before a
//! leading digit (`key` before a single leading `_`).

/// What the metric is, for its suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A gauge (or a non-monotonic sum).
    Gauge,
    /// A monotonic sum: a counter.
    Counter,
    /// A histogram or summary.
    Other,
}

fn main_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// Letters and digits kept, runs of anything else one `_` (Go's
/// `CleanUpString`).
fn clean(s: &str) -> String {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The unit's words: main unit and `per_<unit>`, each possibly empty.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or_default().trim();
    let per = parts.next().unwrap_or_default().trim();
    let word = |u: &str, map: fn(&str) -> Option<&'static str>| {
        if u.is_empty() || u.contains(['{', '}']) {
            String::new()
        } else {
            clean(map(u).unwrap_or(u))
        }
    };
    let main = word(main, main_unit);
    let per = word(per, per_unit);
    let per = if per.is_empty() {
        per
    } else {
        format!("per_{per}")
    };
    (main, per)
}

/// The `__unit__` label of an OTel unit, as Prometheus's unit namer
/// builds it: the unit's words (`s` → `seconds`, `By/s` →
/// `bytes_per_second`, `1` and `{…}` → nothing).
pub fn unit_label(unit: &str) -> String {
    match unit_suffixes(unit) {
        (main, per) if main.is_empty() => per,
        (main, per) if per.is_empty() => main,
        (main, per) => format!("{main}_{per}"),
    }
}

/// The Prometheus name of an OTel metric; empty when nothing of it is
/// legal.
pub fn metric_name(name: &str, unit: &str, kind: Kind) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (main, per) = unit_suffixes(unit);
    if !main.is_empty() && !tokens.contains(&main) {
        tokens.push(main);
    }
    if !per.is_empty() && !tokens.contains(&per) {
        tokens.push(per);
    }
    if kind == Kind::Counter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == Kind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// Appends the Prometheus form of an attribute key to `out`.
pub fn push_label_name(out: &mut String, key: &str) {
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push_str("key_");
    } else if key.starts_with('_') && !key.starts_with("__") {
        out.push_str("key");
    }
    out.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

/// The Prometheus form of an attribute key.
pub fn label_name(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 4);
    push_label_name(&mut s, key);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_prometheus_3_translates_them() {
        let cases = [
            (
                "http.server.duration",
                "s",
                Kind::Other,
                "http_server_duration_seconds",
            ),
            (
                "http.server.request.size",
                "By",
                Kind::Other,
                "http_server_request_size_bytes",
            ),
            ("requests", "1", Kind::Counter, "requests_total"),
            (
                "system.cpu.utilization",
                "1",
                Kind::Gauge,
                "system_cpu_utilization_ratio",
            ),
            ("queue.length", "{items}", Kind::Gauge, "queue_length"),
            (
                "throughput",
                "By/s",
                Kind::Gauge,
                "throughput_bytes_per_second",
            ),
            ("rate", "1/s", Kind::Gauge, "rate_per_second"),
            (
                "active_total_sessions",
                "",
                Kind::Counter,
                "active_sessions_total",
            ),
            ("latency_seconds", "s", Kind::Other, "latency_seconds"),
            ("a__b..c", "", Kind::Gauge, "a_b_c"),
            ("2xx.count", "", Kind::Counter, "_2xx_count_total"),
            ("temp", "Cel", Kind::Gauge, "temp_celsius"),
            ("odd", "foo.bar", Kind::Gauge, "odd_foo_bar"),
            ("ratio_ok", "1", Kind::Gauge, "ok_ratio"),
        ];
        for (name, unit, kind, want) in cases {
            assert_eq!(metric_name(name, unit, kind), want, "{name} {unit}");
        }
    }

    #[test]
    fn label_names() {
        assert_eq!(label_name("http.method"), "http_method");
        assert_eq!(label_name("9to5"), "key_9to5");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("__reserved"), "__reserved");
        assert_eq!(label_name("ünï"), "_n_");
    }
}
