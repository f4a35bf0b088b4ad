//! Runs the table-driven corpus in `testdata/promql/parse/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hourglass_query::parse;
use std::path::PathBuf;

/// The cases of `name` (line, query, expected); fails unless there are
/// more than `min`.
fn corpus(name: &str, min: usize) -> Vec<(usize, String, Option<String>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/promql/parse")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<_> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with("##") && !l.trim().is_empty())
        .map(|(i, l)| match l.rsplit_once(" ==> ") {
            Some((q, want)) => (i + 1, q.to_owned(), Some(want.to_owned())),
            None => (i + 1, l.to_owned(), None),
        })
        .collect();
    assert!(cases.len() > min, "{name}: corpus shrank: {}", cases.len());
    cases
}

#[test]
fn valid_queries_parse_print_canonically_and_round_trip() {
    let cases = corpus("valid.txt", 300);
    let mut failures = Vec::new();
    for (line, query, want) in cases {
        let expr = match parse(&query) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("valid.txt:{line}: {query:?} refused:\n{e}"));
                continue;
            }
        };
        let printed = expr.to_string();
        let want = want.unwrap_or_else(|| query.clone());
        if printed != want {
            failures.push(format!(
                "valid.txt:{line}: {query:?} printed as {printed:?}, want {want:?}"
            ));
        }
        match parse(&printed) {
            Ok(again) if again == expr => {}
            Ok(again) => failures.push(format!(
                "valid.txt:{line}: reparse differs:\n{expr:?}\n{again:?}"
            )),
            Err(e) => failures.push(format!(
                "valid.txt:{line}: printed form {printed:?} refused:\n{e}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn invalid_queries_are_refused_with_the_expected_message() {
    let cases = corpus("invalid.txt", 250);
    let mut failures = Vec::new();
    for (line, query, want) in cases {
        let Some(want) = want else {
            failures.push(format!("invalid.txt:{line}: no expected message"));
            continue;
        };
        match parse(&query) {
            Ok(e) => failures.push(format!("invalid.txt:{line}: {query:?} accepted as {e}")),
            Err(e) => {
                if !e.message().contains(&want) {
                    failures.push(format!(
                        "invalid.txt:{line}: {query:?}: message {:?} lacks {want:?}",
                        e.message()
                    ));
                }
                let span = e.span();
                if span.start > span.end || span.end > query.len() {
                    failures.push(format!(
                        "invalid.txt:{line}: span {span:?} outside the query"
                    ));
                }
                // The caret display must not panic and must show the message.
                assert!(e.to_string().contains(e.message()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
