//! Assertions over text: an error message, a log line, a command's output.

/// Fails the test naming the first of `parts` that `text` does not contain.
#[track_caller]
pub fn assert_mentions(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
}
