//! `hourglass promql fmt|ast` end to end, on the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn hourglass(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hourglass"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hourglass");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn fmt_prints_the_canonical_form() {
    let out = hourglass(
        &["promql", "fmt", "sum(rate(foo{job='api'}[300]))by(job)"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "sum by (job) (rate(foo{job=\"api\"}[5m]))\n"
    );
}

#[test]
fn fmt_shows_the_error_with_a_caret_and_exits_1() {
    let out = hourglass(&["promql", "fmt", "rate(foo)"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("expected type range vector in call to function \"rate\", got instant vector"),
        "{err}"
    );
    assert!(err.contains("  rate(foo)\n       ^^^"), "{err}");
}

#[test]
fn dash_reads_one_expression_per_line_from_stdin() {
    let out = hourglass(&["promql", "fmt", "-"], "foo+bar\n\n1 > 2\nsum(x)by(a)\n");
    assert_eq!(out.status.code(), Some(1), "one line is invalid");
    assert_eq!(text(&out.stdout), "foo + bar\nsum by (a) (x)\n");
    assert!(text(&out.stderr).contains("comparisons between scalars must use BOOL modifier"));

    let out = hourglass(&["promql", "fmt", "-"], "a\nb offset 5m\n");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "a\nb offset 5m\n");
}

#[test]
fn ast_prints_the_tree() {
    let out = hourglass(&["promql", "ast", "rate(foo[5m])"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ast = text(&out.stdout);
    assert!(ast.contains("Call"), "{ast}");
    assert!(ast.contains("\"rate\""), "{ast}");
    assert!(ast.contains("range_ms: 300000"), "{ast}");

    let out = hourglass(&["promql", "ast", "-"], "foo{\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unexpected end of input"));
}
