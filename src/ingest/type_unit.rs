//! Prometheus 3's type-and-unit labels (its `type-and-unit-labels`
//! feature): a series whose sender says what type and unit its metric
//! family has carries them as the labels `__type__` and `__unit__`, so
//! queries can select by them (`{__type__="counter"}`). PromQL drops them
//! wherever it drops `__name__` and vector matching looks through them.
//! Off by default, as in Prometheus: turning it on changes the labels,
//! hence the identity, of every series whose sender sends metadata.

/// The metric type label.
pub const TYPE: &str = "__type__";
/// The unit label.
pub const UNIT: &str = "__unit__";

/// `labels` with `__type__` and `__unit__` set from the family's
/// metadata (`kind` as metadata names it: `counter`, `gauge`, ...), in
/// place of any the series was sent with. An unknown or empty type and an
/// empty unit add nothing (and remove the sent label, as the metadata
/// speaks for the family).
pub fn labelled<'a>(
    labels: &[(&'a str, &'a str)],
    kind: &'a str,
    unit: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&'a str, &'a str)> = Vec::with_capacity(labels.len() + 2);
    out.extend(
        labels
            .iter()
            .filter(|(n, _)| *n != TYPE && *n != UNIT)
            .copied(),
    );
    if !kind.is_empty() && kind != "unknown" {
        out.push((TYPE, kind));
    }
    if !unit.is_empty() {
        out.push((UNIT, unit));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_unit_are_added_and_replace_what_was_sent() {
        let sent = [
            ("__name__", "http_requests_total"),
            ("__type__", "gauge"),
            ("job", "api"),
        ];
        let got = labelled(&sent, "counter", "requests");
        assert_eq!(
            got,
            vec![
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("__type__", "counter"),
                ("__unit__", "requests"),
            ]
        );
    }

    #[test]
    fn unknown_type_and_empty_unit_add_nothing() {
        let sent = [("__name__", "up"), ("__unit__", "x")];
        assert_eq!(labelled(&sent, "unknown", ""), vec![("__name__", "up")]);
        assert_eq!(labelled(&sent, "", ""), vec![("__name__", "up")]);
    }
}
