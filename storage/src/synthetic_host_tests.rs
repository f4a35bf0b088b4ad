#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn a_host_has_100_distinct_sorted_series_that_move_by_their_shape() {
    let mut draw = fastrand::Rng::with_seed(1);
    for profile in [Profile::Node, Profile::NodeRealistic] {
        let mut host = host_series(7, profile, &mut draw);
        assert_eq!(host.len(), 100);
        let distinct: std::collections::BTreeSet<_> = host.iter().map(|s| &s.labels).collect();
        assert_eq!(distinct.len(), 100);
        assert!(host.iter().all(|s| s.labels.is_sorted()));
        assert!(
            host[0]
                .labels
                .contains(&("instance".into(), "10.0.0.7:9100".into()))
        );
        let before: Vec<f64> = host.iter().map(|s| s.value).collect();
        for s in &mut host {
            s.advance(&mut draw);
        }
        for (s, b) in host.iter().zip(before) {
            let step = (s.value - b).abs();
            match s.shape {
                Shape::Constant => assert_eq!(s.value, b),
                Shape::Counter | Shape::IntCounter => assert!(s.value >= b),
                Shape::Gauge | Shape::Load => assert!(step <= s.amp + 0.01, "{s:?} from {b}"),
                Shape::Bytes { unit } => assert!(step <= s.amp * unit, "{s:?} from {b}"),
            }
        }
    }
}

#[test]
fn counters_never_fall_and_keep_two_decimals() {
    let mut rng = fastrand::Rng::with_seed(7);
    for profile in [Profile::Node, Profile::NodeRealistic] {
        for mut s in host_series(3, profile, &mut rng) {
            if s.shape != Shape::Counter {
                continue;
            }
            for _ in 0..200 {
                let before = s.value;
                s.advance(&mut rng);
                assert!(s.value >= before);
                assert_eq!((s.value * 100.0).round() / 100.0, s.value);
            }
        }
    }
}

#[test]
fn moving_always_turns_constants_into_walks() {
    let mut rng = fastrand::Rng::with_seed(3);
    for profile in [Profile::Node, Profile::NodeRealistic] {
        for mut s in host_series(0, profile, &mut rng) {
            s.move_always(profile);
            assert_eq!(s.p, 1.0);
            assert_ne!(s.shape, Shape::Constant, "{s:?}");
        }
    }
}
