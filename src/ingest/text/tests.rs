use super::*;
use hourglass_query::prom_text::exposition_float;
use proptest::prelude::*;

/// Renders the parse of `input` one entry per line, compactly, or the error.
fn render(input: &str) -> String {
    render_with(parse(input))
}

fn render_with(parser: Parser<'_>) -> String {
    let mut out = Vec::new();
    for e in parser {
        match e {
            Ok(Entry::Help { family, text }) => out.push(format!("HELP {family} {text:?}")),
            Ok(Entry::Type { family, kind }) => {
                out.push(format!("TYPE {family} {}", kind.as_str()))
            }
            Ok(Entry::Sample(s)) => {
                let labels: Vec<String> =
                    s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                let ts = s.timestamp_ms.map(|t| format!(" @{t}")).unwrap_or_default();
                out.push(format!(
                    "{}{{{}}} {}{ts} [{} {}]",
                    s.name,
                    labels.join(","),
                    exposition_float(s.value),
                    s.family,
                    s.kind.as_str()
                ));
            }
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out.join("\n")
}

#[track_caller]
fn check(input: &str, want: &str) {
    assert_eq!(render(input), want, "input: {input:?}");
}

#[test]
fn samples() {
    check("up 1", "up{} 1.0 [up untyped]");
    check(
        "up{job=\"a\",instance=\"b\"} 0 1700000000000",
        "up{job=\"a\",instance=\"b\"} 0.0 @1700000000000 [up untyped]",
    );
    check(
        "  up { job = \"a\" , } \t 2.5  ",
        "up{job=\"a\"} 2.5 [up untyped]",
    );
    check("up{} NaN", "up{} NaN [up untyped]");
    check(
        "a +Inf\nb -Inf\nc 1e3\nd -0.5 -12",
        "a{} +Inf [a untyped]\nb{} -Inf [b untyped]\nc{} 1000.0 [c untyped]\nd{} -0.5 @-12 [d untyped]",
    );
    check(
        "ns:sub_metric 3",
        "ns:sub_metric{} 3.0 [ns:sub_metric untyped]",
    );
    check(
        "\n\n# just a comment\n#HELP x y\nx 1\n",
        "x{} 1.0 [x untyped]",
    );
}

#[test]
fn label_value_escapes() {
    check(
        r#"m{a="x\\y",b="q\"q",c="l\nl",d="\t"} 1"#,
        r#"m{a="x\\y",b="q\"q",c="l\nl",d="\\t"} 1.0 [m untyped]"#,
    );
    check(
        "m{a=\"caf\u{e9} \u{1F600}\"} 1",
        "m{a=\"caf\u{e9} \u{1F600}\"} 1.0 [m untyped]",
    );
}

#[test]
fn borrowed_when_no_escapes() {
    let Some(Ok(Entry::Sample(s))) = parse("m{a=\"plain\"} 1").next() else {
        panic!("no sample")
    };
    assert!(matches!(s.name, Cow::Borrowed(_)));
    assert!(matches!(s.labels[0].1, Cow::Borrowed(_)));
}

#[test]
fn quoted_utf8_names() {
    check(
        r#"{"my.metric", "a.b"="c"} 1"#,
        r#"my.metric{a.b="c"} 1.0 [my.metric untyped]"#,
    );
    check(
        r#"{"a"="c", "my.metric"} 1"#,
        r#"my.metric{a="c"} 1.0 [my.metric untyped]"#,
    );
    check(
        "# TYPE \"my.count\" counter\n{\"my.count\"} 4",
        "TYPE my.count counter\nmy.count{} 4.0 [my.count counter]",
    );
    check(r#"{__name__="x",y="z"} 1"#, r#"x{y="z"} 1.0 [x untyped]"#);
}

#[test]
fn help_and_type() {
    check(
        "# HELP m Some \\\\ help\\nmore \\q\n# TYPE m counter\nm_total 3",
        "HELP m \"Some \\\\ help\\nmore \\\\q\"\nTYPE m counter\nm_total{} 3.0 [m counter]",
    );
    check("# HELP m\nm 1", "HELP m \"\"\nm{} 1.0 [m untyped]");
    check(
        "# TYPE m gauge\nother 1",
        "TYPE m gauge\nother{} 1.0 [other untyped]",
    );
}

#[test]
fn le_and_quantile_are_normalised() {
    check(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2.5\"} 2\nh_bucket{le=\"1e6\"} 2\nh_bucket{le=\"+inf\"} 3\nh_sum 4\nh_count 3",
        "TYPE h histogram\n\
         h_bucket{le=\"1.0\"} 1.0 [h histogram]\n\
         h_bucket{le=\"2.5\"} 2.0 [h histogram]\n\
         h_bucket{le=\"1e+06\"} 2.0 [h histogram]\n\
         h_bucket{le=\"+Inf\"} 3.0 [h histogram]\n\
         h_sum{} 4.0 [h histogram]\n\
         h_count{} 3.0 [h histogram]",
    );
    check(
        "# TYPE s summary\ns{quantile=\"0\"} 1\ns{quantile=\"0.99\"} 2",
        "TYPE s summary\ns{quantile=\"0.0\"} 1.0 [s summary]\ns{quantile=\"0.99\"} 2.0 [s summary]",
    );
    // Untyped: left as written.
    check(
        "h_bucket{le=\"1\"} 1",
        "h_bucket{le=\"1\"} 1.0 [h_bucket untyped]",
    );
}

#[test]
fn errors_name_line_and_column() {
    check(
        "ok 1\n1bad 2",
        "ok{} 1.0 [ok untyped]\nerror: line 2, column 1: expected a metric name",
    );
    check(
        "m{a=\"b\" 1",
        "error: line 1, column 9: expected ',' or '}'",
    );
    check(
        "m{a=\"b} 1",
        "error: line 1, column 5: unterminated quoted string",
    );
    check(
        "m{a} 1",
        "error: line 1, column 4: expected '=' after label name \"a\"",
    );
    check(
        "m{a=b} 1",
        "error: line 1, column 5: expected '\"' to open the value of label \"a\"",
    );
    check("m{,} 1", "error: line 1, column 3: expected a label name");
    check(
        "m{a=\"1\",a=\"2\"} 1",
        "error: line 1, column 9: duplicate label \"a\"",
    );
    check("m", "error: line 1, column 2: expected a value");
    check("m one", "error: line 1, column 3: invalid value \"one\"");
    check(
        "m 1 1.5",
        "error: line 1, column 5: invalid timestamp \"1.5\": want integer milliseconds",
    );
    check(
        "m 1 2 3",
        "error: line 1, column 7: unexpected text \"3\" at end of line",
    );
    check(
        "{a=\"b\"} 1",
        "error: line 1, column 1: sample has no metric name",
    );
    check(
        "m{\"x\"} 1",
        "error: line 1, column 3: metric name given twice",
    );
    check("{\"\"} 1", "error: line 1, column 2: empty metric name");
    check(
        "# TYPE m countr",
        "error: line 1, column 10: unknown metric type \"countr\": want counter, gauge, histogram, summary or untyped",
    );
    check(
        "# TYPE m counter x",
        "error: line 1, column 18: unexpected text \"x\" at end of line",
    );
    check(
        "# HELP",
        "error: line 1, column 7: expected a metric family name after # HELP",
    );
    check(
        "m{a=\"\u{e9}\u{e9}\" x} 1",
        "error: line 1, column 10: expected ',' or '}'",
    );
    check("m 1\r\n", "error: line 1, column 3: invalid value \"1\\r\"");
    // Nothing after an error.
    check(
        "bad{\nok 1",
        "error: line 1, column 5: expected a label name",
    );
}

#[test]
fn invalid_utf8_is_located() {
    let e = parse_bytes(b"ok 1\nm{a=\"\xff\"} 1").err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("line 2, column 6: invalid UTF-8")
    );
}

/// Random and mutated inputs through the fuzz target's body, so CI
/// exercises it without cargo-fuzz.
#[test]
fn fuzz_body_on_random_and_mutated_inputs() {
    let seeds: &[&[u8]] = &[
        b"# HELP h H \\\\ x\\n\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2 17\nh_sum 3\nh_count 2\n",
        b"{\"my.metric\", \"a.b\"=\"c\\\"\\n\\\\\"} NaN\n# TYPE s summary\ns{quantile=\"0.5\"} -Inf\n",
        b"m{a=\"x\",b=\"\",} 1e-300 -5\n# comment\n\n",
        b"# TYPE c counter\nc_total{a=\"1\"} 1\nc_created{a=\"1\"} 5\n# TYPE h histogram\nh_bucket{le=\"1\",x=\"y\"} 1\nh_count{x=\"y\"} 1\nh_created{x=\"y\"} 2.5\n# EOF\n",
    ];
    let mut m = crate::mutate::Mutator::new(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"{}=\",# \n\\abnleqTYPEHLu_:.0123456789+-InfNa\tcrtdO";
    for round in 0..4000 {
        let data = m.mutate(seeds[round % seeds.len()], alphabet);
        fuzz_one(&data);
        fuzz_strict(&data);
    }
    for _ in 0..2000 {
        let data = m.random(alphabet, 40);
        fuzz_one(&data);
        fuzz_strict(&data);
    }
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}",
        "[a-z.\u{e9}\u{4e2d} -]{1,6}"
    ]
}

proptest! {
    #[test]
    fn printed_samples_parse_back(
        name in name_strategy(),
        labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_.]{0,6}", "[ -~\n\u{e9}]{0,8}", 0..4),
        value in prop_oneof![any::<f64>(), Just(f64::INFINITY), Just(f64::NAN)],
        ts in proptest::option::of(any::<i64>()),
    ) {
        let labels: Vec<(String, String)> = labels.into_iter().filter(|(n, _)| n != "__name__").collect();
        let mut text = String::new();
        write_sample(&mut text, &name, labels.iter().map(|(n, v)| (n.as_str(), v.as_str())), value, ts);
        let got: Vec<Entry<'_>> = parse(&text).collect::<Result<_, _>>().map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(got.len(), 1);
        let Entry::Sample(s) = &got[0] else { return Err(TestCaseError::fail("not a sample")) };
        prop_assert_eq!(s.name.as_ref(), name.as_str());
        let back: Vec<(String, String)> = s.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        prop_assert_eq!(back, labels);
        prop_assert!(s.value == value || (s.value.is_nan() && value.is_nan()));
        prop_assert_eq!(s.timestamp_ms, ts);
    }
}

#[test]
fn openmetrics_dialect() {
    let om = |input: &str| render_with(parse_openmetrics(input));
    assert_eq!(
        om(
            "# TYPE a counter\na_total 1 1700000000.123\na_total 2 1700000001 # {id=\"x\"} 1\n# EOF\n"
        ),
        "TYPE a counter\na_total{} 1.0 @1700000000123 [a counter]\na_total{} 2.0 @1700000001000 [a counter]"
    );
    // An exemplar right after the value, no timestamp.
    assert_eq!(om("b 1 # {id=\"y\"} 2 3\n"), "b{} 1.0 [b untyped]");
    // OpenMetrics-only types and UNIT.
    assert_eq!(
        om("# TYPE c unknown\n# UNIT c seconds\n# TYPE d gaugehistogram\nd_bucket{le=\"1\"} 3\n"),
        "TYPE c untyped\nTYPE d histogram\nd_bucket{le=\"1.0\"} 3.0 [d histogram]"
    );
    assert!(
        om("# EOF\nx 1\n").contains("error: line 2, column 1: text after # EOF"),
        "{}",
        om("# EOF\nx 1\n")
    );
    assert!(om("x 1 soon\n").contains("want seconds"));
    assert!(om("x 1 NaN\n").contains("want seconds"));
    // The 0.0.4 dialect keeps refusing both.
    assert!(render("x 1 1.5\n").contains("want integer milliseconds"));
    assert!(render("x 1 # {a=\"b\"} 1\n").contains("error: line 1, column 5: invalid timestamp"));
}
