//! Format round trips: version 2 written and read back (zstd index or
//! not), and version 1 still read.

use super::writer::{CODEC_ZSTD, INDEX_MAGIC, VERSION_1};
use super::*;
use crate::chunk;
use crate::model::labels::Labels;
use crate::model::sample::Sample;
use hourglass_wal::fs::{FaultyFs, Fs, StdFs};
use std::path::Path;
use std::sync::Arc;

fn series(n: usize, start: i64) -> Vec<PartSeries> {
    (0..n)
        .map(|i| {
            let samples: Vec<Sample> = (0..240)
                .map(|k| Sample::new(start + k * 15_000, (k * i as i64) as f64))
                .collect();
            let c = chunk::encode(&samples).unwrap();
            PartSeries {
                histograms: Vec::new(),
                labels: Labels::from_pairs([
                    ("__name__", "up"),
                    ("instance", &*format!("host-{i}")),
                    ("job", "node"),
                ]),
                chunks: vec![(samples[0].t, samples[239].t, Arc::new(c))],
            }
        })
        .collect()
}

fn read_back(p: &Partition) -> Vec<(String, Vec<Sample>)> {
    (0..p.series_count())
        .map(|i| {
            let (l, chunks) = p.series_at(i).unwrap();
            let mut v = Vec::new();
            for c in chunks {
                c.decode_into(&mut v).unwrap();
            }
            (l.to_string(), v)
        })
        .collect()
}

#[test]
fn version_2_round_trips_through_any_fs_with_a_zstd_index() {
    let start = 1_763_769_600_000;
    let fs = FaultyFs::new();
    let parts = Path::new("/p");
    let dir = write_partition(&fs, parts, start, series(50, start), "job").unwrap();
    let p = Partition::open_with(&fs, &dir).unwrap();
    assert_eq!(p.meta().version, 2);
    assert_eq!(p.meta().samples, 50 * 240);
    let index = fs.read(&dir.join("index")).unwrap();
    assert_eq!(index[5], CODEC_ZSTD, "50 similar series compress");
    let got = read_back(&p);
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|(_, v)| v.len() == 240));
}

#[test]
fn version_1_partitions_are_still_read() {
    let start = 1_763_769_600_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_partition(&StdFs, tmp.path(), start, series(5, start), "job").unwrap();
    let want = read_back(&Partition::open(&dir).unwrap());
    // Rewrite it as version 1: sections after an 8-byte header, meta
    // without `span_ms`.
    let index = std::fs::read(dir.join("index")).unwrap();
    let body = &index[12..index.len() - 4];
    let sections = if index[5] == CODEC_ZSTD {
        zstd::bulk::decompress(body, 1 << 20).unwrap()
    } else {
        body.to_vec()
    };
    let mut v1 = INDEX_MAGIC.to_vec();
    v1.extend_from_slice(&[VERSION_1, 0, 0, 0]);
    v1.extend_from_slice(&sections);
    std::fs::write(dir.join("index"), v1).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    meta["version"] = 1.into();
    meta.as_object_mut().unwrap().remove("span_ms");
    std::fs::write(dir.join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    let p = Partition::open(&dir).unwrap();
    assert_eq!(p.meta().version, 1);
    assert_eq!(p.meta().span_ms, HOUR_MS);
    assert_eq!(read_back(&p), want);
}

#[test]
fn a_damaged_version_2_index_is_refused() {
    let start = 1_763_769_600_000;
    let fs = FaultyFs::new();
    let dir = write_partition(&fs, Path::new("/p"), start, series(20, start), "job").unwrap();
    let index = fs.read(&dir.join("index")).unwrap();
    let meta = fs.read(&dir.join("meta.json")).unwrap();
    for i in (0..index.len()).step_by(7) {
        let mut d = index.clone();
        d[i] ^= 0x21;
        fs.write_file(&dir.join("index"), &d).unwrap();
        assert!(Partition::open_with(&fs, &dir).is_err(), "byte {i}");
        fuzz_index(&meta, &d, 1000);
    }
}

mod version_4 {
    use super::*;
    use proptest::prelude::*;

    /// Series of scrape-like samples: jittered or not, values in decimal
    /// steps or arbitrary floats, so chunks come out in all three encodings.
    fn part_series() -> impl Strategy<Value = Vec<Vec<Sample>>> {
        prop::collection::vec(
            (0i64..4, 0u32..3, 2usize..600, any::<u64>(), any::<bool>()),
            1..12,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .map(|(jitter, k, n, seed, floats)| {
                    let mut rng = fastrand::Rng::with_seed(seed);
                    let mut v = 0i64;
                    (0..n as i64)
                        .map(|i| {
                            let x = rng.u64(..);
                            v += (x % 500) as i64;
                            let t = 1_000_000 + i * 15_000 + (x >> 40) as i64 % (jitter + 1);
                            let val = if floats {
                                f64::from_bits(x >> 2)
                            } else {
                                v as f64 / 10f64.powi(k as i32)
                            };
                            Sample::new(t, val)
                        })
                        .collect()
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn compacted_partitions_round_trip_in_any_encoding(all in part_series()) {
            let fs = FaultyFs::new();
            let parts = Path::new("/p");
            let (mut grid, mut sparse, mut radix) = (false, false, false);
            let series: Vec<PartSeries> = all
                .iter()
                .enumerate()
                .map(|(i, samples)| {
                    let chunks = samples
                        .chunks(250)
                        .map(|run| {
                            let c = chunk::encode_cold(run).unwrap();
                            let layout = chunk::grid_layout(c.as_bytes()[0]);
                            grid |= layout == chunk::ENCODING_GRID;
                            sparse |= [chunk::ENCODING_SPARSE_GRID, chunk::ENCODING_SPARSE_GAPS]
                                .contains(&layout);
                            radix |= layout != c.as_bytes()[0];
                            (run[0].t, run[run.len() - 1].t, Arc::new(c))
                        })
                        .collect();
                    PartSeries {
                        histograms: Vec::new(),
                        labels: Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]),
                        chunks,
                    }
                })
                .collect();
            let dir = write_partition(&fs, parts, 0, series, "job").unwrap();
            let p = Partition::open_with(&fs, &dir).unwrap();
            let want = if radix { 6 } else if sparse { 5 } else if grid { 4 } else { 2 };
            prop_assert_eq!(p.meta().version, want);
            let got = read_back(&p);
            prop_assert_eq!(got.len(), all.len());
            for (name, samples) in &got {
                let i: usize = name.split("i=\"").nth(1).unwrap().trim_end_matches("\"}").parse().unwrap();
                let want = &all[i];
                prop_assert_eq!(samples.len(), want.len());
                for (g, w) in samples.iter().zip(want) {
                    prop_assert_eq!((g.t, g.v.to_bits()), (w.t, w.v.to_bits()));
                }
            }
        }
    }
}
