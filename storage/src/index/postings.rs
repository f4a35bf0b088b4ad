//! Postings: for every label pair, the roaring bitmap of series ordinals
//! that carry it, and matcher evaluation over them.
//!
//! Ids are dense `u32`s handed out by the owner (the head's [`HeadRef`]s,
//! or a partition's [`SeriesOrd`]s); roaring is fastest on those, and the
//! index's type names which kind it holds. Values are kept in
//! a `BTreeMap` per label name, so `label_values` comes out sorted and a
//! literal prefix is a range scan.

use super::literal::{Literal, classify};
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::model::refs::PostingId;
#[cfg(doc)]
use crate::model::refs::{HeadRef, SeriesOrd};
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::Arc;

/// All postings of one label name.
#[derive(Debug, Default, Clone)]
struct NamePostings {
    values: BTreeMap<Arc<str>, RoaringBitmap>,
    /// Union of `values`: the series that carry this label at all.
    any: RoaringBitmap,
}

/// An in-memory inverted index (label pair → series ids of kind `Id`).
/// The bitmaps it hands out hold [`PostingId::raw`] values of `Id`.
#[derive(Debug, Clone)]
pub struct MemPostings<Id> {
    names: HashMap<Arc<str>, NamePostings>,
    all: RoaringBitmap,
    kind: PhantomData<Id>,
}

impl<Id> Default for MemPostings<Id> {
    fn default() -> Self {
        Self {
            names: HashMap::new(),
            all: RoaringBitmap::new(),
            kind: PhantomData,
        }
    }
}

impl<Id: PostingId> MemPostings<Id> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes series `id` under each of its label pairs.
    pub fn add(&mut self, id: Id, labels: &Labels) {
        let id = id.raw();
        self.all.insert(id);
        for l in labels.iter() {
            let np = match self.names.get_mut(&*l.name) {
                Some(np) => np,
                None => self.names.entry(l.name.clone()).or_default(),
            };
            np.any.insert(id);
            match np.values.get_mut(&*l.value) {
                Some(bm) => {
                    bm.insert(id);
                }
                None => {
                    let mut bm = RoaringBitmap::new();
                    bm.insert(id);
                    np.values.insert(l.value.clone(), bm);
                }
            }
        }
    }

    /// Removes series `id` (with the labels it was added under).
    pub fn remove(&mut self, id: Id, labels: &Labels) {
        let id = id.raw();
        self.all.remove(id);
        for l in labels.iter() {
            let Some(np) = self.names.get_mut(&*l.name) else {
                continue;
            };
            np.any.remove(id);
            if let Some(bm) = np.values.get_mut(&*l.value) {
                bm.remove(id);
                if bm.is_empty() {
                    np.values.remove(&*l.value);
                }
            }
            if np.any.is_empty() {
                self.names.remove(&*l.name);
            }
        }
    }

    /// Every indexed series.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    /// Series matching all `matchers` (all series when there are none).
    ///
    /// A matcher that accepts the empty string also selects series without
    /// the label, so `{l=""}` means "no `l`" and `{l!="x"}` includes series
    /// without `l`, as in Prometheus.
    pub fn select(&self, matchers: &[Matcher]) -> RoaringBitmap {
        // Matchers that reject "" narrow by intersection, smallest first;
        // those that accept "" subtract what they reject afterwards. Large
        // unions are never built when a smaller candidate set exists.
        let mut positive: Vec<(u64, Part<'_>)> = Vec::new();
        let mut negative: Vec<Part<'_>> = Vec::new();
        for m in matchers {
            let part = self.accepted(m);
            if m.matches_empty() {
                negative.push(part.complement());
            } else {
                let est = part.estimate();
                if est == 0 {
                    return RoaringBitmap::new();
                }
                positive.push((est, part));
            }
        }
        positive.sort_by_key(|(est, _)| *est);
        let mut acc: Option<RoaringBitmap> = None;
        for (_, part) in &positive {
            acc = Some(match acc {
                None => part.materialize(),
                Some(a) => part.intersect(a),
            });
            if acc.as_ref().is_some_and(RoaringBitmap::is_empty) {
                return RoaringBitmap::new();
            }
        }
        let mut acc = acc.unwrap_or_else(|| self.all.clone());
        for part in &negative {
            acc = part.subtract_from(acc);
        }
        acc
    }

    /// The series whose value for `m.name()` the matcher accepts (series
    /// without the label are not included).
    fn accepted(&self, m: &Matcher) -> Part<'_> {
        let Some(np) = self.names.get(m.name()) else {
            return Part {
                any: None,
                list: Vec::new(),
                negated: false,
            };
        };
        let (list, negated) = match m.op() {
            MatchOp::Equal => (np.values.get(m.value()).into_iter().collect(), false),
            MatchOp::NotEqual => (np.values.get(m.value()).into_iter().collect(), true),
            MatchOp::RegexMatch => (np.pattern_matches(m), false),
            MatchOp::RegexNoMatch => (np.pattern_matches(m), true),
        };
        Part {
            any: Some(&np.any),
            list,
            negated,
        }
    }

    /// Label names carried by at least one series in `within` (all series
    /// when `None`), sorted.
    pub fn label_names(&self, within: Option<&RoaringBitmap>) -> Vec<String> {
        let mut out: Vec<String> = self
            .names
            .iter()
            .filter(|(_, np)| within.is_none_or(|w| !np.any.is_disjoint(w)))
            .map(|(n, _)| n.to_string())
            .collect();
        out.sort_unstable();
        out
    }

    /// Whether any series carries label `name`.
    pub(crate) fn has_name(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Values of `name` on at least one series in `within`, sorted.
    pub fn label_values(&self, name: &str, within: Option<&RoaringBitmap>) -> Vec<String> {
        let Some(np) = self.names.get(name) else {
            return Vec::new();
        };
        np.values
            .iter()
            .filter(|(_, bm)| within.is_none_or(|w| !bm.is_disjoint(w)))
            .map(|(v, _)| v.to_string())
            .collect()
    }

    /// Every `(name, value, postings)`, names and values sorted.
    pub(crate) fn pairs(&self) -> Vec<(&str, &str, &RoaringBitmap)> {
        let mut names: Vec<(&Arc<str>, &NamePostings)> = self.names.iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        names
            .into_iter()
            .flat_map(|(n, np)| np.values.iter().map(move |(v, bm)| (&**n, &**v, bm)))
            .collect()
    }

    /// Adds a whole postings list (a partition's, read from disk).
    pub(crate) fn insert_bitmap(&mut self, name: Arc<str>, value: Arc<str>, bm: RoaringBitmap) {
        self.all |= &bm;
        let np = self.names.entry(name).or_default();
        np.any |= &bm;
        *np.values.entry(value).or_default() |= bm;
    }

    /// Series count per value of `name`, sorted by value.
    pub fn value_counts(&self, name: &str) -> Vec<(String, u64)> {
        self.names.get(name).map_or_else(Vec::new, |np| {
            np.values
                .iter()
                .map(|(v, bm)| (v.to_string(), bm.len()))
                .collect()
        })
    }
}

/// A set of series expressed over postings without building it:
/// `∪ list`, or with `negated`, `any − ∪ list` (each of `list` ⊆ `any`).
struct Part<'a> {
    /// Series carrying the label; `None` when no series does.
    any: Option<&'a RoaringBitmap>,
    list: Vec<&'a RoaringBitmap>,
    negated: bool,
}

/// Above this many bitmaps a union is built once instead of intersecting
/// each with the candidates.
const SMALL_LIST: usize = 8;

impl Part<'_> {
    /// The complement within the series carrying the label.
    fn complement(mut self) -> Self {
        self.negated = !self.negated;
        self
    }

    fn list_len(&self) -> u64 {
        self.list.iter().map(|b| b.len()).sum()
    }

    fn union(&self) -> RoaringBitmap {
        let mut u = RoaringBitmap::new();
        for b in &self.list {
            u |= *b;
        }
        u
    }

    /// Upper bound of the set's size, for ordering intersections.
    fn estimate(&self) -> u64 {
        match (self.negated, self.any) {
            (false, _) => self.list_len(),
            (true, None) => 0,
            (true, Some(any)) => any.len().saturating_sub(self.list_len()),
        }
    }

    fn materialize(&self) -> RoaringBitmap {
        match (self.negated, self.any) {
            (false, _) => self.union(),
            (true, None) => RoaringBitmap::new(),
            (true, Some(any)) => {
                let mut out = any.clone();
                for b in &self.list {
                    out -= *b;
                }
                out
            }
        }
    }

    /// `acc ∩ self`.
    fn intersect(&self, mut acc: RoaringBitmap) -> RoaringBitmap {
        match (self.negated, self.any) {
            (false, _) if self.list.len() <= SMALL_LIST => {
                let mut out = RoaringBitmap::new();
                for b in &self.list {
                    out |= &acc & *b;
                }
                out
            }
            (false, _) => acc & self.union(),
            (true, None) => RoaringBitmap::new(),
            (true, Some(any)) => {
                acc &= any;
                for b in &self.list {
                    acc -= *b;
                }
                acc
            }
        }
    }

    /// `acc − self`.
    fn subtract_from(&self, mut acc: RoaringBitmap) -> RoaringBitmap {
        match (self.negated, self.any) {
            (false, _) => {
                for b in &self.list {
                    acc -= *b;
                }
                acc
            }
            (true, None) => acc,
            (true, Some(any)) => {
                // acc − (any − ∪list) = (acc − any) ∪ (acc ∩ ∪list)
                let mut keep = RoaringBitmap::new();
                for b in &self.list {
                    keep |= &acc & *b;
                }
                acc -= any;
                acc | keep
            }
        }
    }
}

impl NamePostings {
    /// Postings of the values the matcher's *pattern* matches (for `!~`,
    /// the values it rejects).
    ///
    /// Uses the pattern's literal structure to avoid running the regex per
    /// value where it can.
    fn pattern_matches<'s>(&'s self, m: &Matcher) -> Vec<&'s RoaringBitmap> {
        let pattern_hit = |v: &str| m.matches(v) == (m.op() == MatchOp::RegexMatch);
        match classify(m.value()) {
            Literal::Set(vals) => vals.iter().filter_map(|v| self.values.get(*v)).collect(),
            Literal::Prefix(p) => self.with_prefix(p).map(|(_, b)| b).collect(),
            Literal::PrefixNonEmpty(p) => self
                .with_prefix(p)
                .filter(|(v, _)| v.len() > p.len())
                .map(|(_, b)| b)
                .collect(),
            Literal::Narrowed(p) => self
                .with_prefix(p)
                .filter(|(v, _)| pattern_hit(v))
                .map(|(_, b)| b)
                .collect(),
            Literal::Opaque => self
                .values
                .iter()
                .filter(|(v, _)| pattern_hit(v))
                .map(|(_, b)| b)
                .collect(),
        }
    }

    fn with_prefix<'s, 'p>(
        &'s self,
        p: &'p str,
    ) -> impl Iterator<Item = (&'s str, &'s RoaringBitmap)> + use<'s, 'p> {
        self.values
            .range::<str, _>((Bound::Included(p), Bound::Unbounded))
            .take_while(move |(v, _)| v.starts_with(p))
            .map(|(v, b)| (&**v, b))
    }
}
