//! What a regex matcher reduces to without running the regex per value.
//!
//! Only patterns that are plainly literal are recognised, by scanning the
//! text: anything with an escape, class, group or flag goes to the regex.
//! Being conservative keeps this exact; the regex is always the fallback.

/// Characters with a meaning in RE2 syntax (besides `|`).
const META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$',
];

/// A regex pattern's shape, for index lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal<'a> {
    /// `a|b|c`: exactly one of these strings (an empty one included).
    Set(Vec<&'a str>),
    /// `foo.*`: every value starting with the prefix (possibly empty).
    Prefix(&'a str),
    /// `foo.+`: values starting with the prefix and longer than it.
    PrefixNonEmpty(&'a str),
    /// `foo<rest>` with no top-level `|`: only values starting with the
    /// prefix can match, the regex decides among them.
    Narrowed(&'a str),
    /// No structure we use.
    Opaque,
}

/// Classifies a pattern as written (before anchoring).
pub(crate) fn classify(pattern: &str) -> Literal<'_> {
    if !pattern.contains(META) {
        return Literal::Set(pattern.split('|').collect());
    }
    if pattern.contains('|') {
        return Literal::Opaque;
    }
    if let Some(p) = pattern.strip_suffix(".*")
        && !p.contains(META)
    {
        return Literal::Prefix(p);
    }
    if let Some(p) = pattern.strip_suffix(".+")
        && !p.contains(META)
    {
        return Literal::PrefixNonEmpty(p);
    }
    // The literal run before the first metacharacter; if that is a
    // quantifier it applies to the run's last char, so drop that char.
    let Some(i) = pattern.find(META) else {
        return Literal::Opaque;
    };
    let mut prefix = &pattern[..i];
    if matches!(pattern[i..].chars().next(), Some('*' | '?' | '{' | '+')) {
        match prefix.char_indices().next_back() {
            Some((j, _)) => prefix = &prefix[..j],
            None => return Literal::Opaque,
        }
    }
    if prefix.is_empty() {
        Literal::Opaque
    } else {
        Literal::Narrowed(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(p: &str, want: Literal<'_>) {
        assert_eq!(classify(p), want, "{p:?}");
    }

    #[test]
    fn shapes() {
        check("a|b|c", Literal::Set(vec!["a", "b", "c"]));
        check("api", Literal::Set(vec!["api"]));
        check("", Literal::Set(vec![""]));
        check("a|", Literal::Set(vec!["a", ""]));
        check("node_.*", Literal::Prefix("node_"));
        check(".*", Literal::Prefix(""));
        check("node_.+", Literal::PrefixNonEmpty("node_"));
        check("node_(a|b)", Literal::Opaque);
        check("node_[ab]x", Literal::Narrowed("node_"));
        check("abc*", Literal::Narrowed("ab"));
        check("a*", Literal::Opaque);
        check("(?i)foo", Literal::Opaque);
        check("foo\\.bar", Literal::Narrowed("foo"));
        check("é+x", Literal::Opaque);
        check("aé?", Literal::Narrowed("a"));
    }
}
