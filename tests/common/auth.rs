//! A server configuration that requires credentials on reads and writes,
//! and the `Authorization` values that pass it.

/// The writer's `Authorization` header value.
pub const WRITE: &str = "Bearer writer-token-0123456789";
/// The reader's `Authorization` header value.
pub const READ: &str = "Bearer reader-token-0123456789";

/// `hourglass.toml` with one write token and one read token.
pub const CONFIG: &str = r#"
[[auth.write.tokens]]
name = "writer"
token = "writer-token-0123456789"

[[auth.read.tokens]]
name = "reader"
token = "reader-token-0123456789"
"#;

/// `hourglass.toml` with one write token per name in `names`, each the
/// name followed by `-token-0123456789`.
pub fn write_tokens(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!("[[auth.write.tokens]]\nname = \"{n}\"\ntoken = \"{n}-token-0123456789\"\n")
        })
        .collect()
}
