//! Series identity: a sorted set of label pairs.

use std::fmt;
use std::sync::Arc;

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// Label name.
    pub name: Arc<str>,
    /// Label value; never empty inside a [`Labels`] (empty means absent).
    pub value: Arc<str>,
}

/// By name, then value. Interned strings are compared by pointer first:
/// sorting series mostly compares names and values they share.
impl Ord for Label {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let same = |a: &Arc<str>, b: &Arc<str>| {
            if Arc::ptr_eq(a, b) {
                std::cmp::Ordering::Equal
            } else {
                a.cmp(b)
            }
        };
        same(&self.name, &other.name).then_with(|| same(&self.value, &other.value))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A series' labels: sorted by name, names unique, no empty values.
///
/// `__name__` is an ordinary label. Ordering of two `Labels` is
/// lexicographic over their pairs, which is the order series are returned in.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Builds labels from pairs: sorts them and drops empty values. Duplicate
    /// names are kept in order and left for validation to refuse.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .filter(|(_, value)| !value.as_ref().is_empty())
            .map(|(n, value)| Label {
                name: Arc::from(n.as_ref()),
                value: Arc::from(value.as_ref()),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(v.into())
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| (*l.name).cmp(name))
            .ok()
            .map(|i| &*self.0[i].value)
    }

    /// These labels without `name` (sharing the other pairs' strings).
    pub fn without(&self, name: &str) -> Labels {
        match self.0.binary_search_by(|l| (*l.name).cmp(name)) {
            Ok(i) => Labels(
                self.0[..i]
                    .iter()
                    .chain(&self.0[i + 1..])
                    .cloned()
                    .collect(),
            ),
            Err(_) => self.clone(),
        }
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Hints the CPU to fetch the shared label set (its reference count
    /// sits beside the pairs), for a walk that will clone or drop it.
    pub fn prefetch(&self) {
        crate::prefetch::line(self.0.as_ptr());
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Labels {
    /// Labels from pairs already sorted by name with no empty values (the
    /// head rebuilds labels with interned strings this way).
    pub(crate) fn from_sorted(pairs: Vec<Label>) -> Labels {
        debug_assert!(pairs.windows(2).all(|w| w[0].name <= w[1].name));
        Labels(pairs.into())
    }

    /// [`Labels::from_sorted`] from an iterator of known length: one
    /// allocation, no intermediate vector.
    pub(crate) fn from_sorted_iter(pairs: impl ExactSizeIterator<Item = Label>) -> Labels {
        let l = Labels(pairs.collect());
        debug_assert!(l.0.windows(2).all(|w| w[0].name <= w[1].name));
        l
    }

    /// A stable 64-bit hash of the pairs: the same on every run, machine
    /// and version (it may be persisted), unlike `std`'s `Hash`.
    pub fn stable_hash(&self) -> u64 {
        stable_hash_labels(&self.0)
    }

    /// Whether no other copy of these labels exists (a shared table can
    /// then let them go).
    pub(crate) fn is_only_copy(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }
}

/// [`Labels::stable_hash`] of sorted pairs not (yet) made into [`Labels`].
pub(crate) fn stable_hash_labels(pairs: &[Label]) -> u64 {
    hash_pairs(pairs.iter().map(|l| (&*l.name, &*l.value)))
}

/// Sorts raw pairs the way [`Labels::from_pairs`] does (by name, stable,
/// empty values dropped) into `out`, reusing its allocation.
pub(crate) fn sort_pairs<'a>(pairs: &[(&'a str, &'a str)], out: &mut Vec<(&'a str, &'a str)>) {
    out.clear();
    out.extend(pairs.iter().filter(|(_, v)| !v.is_empty()));
    // Senders nearly always send labels sorted already.
    if !out.is_sorted_by(|a, b| a.0 <= b.0) {
        out.sort_by(|a, b| a.0.cmp(b.0));
    }
}

/// A `Hasher` for string keys (the head's interner) on the labels hash's
/// mixing: a few multiplies per string where SipHash takes a few dozen
/// rounds. Its seed is fixed, as the series maps' hash is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrHasher(StableHasher);

impl Default for StrHasher {
    fn default() -> Self {
        StrHasher(StableHasher::new())
    }
}

impl std::hash::Hasher for StrHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_bytes(bytes);
    }
    fn write_u8(&mut self, _: u8) {
        // `str`'s `Hash` ends with 0xff: the length is mixed in already.
    }
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// [`Labels::stable_hash`] of pairs prepared by [`sort_pairs`].
pub(crate) fn stable_hash_pairs(pairs: &[(&str, &str)]) -> u64 {
    hash_pairs(pairs.iter().copied())
}

fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = StableHasher::new();
    for (n, v) in pairs {
        h.write_str(n);
        h.write_str(v);
    }
    h.finish()
}

/// The reserved label that marks a start-timestamp companion series
/// (`start_times.rs`): refused from writers.
pub const START_TIME_LABEL: &str = "__start_timestamp__";

impl Labels {
    /// Checks names, duplicates and sizes against `limits`, and refuses
    /// the reserved [`START_TIME_LABEL`]; the error names the series.
    pub fn validate(&self, limits: &LabelLimits) -> Result<(), LabelError> {
        let fail = |reason: String| {
            Err(LabelError {
                series: self.to_string(),
                reason,
            })
        };
        if self.is_empty() {
            return fail("series has no labels".into());
        }
        if self.len() > limits.max_labels {
            return fail(format!(
                "{} labels, more than the limit of {}",
                self.len(),
                limits.max_labels
            ));
        }
        let mut prev: Option<&str> = None;
        for l in self.iter() {
            if l.name.is_empty() {
                return fail("empty label name".into());
            }
            if prev == Some(&*l.name) {
                return fail(format!("duplicate label name {:?}", &*l.name));
            }
            prev = Some(&l.name);
            if &*l.name == START_TIME_LABEL {
                return fail(format!("label name {START_TIME_LABEL:?} is reserved"));
            }
            if l.name.len() > limits.max_name_bytes {
                return fail(format!(
                    "label name {:?} longer than {} bytes",
                    &*l.name, limits.max_name_bytes
                ));
            }
            if l.value.len() > limits.max_value_bytes {
                return fail(format!(
                    "value of label {:?} longer than {} bytes",
                    &*l.name, limits.max_value_bytes
                ));
            }
            let legal = if limits.utf8_names {
                !l.name.chars().any(char::is_control)
            } else {
                is_legacy_name(&l.name)
            };
            if !legal {
                return fail(format!("invalid label name {:?}", &*l.name));
            }
        }
        Ok(())
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, the classic Prometheus label name.
fn is_legacy_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Limits enforced by [`Labels::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelLimits {
    /// Most labels per series, `__name__` included.
    pub max_labels: usize,
    /// Longest label name in bytes.
    pub max_name_bytes: usize,
    /// Longest label value in bytes.
    pub max_value_bytes: usize,
    /// Accept any UTF-8 name without control characters (Prometheus 3);
    /// otherwise only `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub utf8_names: bool,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels: 64,
            max_name_bytes: 1024,
            max_value_bytes: 4096,
            utf8_names: true,
        }
    }
}

/// A series refused by [`Labels::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid series {series}: {reason}")]
pub struct LabelError {
    /// The series as printed by `Display`.
    pub series: String,
    /// What is wrong.
    pub reason: String,
}

/// A folded-multiply hash over 16-byte blocks (wyhash's core step): one
/// 64×64→128 multiply per block, so a typical label name or value costs
/// one. Its output is part of nothing on disk; it only keys the head's
/// series maps and `limit_ratio`, but keep it stable anyway.
#[derive(Debug, Clone, Copy)]
struct StableHasher(u64);

/// Odd constants with well-spread bits (wyhash's).
const P: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Up to 8 bytes as a little-endian word, zero-padded. Short tails are
/// read as two overlapping words (equal bytes land on equal bits), not
/// copied: a copy of a variable length is a call to memcpy, which cost
/// more than the hashing on the remote-write path.
#[inline]
fn le64(b: &[u8]) -> u64 {
    let n = b.len();
    if let Ok(w) = <[u8; 8]>::try_from(b) {
        u64::from_le_bytes(w)
    } else if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*lo)) | (u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4)))
    } else {
        b.iter()
            .enumerate()
            .fold(0, |x, (i, &byte)| x | (u64::from(byte) << (8 * i)))
    }
}

impl StableHasher {
    fn new() -> Self {
        StableHasher(0x243f_6a88_85a3_08d3)
    }

    #[inline]
    fn write_str(&mut self, s: &str) {
        self.write_bytes(s.as_bytes());
    }

    #[inline]
    fn write_bytes(&mut self, b: &[u8]) {
        let mut blocks = b.chunks_exact(16);
        for c in &mut blocks {
            self.0 = fold(le64(&c[..8]) ^ P[0] ^ self.0, le64(&c[8..]) ^ P[1]);
        }
        let r = blocks.remainder();
        let (lo, hi) = r.split_at(r.len().min(8));
        // The length goes into the last block's top byte (always zero
        // there: a remainder has at most 15 bytes), so ("ab","c") and
        // ("a","bc") differ.
        self.0 = fold(
            le64(lo) ^ P[2] ^ self.0,
            le64(hi) ^ P[3] ^ ((b.len() as u64) << 56),
        );
    }

    fn finish(&self) -> u64 {
        fold(self.0 ^ P[0], P[3])
    }
}

/// Prints `name{a="b", c="d"}` as Prometheus does.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, &*l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_drops_one_name_and_order_ignores_sharing() {
        let l = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("a", "1")]);
        assert_eq!(
            l.without("__name__"),
            Labels::from_pairs([("job", "api"), ("a", "1")])
        );
        assert_eq!(l.without("nope"), l);
        // Shared and separately allocated strings order the same way.
        let shared = Labels::from_sorted(l.iter().cloned().collect());
        let other = Labels::from_pairs([("job", "apj"), ("__name__", "up"), ("a", "1")]);
        assert_eq!(shared.cmp(&l), std::cmp::Ordering::Equal);
        assert_eq!(shared.cmp(&other), l.cmp(&other));
        assert!(shared < other);
        assert_eq!(other.cmp(&shared), std::cmp::Ordering::Greater);
    }

    #[test]
    fn sorted_and_empty_values_dropped() {
        let l = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("zone", "")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.metric_name(), Some("up"));
        assert_eq!(l.get("zone"), None);
        assert_eq!(l.to_string(), r#"up{job="api"}"#);
    }

    #[test]
    fn stable_hash_is_fixed_and_separates_boundaries() {
        let a = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
        assert_eq!(a.stable_hash(), a.clone().stable_hash());
        let b = Labels::from_pairs([("ab", "c")]);
        let c = Labels::from_pairs([("a", "bc")]);
        assert_ne!(b.stable_hash(), c.stable_hash());
        // Pinned: the hash must not change between versions.
        assert_eq!(a.stable_hash(), PINNED_HASH);
    }

    #[test]
    fn stable_hash_spreads_similar_series() {
        // 200k series differing only in short, similar values: no
        // collisions, and the shard bits (32..38) are evenly used.
        let mut seen = std::collections::HashSet::new();
        let mut shards = [0u32; 64];
        for host in 0..2000 {
            for cpu in 0..100 {
                let h = Labels::from_pairs([
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", &cpu.to_string()),
                    ("instance", &format!("host-{host}:9100")),
                    ("mode", "idle"),
                ])
                .stable_hash();
                assert!(seen.insert(h), "collision at host {host} cpu {cpu}");
                shards[((h >> 32) % 64) as usize] += 1;
            }
        }
        let (lo, hi) = (shards.iter().min().unwrap(), shards.iter().max().unwrap());
        assert!(*lo > 2800 && *hi < 3500, "{shards:?}");
    }

    #[test]
    fn le64_reads_every_length_as_a_zero_padded_copy_would() {
        let b = [0x81u8, 2, 0xf3, 4, 5, 0x96, 7, 0xff];
        for n in 0..=8 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&b[..n]);
            assert_eq!(le64(&b[..n]), u64::from_le_bytes(w), "{n} bytes");
        }
    }

    const PINNED_HASH: u64 = 8_526_515_522_171_633_431;

    #[track_caller]
    fn refused(l: Labels, limits: &LabelLimits, want: &str) {
        let e = l.validate(limits).unwrap_err();
        assert!(e.reason.contains(want), "{e}");
        assert_eq!(e.series, l.to_string());
    }

    #[test]
    fn validation_names_the_series() {
        let lim = LabelLimits::default();
        assert!(
            Labels::from_pairs([("__name__", "up")])
                .validate(&lim)
                .is_ok()
        );
        refused(Labels::from_pairs([("", "x")]), &lim, "empty label name");
        refused(
            Labels::from_pairs([("a", "1"), ("a", "2")]),
            &lim,
            "duplicate",
        );
        refused(
            Labels::from_pairs([("a\n", "1")]),
            &lim,
            "invalid label name",
        );
        refused(
            Labels::from_pairs(Vec::<(&str, &str)>::new()),
            &lim,
            "no labels",
        );
        let strict = LabelLimits {
            utf8_names: false,
            max_labels: 2,
            max_value_bytes: 3,
            ..lim
        };
        refused(
            Labels::from_pairs([("é", "1")]),
            &strict,
            "invalid label name",
        );
        refused(
            Labels::from_pairs([("9a", "1")]),
            &strict,
            "invalid label name",
        );
        refused(
            Labels::from_pairs([("a", "1"), ("b", "1"), ("c", "1")]),
            &strict,
            "3 labels",
        );
        refused(
            Labels::from_pairs([("a", "1234")]),
            &strict,
            "longer than 3 bytes",
        );
    }
}
