//! The head's sealed histogram chunks against a plain map: whatever mix
//! of in-order and out-of-order appends, repeats, undone batches and
//! persisted times, readers see exactly the samples a map would hold.

use super::super::series::{Outcome, Rules, SeriesData};
use crate::chunk::CutPolicy;
use crate::histogram_iter::HistPiece;
use crate::model::histogram::{CounterResetHint, FloatHistogram, Span};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn rules() -> Rules {
    Rules {
        cut: CutPolicy {
            max_samples: 120,
            boundary_ms: 3_600_000,
        },
        ooo_window_ms: 600_000,
        min_valid_t: 0,
        max_valid_t: i64::MAX / 4,
        replay: false,
    }
}

/// A latency histogram after `k` scrapes, its sum a measured float.
fn h(k: u64, jitter: u64) -> FloatHistogram {
    let c = |b: u64| ((k * (b + 1) + jitter) % 97) as f64;
    let buckets: Vec<f64> = (0..5).map(c).collect();
    FloatHistogram {
        counter_reset_hint: CounterResetHint::from_u8((jitter % 3) as u8),
        schema: 2,
        zero_threshold: 2f64.powi(-128),
        zero_count: 0.0,
        count: buckets.iter().sum(),
        sum: (k as f64) * 0.137 + (jitter as f64).sqrt(),
        positive_spans: vec![Span::new(-3, 5)],
        positive_buckets: buckets,
        ..FloatHistogram::default()
    }
}

fn same(a: &[(i64, FloatHistogram)], b: &[(i64, FloatHistogram)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1.same_bits(&y.1))
}

#[derive(Debug, Clone)]
enum Op {
    /// In-order scrapes: this many, 15 s apart.
    Scrapes(u16),
    /// One out-of-order sample this far behind the newest.
    Late(i64),
    /// The sample at this index of those held, sent again (same or not).
    Repeat(usize, bool),
    /// The last batch of this many in-order scrapes, undone.
    UndoScrapes(u16),
    /// Every sample before this share of the span, persisted.
    Persist(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u16..400).prop_map(Op::Scrapes),
        (1i64..590_000).prop_map(Op::Late),
        (any::<usize>(), any::<bool>()).prop_map(|(i, s)| Op::Repeat(i, s)),
        (1u16..300).prop_map(Op::UndoScrapes),
        (0u8..=100).prop_map(Op::Persist),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sealed_head_histograms_read_as_a_map_would_hold_them(ops in proptest::collection::vec(op(), 1..24)) {
        let r = rules();
        let mut d = SeriesData::default();
        let mut model: BTreeMap<i64, FloatHistogram> = BTreeMap::new();
        let (mut next_t, mut k) = (1_000_000i64, 0u64);
        for op in ops {
            match op {
                Op::Scrapes(n) => {
                    for _ in 0..n {
                        let x = h(k, 0);
                        prop_assert_eq!(d.append_histogram(next_t, &x, &r), Outcome::Appended);
                        model.insert(next_t, x);
                        next_t += 15_000;
                        k += 1;
                    }
                }
                Op::Late(back) => {
                    let t = next_t - 15_000 - back;
                    let x = h(k, 7);
                    let want = match model.get(&t) {
                        Some(m) if m.same_bits(&x) => Outcome::Duplicate,
                        Some(_) => Outcome::DuplicateConflict,
                        None if t < 1_000_000 => continue,
                        None => Outcome::Appended,
                    };
                    prop_assert_eq!(d.append_histogram(t, &x, &r), want);
                    if want == Outcome::Appended {
                        model.insert(t, x);
                    }
                }
                Op::Repeat(i, same_value) => {
                    if model.is_empty() {
                        continue;
                    }
                    let (t, m) = model.iter().nth(i % model.len()).map(|(t, m)| (*t, m.clone())).unwrap();
                    prop_assert!(d.has_histogram_at(t));
                    if t < next_t - 15_000 - 600_000 {
                        continue;
                    }
                    let (x, want) = if same_value {
                        (m, Outcome::Duplicate)
                    } else {
                        (h(k, 3), Outcome::DuplicateConflict)
                    };
                    prop_assert_eq!(d.append_histogram(t, &x, &r), want);
                }
                Op::UndoScrapes(n) => {
                    let mut batch = Vec::new();
                    for _ in 0..n {
                        let x = h(k, 11);
                        prop_assert_eq!(d.append_histogram(next_t, &x, &r), Outcome::Appended);
                        batch.push((next_t, x));
                        next_t += 15_000;
                        k += 1;
                    }
                    prop_assert_eq!(d.remove_histograms(&batch), batch.len());
                    next_t -= 15_000 * i64::from(n);
                }
                Op::Persist(share) => {
                    let end = 1_000_000 + (next_t - 1_000_000) * i64::from(share) / 100;
                    let times: Vec<i64> = d.histograms_in(i64::MIN, end).iter().map(|x| x.0).collect();
                    d.drop_histograms(&times);
                    model.retain(|t, _| *t > end);
                }
            }
            let all: Vec<(i64, FloatHistogram)> = model.iter().map(|(t, x)| (*t, x.clone())).collect();
            prop_assert!(same(&d.histograms_in(i64::MIN, i64::MAX), &all));
            prop_assert_eq!(d.num_histograms(), model.len());
            // Ranges cutting through sealed chunks.
            for (lo, hi) in [(1_000_000 + 7_000, 1_000_000 + 3_600_000), (next_t - 2_000_000, next_t - 1_000)] {
                let want: Vec<_> = all.iter().filter(|x| (lo..=hi).contains(&x.0)).cloned().collect();
                prop_assert!(same(&d.histograms_in(lo, hi), &want));
            }
        }
    }
}

#[test]
fn a_day_of_scrapes_is_read_from_shared_sealed_chunks() {
    let r = rules();
    let mut d = SeriesData::default();
    for k in 0..5760u64 {
        let t = 1_000_000 + 15_000 * k as i64;
        assert_eq!(d.append_histogram(t, &h(k, 0), &r), Outcome::Appended);
    }
    let snap = d.hist_snapshot(i64::MIN, i64::MAX);
    // All but the newest run sealed, and handed out as chunks, not copies.
    assert!(snap.decoded.len() < 240, "{} decoded", snap.decoded.len());
    let sealed: usize = snap
        .sealed
        .iter()
        .map(|p| match p {
            HistPiece::Sealed(c) => c.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(sealed, (5760 - snap.decoded.len()) / 120);
    // Taken twice, the chunks are the same bytes.
    let again = d.hist_snapshot(i64::MIN, i64::MAX);
    let (Some(HistPiece::Sealed(a)), Some(HistPiece::Sealed(b))) =
        (snap.sealed.first(), again.sealed.first())
    else {
        panic!("no sealed chunks");
    };
    assert!(std::sync::Arc::ptr_eq(&a[0], &b[0]));
}
