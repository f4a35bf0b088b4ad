//! Series records of checkpoints against what was written: round trips,
//! old versions, the string table, zstd levels and damage.

use super::*;
use crate::chunk;
use crate::damage::check_damage;
use crate::model::sample::Sample;

fn entry(id: u32, n: i64) -> SeriesEntry {
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample::new(1_700_000_000_000 + i * 15_000, i as f64 * 0.5))
        .collect();
    let chunks = samples
        .chunks(120)
        .map(|c| HeadChunk {
            min_t: c[0].t,
            max_t: c[c.len() - 1].t,
            chunk: chunk::encode(c).unwrap(),
        })
        .collect();
    SeriesEntry {
        id: HeadRef::from_raw(id),
        labels: Labels::from_pairs([("__name__", "up"), ("i", &id.to_string())]),
        newest: samples.last().map(|s| (s.t, s.v.to_bits())),
        chunks,
        ooo: vec![(5, 1.0f64.to_bits()), (-7, f64::NAN.to_bits())],
    }
}

#[test]
fn series_records_round_trip_with_their_chunks() {
    let mut w = SeriesRecordWriter::default();
    let want = [entry(0, 0), entry(7, 250), entry(8, 1)];
    for e in &want {
        w.add(e);
    }
    let b = w.take();
    assert!(is_series_record(&b) && w.is_empty());
    let got = decode(&b).unwrap();
    assert_eq!(got.len(), 3);
    for (g, e) in got.iter().zip(&want) {
        assert_eq!((g.id, &g.labels, g.newest), (e.id, &e.labels, e.newest));
        assert_eq!(g.ooo, e.ooo);
        let span = |c: &[HeadChunk]| -> Vec<(i64, i64, Vec<u8>)> {
            c.iter()
                .map(|c| (c.min_t, c.max_t, c.chunk.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(span(&g.chunks), span(&e.chunks));
    }
    // 250 samples of a regular series: a few hundred bytes, not 4 KB.
    println!("series record: {} bytes for 251 samples", b.len());
    assert!(b.len() < 1000, "{}", b.len());
}

/// Series of node-exporter-like hosts: four labels, names and most
/// values shared.
fn host_entries(hosts: u32) -> Vec<SeriesEntry> {
    let mut out = Vec::new();
    for h in 0..hosts {
        for i in 0..100u32 {
            let mut e = entry(h * 100 + i, 20);
            let instance = format!("10.0.{h}.1:9100");
            let (cpu, mode) = (
                (i % 8).to_string(),
                ["idle", "user", "system"][(i % 3) as usize],
            );
            e.labels = Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total"),
                ("cpu", cpu.as_str()),
                ("instance", instance.as_str()),
                ("job", "node"),
                ("mode", mode),
            ]);
            out.push(e);
        }
    }
    out
}

#[test]
fn version_2_series_records_still_decode() {
    let want = [entry(0, 0), entry(7, 250), entry(8, 1)];
    let got = decode(&encode_v2(&want)).unwrap();
    assert_eq!(got.len(), 3);
    for (g, e) in got.iter().zip(&want) {
        assert_eq!(
            (g.id, &g.labels, g.newest, &g.ooo),
            (e.id, &e.labels, e.newest, &e.ooo)
        );
        assert_eq!(g.chunks.len(), e.chunks.len());
    }
    fuzz_decode(&encode_v2(&want));
}

#[test]
fn series_records_look_each_string_up_once_and_share_it() {
    let entries = host_entries(10);
    let (mut v3, mut records) = (0usize, Vec::new());
    let mut w = SeriesRecordWriter::default();
    for e in &entries {
        w.add(e);
        if w.full() {
            records.push(w.take());
        }
    }
    records.push(w.take());
    let mut looks = 0usize;
    let mut seen: HashMap<String, Arc<str>> = HashMap::new();
    let mut got = Vec::new();
    for r in &records {
        v3 += r.len();
        got.extend(
            decode_with(r, &mut |s| {
                looks += 1;
                Arc::clone(seen.entry(s.to_string()).or_insert_with(|| Arc::from(s)))
            })
            .unwrap(),
        );
    }
    let v2: usize = entries.chunks(256).map(|c| encode_v2(c).len()).sum();
    println!(
        "1,000 series of 10 hosts, 20 samples each: version 3 {v3} bytes, version 2 {v2} ({:.2}×); {looks} string lookups for {} labels",
        v3 as f64 / v2 as f64,
        entries.len() * 5
    );
    assert_eq!(got.len(), entries.len());
    for (g, e) in got.iter().zip(&entries) {
        assert_eq!((g.id, &g.labels), (e.id, &e.labels));
    }
    // Each record looks a string up once, not once per series.
    assert!(looks < entries.len(), "{looks} lookups");
    let job = |e: &SeriesEntry| {
        e.labels
            .iter()
            .find(|l| &*l.name == "job")
            .map(|l| Arc::clone(&l.value))
    };
    assert!(Arc::ptr_eq(
        &job(&got[0]).unwrap(),
        &job(&got[999]).unwrap()
    ));
    assert!(v3 < v2, "version 3 {v3} bytes, version 2 {v2}");
}

#[test]
fn a_label_string_index_past_the_table_is_damage() {
    // One string ("a"), one series naming string 1.
    let b = [3u8, 2, 0, 1, 1, b'a', 1, 0, 1, 0, 1, 0, 0, 0];
    let e = decode(&b).unwrap_err();
    assert_eq!(e.reason, "label string index out of range");
}

/// 256 node-exporter-like series, one hour of ±3 ms jittered two-decimal
/// counters each as one cold chunk: a stop checkpoint's record.
fn node_record_body() -> SeriesRecordWriter {
    let mut w = SeriesRecordWriter::default();
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    for i in 0..MAX_RECORD_SERIES as u32 {
        let mut v = rng.u64(..100_000_000) as f64 / 100.0;
        let samples: Vec<Sample> = (0..240)
            .map(|k| {
                v = ((v + rng.u64(..1000) as f64 / 100.0) * 100.0).round() / 100.0;
                let j = rng.u64(..7) as i64 - 3;
                Sample::new(1_700_000_000_000 + k * 15_000 + j, v)
            })
            .collect();
        let chunks = chunk::encode_cold_runs(&samples)
            .into_iter()
            .map(|(min_t, max_t, c)| HeadChunk {
                min_t,
                max_t,
                chunk: (*c).clone(),
            })
            .collect();
        let instance = format!("10.0.{}.{}:9100", i / 64, i % 64);
        let (cpu, mode) = (
            (i % 8).to_string(),
            ["idle", "user", "system"][i as usize % 3],
        );
        w.add(&SeriesEntry {
            id: HeadRef::from_raw(i),
            labels: Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total"),
                ("cpu", &cpu),
                ("instance", &instance),
                ("job", "node"),
                ("mode", mode),
            ]),
            newest: samples.last().map(|s| (s.t, s.v.to_bits())),
            chunks,
            ooo: Vec::new(),
        });
    }
    w
}

/// Prints what each zstd level makes of a stop checkpoint's record
/// (level 1 was picked from this) and checks the record written
/// is compressed and round-trips.
#[test]
fn checkpoint_zstd_levels() {
    let body = node_record_body().take_body();
    for level in [1, 3, 6, 9, 15, 19] {
        let t0 = std::time::Instant::now();
        let z = zstd::bulk::compress(&body, level).unwrap();
        println!(
            "zstd level {level:2}: {} -> {} bytes ({:.1} % smaller) in {:.2?}",
            body.len(),
            z.len(),
            100.0 * (body.len() - z.len()) as f64 / body.len() as f64,
            t0.elapsed()
        );
    }
    let rec = node_record_body().take();
    assert_eq!(rec[..3], [VERSION_SYMBOLS, KIND_SERIES, ZSTD]);
    assert!(rec.len() < body.len(), "{} >= {}", rec.len(), body.len());
    assert_eq!(decode(&rec).unwrap().len(), MAX_RECORD_SERIES as usize);
}

#[test]
fn damaged_series_records_are_errors_not_panics() {
    let mut w = SeriesRecordWriter::default();
    w.add(&entry(3, 130));
    check_damage(&w.take(), decode, 5_000, fuzz_decode);
}

#[test]
fn a_version_1_batch_survives_the_fuzz_round_trip_through_version_3() {
    // Found by the `wal_records_decode` fuzz target: a version 1 batch was
    // re-encoded as version 3 and then read back by the version 1/2 reader.
    fuzz_decode(&[0x01, 0x01, 0x00, 0x01, 0x00, 0x00]);
}
