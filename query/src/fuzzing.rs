//! The body of the `promql_parse` fuzz target, here so that ordinary
//! `cargo test` runs exercise exactly what the fuzzer runs.

use crate::parse;

/// PromQL's keywords (operators, modifiers, aggregations, `inf`, `nan`):
/// the words a fuzzer's token soup needs.
pub use crate::parser::printer::KEYWORDS;

/// Parses `data` (if UTF-8); on success checks that the printed form parses
/// back to the same tree, on failure that the error renders. Panics only on
/// a bug in the parser or printer: it is a test harness, not an API.
pub fn parse_and_round_trip(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    match parse(query) {
        Ok(expr) => {
            let printed = expr.to_string();
            match parse(&printed) {
                Ok(again) => assert_eq!(again, expr, "reparse of {printed:?} differs"),
                Err(e) => panic!("printed form {printed:?} of {query:?} is refused: {e}"),
            }
        }
        Err(e) => {
            let span = e.span();
            assert!(span.start <= span.end && span.end <= query.len());
            let _ = e.to_string();
        }
    }
}
