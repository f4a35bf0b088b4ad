//! Prints the canonical form of each stdin line, or its parse error.
//! `cargo run -p hourglass-query --example promql_fmt < queries.txt`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        match hourglass_query::parse(&line) {
            Ok(e) => println!("OK  {e}"),
            Err(e) => println!("ERR {e}"),
        }
    }
}
