//! What the fuzz target checks, run over corpus mutations and random token
//! soup, plus the size and depth limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_query::fuzzing::{KEYWORDS, parse_and_round_trip};
use hourglass_query::{MAX_NESTING, MAX_QUERY_BYTES, parse};

/// Soup pieces besides the keywords.
const PIECES: &[&str] = &[
    "foo",
    "bar",
    "rate",
    "@",
    "start()",
    "end()",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "5m",
    "1h30m",
    "0",
    "1",
    "-1",
    "0x1f",
    "1e3",
    ".5",
    "Inf",
    "NaN",
    "\"x\"",
    "'y'",
    "`z`",
    "=",
    "!=",
    "=~",
    "!~",
    "==",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "label_join",
    "histogram_quantile",
    "time",
    "vector",
    "#c\n",
    " ",
    "\t",
    "job",
    "\"a.b\"",
    "\"\\u00e9\"",
    "\"\\x\"",
    "é",
    "le",
    "__name__",
    "5",
    "[5m:1m]",
    "[5m]",
    "[5m * 2]",
    "[step() + 1ms]",
    "[range():step()]",
    "offset (1h - 5m)",
    "offset -step()",
    "step()",
    "range()",
    "min(1m, 2m)",
    "max(",
    "anchored",
    "smoothed",
    "fill(0)",
    "fill_left(1)",
    "fill_right(-1)",
    "fill",
    "info",
    "{__name__=~\".+_info\"}",
    "[5m::1m]",
    "[1h::]",
    "::",
    "min_of(",
    "max_of(1, ",
    "direct_delta_rate(",
    "{__type__=\"counter\"}",
    "align 1m",
    "align",
    "histogram_quantiles(",
    ", \"q\", 0.5, 0.9)",
    "{{schema:0 sum:1 count:1}}",
    "{{",
    "}}",
];

/// Everything the soup is made of.
fn pieces() -> Vec<&'static str> {
    KEYWORDS.iter().chain(PIECES).copied().collect()
}

fn corpus_lines() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/promql/parse/");
    let mut out = Vec::new();
    for f in ["valid.txt", "invalid.txt"] {
        let text = std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        for line in text.lines().filter(|l| !l.starts_with("##")) {
            out.push(
                line.rsplit_once(" ==> ")
                    .map_or(line, |(q, _)| q)
                    .to_owned(),
            );
        }
    }
    out
}

#[test]
fn corpus_and_its_mutations_never_panic() {
    let lines = corpus_lines();
    let pieces = pieces();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for line in &lines {
        parse_and_round_trip(line.as_bytes());
        for _ in 0..8 {
            let mut bytes = line.as_bytes().to_vec();
            for _ in 0..=rng.usize(..3) {
                let at = rng.usize(..bytes.len() + 1);
                match rng.usize(..4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 => {
                        let piece = pieces[rng.usize(..pieces.len())];
                        bytes.splice(at..at, piece.bytes());
                    }
                    2 if at < bytes.len() => bytes[at] = rng.u8(..),
                    _ => bytes.truncate(at),
                }
            }
            parse_and_round_trip(&bytes);
        }
    }
}

#[test]
fn random_token_soup_never_panics() {
    let pieces = pieces();
    let mut rng = fastrand::Rng::with_seed(42);
    for _ in 0..5000 {
        let mut q = String::new();
        for _ in 0..rng.usize(..24) {
            q.push_str(pieces[rng.usize(..pieces.len())]);
            if rng.usize(..3) == 0 {
                q.push(' ');
            }
        }
        parse_and_round_trip(q.as_bytes());
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = |open: &str, inner: &str, close: &str, n: usize| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    for q in [
        deep("(", "foo", ")", 100_000),
        deep("sum(", "foo", ")", 50_000),
        deep("abs(", "foo", ")", 50_000),
        deep("-", "foo", "", 100_000),
        deep("2^", "2", "", 50_000),
        deep("foo + ", "foo", "", 30_000),
        deep("", "foo", " or foo", 30_000),
        deep("(foo + ", "1", ")", 20_000),
        deep("foo[1m:", "", "]", 1),
    ] {
        let q = &q[..q.len().min(MAX_QUERY_BYTES)];
        let _ = parse(q);
    }
    let err = parse(&deep("(", "foo", ")", MAX_NESTING + 1)).unwrap_err();
    assert!(err.message().contains("nested too deeply"), "{err}");
    assert!(parse(&deep("(", "foo", ")", MAX_NESTING - 1)).is_ok());
    let chain = vec!["foo"; 2000].join(" + ");
    assert!(parse(&chain).unwrap_err().message().contains("too deep"));
    let chain = vec!["foo"; 300].join(" or ");
    assert!(parse(&chain).is_ok());
}

#[test]
fn huge_input_is_refused() {
    let q = format!("foo{{a=\"{}\"}}", "x".repeat(MAX_QUERY_BYTES));
    let err = parse(&q).unwrap_err();
    assert!(err.message().contains("too long"), "{err}");
    assert!(err.to_string().len() < 1000);
}

#[test]
fn pathological_regexes_are_refused_or_cheap() {
    for re in [
        "((a{100}){100}){100}",
        "(?:(?:(?:a*)*)*)*b",
        "(a|aa)*(a|aa)*(a|aa)*c",
        "\\w{1000}\\w{1000}\\w{1000}",
    ] {
        let start = std::time::Instant::now();
        let _ = parse(&format!("foo{{a=~\"{}\"}}", re.replace('\\', "\\\\")));
        // Only a gross stall fails: debug builds on a loaded 2-core machine
        // took over 5 s here; an exponential blow-up takes far longer.
        assert!(
            start.elapsed().as_secs() < 30,
            "{re} took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn error_display_has_a_caret_under_the_problem() {
    let err = parse("sum(rate(foo[5m])) + rate(bar)").unwrap_err();
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "parse error at 1:27: expected type range vector in call to function \"rate\", got instant vector"
    );
    assert_eq!(lines[1], "  sum(rate(foo[5m])) + rate(bar)");
    assert_eq!(lines[2], format!("{}^^^", " ".repeat(2 + 26)));
    let err = parse("foo +\n  bar{a=}").unwrap_err();
    assert_eq!(err.line_col(), (2, 9));
    assert!(
        err.to_string().ends_with("    bar{a=}\n          ^"),
        "{err}"
    );
}

#[test]
fn comments_and_newlines_are_blanks() {
    let q = "sum by (job) ( # total\n  rate(foo[5m]) # per second\n)\n# end";
    assert_eq!(
        parse(q).unwrap().to_string(),
        "sum by (job) (rate(foo[5m]))"
    );
    assert!(parse("\"a\nb\"").is_err());
    assert_eq!(parse("`a\nb`").unwrap().to_string(), "\"a\\nb\"");
}

#[test]
fn many_expensive_regexes_hit_the_compile_budget() {
    let matchers: Vec<String> = (0..2000).map(|i| format!("l{i}=~\".{{1000}}\"")).collect();
    let q = format!("foo{{{}}}", matchers.join(","));
    let start = std::time::Instant::now();
    let err = parse(&q).unwrap_err();
    assert!(err.message().contains("too expensive"), "{err}");
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
}

/// The test scripts' native-histogram literal `{{schema:0 ...}}` is script
/// notation, not PromQL: the parser refuses it (cleanly), alone or inside
/// an expression.
#[test]
fn histogram_literals_of_the_scripts_are_not_promql() {
    for q in [
        "{{schema:0 sum:1 count:1}}",
        "foo + {{schema:0 sum:1 count:1}}",
        "{{}}",
    ] {
        assert!(parse(q).is_err(), "{q} parsed");
        parse_and_round_trip(q.as_bytes());
    }
}
