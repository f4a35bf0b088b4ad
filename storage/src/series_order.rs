//! Sorting selected series by labels through short byte keys.
//!
//! Comparing two `Labels` chases pointers to both pair arrays and to every
//! differing string: on thousands of series that is a few cache misses per
//! comparison, `n log n` times. Instead each series' labels are encoded
//! once into bytes whose order is the labels' order, the part every series
//! shares is skipped, and the next [`KEY`] bytes are sorted as integers.
//! Equal keys compare the rest of their encodings (bytes in one array, not
//! strings behind pointers: series that differ only in a later label, such
//! as the eight `mode`s of a CPU, tie on the key), and only equal
//! encodings fall back to comparing the labels themselves.

use crate::model::labels::Labels;

/// Encoded bytes kept per series.
const PREFIX: usize = 96;
/// Bytes compared as integers, from where the series first differ.
const KEY: usize = 32;

/// Sorts `items` by `labels` exactly as `Labels::cmp` does (unstably).
pub(crate) fn sort_by_labels<T>(items: &mut [T], labels: impl Fn(&T) -> &Labels) {
    if items.len() < 2 {
        return;
    }
    let prefixes: Vec<[u8; PREFIX]> = items.iter().map(|x| prefix(labels(x))).collect();
    let skip = prefixes
        .iter()
        .map(|p| common_len(&prefixes[0], p))
        .min()
        .unwrap_or(0);
    let mut keyed: Vec<(u128, u128, u32)> = prefixes
        .iter()
        .zip(0u32..)
        .map(|(p, i)| {
            let mut k = [0u8; KEY];
            let tail = &p[skip..(skip + KEY).min(PREFIX)];
            k[..tail.len()].copy_from_slice(tail);
            let (hi, lo) = k.split_at(16);
            (be(hi), be(lo), i)
        })
        .collect();
    let rest = (skip + KEY).min(PREFIX);
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| {
                let (x, y) = (&prefixes[a.2 as usize], &prefixes[b.2 as usize]);
                x[rest..].cmp(&y[rest..])
            })
            .then_with(|| {
                let (x, y) = (&items[a.2 as usize], &items[b.2 as usize]);
                labels(x).cmp(labels(y))
            })
    });
    drop(prefixes);
    // Applies the permutation in place by swaps, following each cycle
    // (as `slice::sort_by_cached_key` does).
    for i in 0..keyed.len() {
        let mut from = keyed[i].2 as usize;
        while from < i {
            from = keyed[from].2 as usize;
        }
        keyed[i].2 = from as u32;
        items.swap(i, from);
    }
}

fn be(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    u128::from_be_bytes(a)
}

/// Bytes both prefixes start with.
fn common_len(a: &[u8; PREFIX], b: &[u8; PREFIX]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The first [`PREFIX`] bytes of the labels' encoding, zero-padded: each
/// name and value followed by a 0 byte, with 0 and 1 inside a string
/// escaped as `1 1` and `1 2`. Bytewise order of encodings is the order of
/// the labels (pairs compared by name, then value; a proper prefix first),
/// so two prefixes that differ are ordered as their labels are.
fn prefix(labels: &Labels) -> [u8; PREFIX] {
    let mut out = [0u8; PREFIX];
    let mut n = 0;
    let mut put = |b: u8| {
        if let Some(slot) = out.get_mut(n) {
            *slot = b;
            n += 1;
            true
        } else {
            false
        }
    };
    'pairs: for l in labels.iter() {
        for s in [&*l.name, &*l.value] {
            for &b in s.as_bytes() {
                let fits = match b {
                    0 | 1 => put(1) && put(b + 1),
                    _ => put(b),
                };
                if !fits {
                    break 'pairs;
                }
            }
            if !put(0) {
                break 'pairs;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn prefix_order_agrees_with_labels_order() {
        let strs = ["", "a", "a\0", "a\u{1}", "a\u{2}", "ab", "b", "\0", "\u{1}"];
        let mut all = Vec::new();
        for n1 in ["a", "a\0", "ab", "b"] {
            for v1 in strs {
                all.push(l(&[(n1, v1)]));
                for v2 in strs {
                    all.push(l(&[(n1, v1), ("c", v2)]));
                }
            }
        }
        for a in &all {
            for b in &all {
                let p = prefix(a).cmp(&prefix(b));
                assert!(p == Ordering::Equal || p == a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sorts_like_labels_cmp() {
        let long = "x".repeat(70);
        let mut items: Vec<Labels> = Vec::new();
        for i in 0..300 {
            let pod = format!("pod-{}", (i * 7919) % 300);
            let inst = format!("i-{:03}", i % 20);
            items.push(l(&[("__name__", "x"), ("instance", &inst), ("pod", &pod)]));
            // Shared parts longer than the prefix: ties decided in full.
            let v = format!("{long}{}", (i * 13) % 300);
            items.push(l(&[("a", &long), ("b", &v)]));
        }
        // Keys tie (they end inside `job`); the rest of the encoding decides.
        for i in 0..60 {
            let (cpu, inst) = ((i * 7) % 4, format!("10.0.{}.{}:9100", i % 3, i % 5));
            for mode in ["user", "idle", "iowait", "irq"] {
                items.push(l(&[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", &cpu.to_string()),
                    ("instance", &inst),
                    ("job", "node"),
                    ("mode", mode),
                ]));
            }
        }
        items.push(l(&[("__name__", "x")]));
        items.push(l(&[]));
        let mut want = items.clone();
        want.sort();
        sort_by_labels(&mut items, |x| x);
        assert_eq!(items, want);
        let mut one = vec![l(&[("a", "b")])];
        sort_by_labels(&mut one, |x| x);
        assert_eq!(one.len(), 1);
    }
}
