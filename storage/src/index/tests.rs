use super::*;
use crate::model::refs::{PostingId, SeriesOrd};
use crate::{Labels, MatchOp, Matcher};
use proptest::prelude::*;
use roaring::RoaringBitmap;
use std::collections::BTreeSet;

const NAMES: [&str; 4] = ["__name__", "job", "instance", "le"];
const VALUES: [&str; 11] = [
    "a", "ab", "abc", "b", "ba", "c", "d", "e", "node_cpu", "node_mem", "node_x",
];
const PATTERNS: [&str; 14] = [
    "a|b",
    "a.*",
    "ab.*",
    "a.+",
    "node_.*",
    ".*",
    ".+",
    "",
    "a|",
    "b.",
    "ab?c?",
    "(a|b)c?",
    "node_[cm].*",
    "zzz",
];

fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::btree_map(
        prop::sample::select(NAMES.to_vec()),
        prop::sample::select(VALUES.to_vec()),
        0..4,
    )
    .prop_map(Labels::from_pairs)
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let op = prop::sample::select(vec![
        MatchOp::Equal,
        MatchOp::NotEqual,
        MatchOp::RegexMatch,
        MatchOp::RegexNoMatch,
    ]);
    let name = prop::sample::select(NAMES.to_vec());
    let value = prop_oneof![
        prop::sample::select(VALUES.to_vec()),
        prop::sample::select(PATTERNS.to_vec()),
    ];
    (op, name, value).prop_map(|(op, n, v)| Matcher::new(op, n, v).unwrap())
}

fn ord(raw: u32) -> SeriesOrd {
    SeriesOrd::from_raw(raw)
}

/// The naive model: a set of live series, filtered one by one.
fn naive(series: &[(u32, Labels)], ms: &[Matcher]) -> BTreeSet<u32> {
    series
        .iter()
        .filter(|(_, l)| ms.iter().all(|m| m.matches_labels(l)))
        .map(|(id, _)| *id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn select_agrees_with_a_naive_scan(
        all in prop::collection::vec(labels(), 0..40),
        removed in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        ms in prop::collection::vec(matcher(), 0..4),
    ) {
        let mut p = MemPostings::<SeriesOrd>::new();
        let mut live: Vec<(u32, Labels)> = Vec::new();
        for (i, l) in all.iter().enumerate() {
            p.add(ord(i as u32), l);
            live.push((i as u32, l.clone()));
        }
        for r in removed {
            if !live.is_empty() {
                let (id, l) = live.remove(r.index(live.len()));
                p.remove(ord(id), &l);
            }
        }
        let got: BTreeSet<u32> = p.select(&ms).iter().collect();
        prop_assert_eq!(&got, &naive(&live, &ms), "matchers {:?}", ms);

        let sel: RoaringBitmap = got.iter().copied().collect();
        let want_names: BTreeSet<String> = live.iter()
            .filter(|(id, _)| got.contains(id))
            .flat_map(|(_, l)| l.iter().map(|x| x.name.to_string()).collect::<Vec<_>>())
            .collect();
        prop_assert_eq!(p.label_names(Some(&sel)), want_names.into_iter().collect::<Vec<_>>());
        for n in NAMES {
            let want: BTreeSet<String> = live.iter()
                .filter(|(id, _)| got.contains(id))
                .filter_map(|(_, l)| l.get(n).map(str::to_string))
                .collect();
            prop_assert_eq!(p.label_values(n, Some(&sel)), want.into_iter().collect::<Vec<_>>());
        }
    }
}

#[test]
fn empty_value_selects_series_without_the_label() {
    let mut p = MemPostings::<SeriesOrd>::new();
    p.add(
        ord(0),
        &Labels::from_pairs([("__name__", "up"), ("job", "api")]),
    );
    p.add(ord(1), &Labels::from_pairs([("__name__", "up")]));
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let ids = |ms: &[Matcher]| p.select(ms).iter().collect::<Vec<_>>();
    assert_eq!(ids(&[m(MatchOp::Equal, "job", "")]), vec![1]);
    assert_eq!(ids(&[m(MatchOp::NotEqual, "job", "")]), vec![0]);
    assert_eq!(ids(&[m(MatchOp::NotEqual, "job", "api")]), vec![1]);
    assert_eq!(ids(&[m(MatchOp::RegexMatch, "job", "api|")]), vec![0, 1]);
    assert_eq!(ids(&[m(MatchOp::RegexNoMatch, "job", ".+")]), vec![1]);
    assert_eq!(ids(&[m(MatchOp::Equal, "nope", "x")]), Vec::<u32>::new());
    assert_eq!(p.label_values("job", None), vec!["api"]);
    assert_eq!(p.label_names(None), vec!["__name__", "job"]);
}
