use super::*;

fn target(id: &str, source: &str, address: &str) -> RegisteredTarget {
    RegisteredTarget {
        target_id: id.into(),
        source_id: source.into(),
        collection_method: "PULL_SCRAPING".into(),
        endpoint: Some(Endpoint {
            scheme: "http".into(),
            address: address.into(),
            metrics_path: "/metrics".into(),
            params: BTreeMap::from([("module".to_string(), vec!["a b".to_string()])]),
        }),
        interval_ms: 1000,
        timeout_ms: 500,
        credentials: Some(Credentials::Bearer {
            token: "secret".into(),
        }),
        filters: vec![Filter {
            kind: FilterKind::Include,
            name_pattern: Some("node_.*".into()),
            label_matchers: vec![LabelMatcher {
                name: "mode".into(),
                op: MatchOp::NotRegex,
                value: "idle|iowait".into(),
            }],
        }],
        retention_policy: Some(Retention {
            duration: "30d".into(),
            duration_ms: 30 * 86_400_000,
        }),
        labels: BTreeMap::from([("team".to_string(), "core".to_string())]),
        created_ms: 1_700_000_000_000,
        histograms: None,
    }
}

#[test]
fn file_round_trips_every_field() {
    let a = target("a", "billing", "127.0.0.1:9100");
    let mut b = target("b", "billing", "127.0.0.1:9101");
    b.credentials = Some(Credentials::Basic {
        username: "u".into(),
        password: "p".into(),
    });
    b.filters.clear();
    b.retention_policy = None;
    let bytes = file::encode(&[&a, &b]);
    assert_eq!(file::decode(&bytes).unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(file::decode(&file::encode(&[])).unwrap(), vec![]);
    file::fuzz_decode(&bytes);
}

#[test]
fn every_torn_length_and_every_flipped_byte_is_refused() {
    let a = target("a", "billing", "127.0.0.1:9100");
    let bytes = file::encode(&[&a]);
    for len in 0..bytes.len() {
        assert!(
            file::decode(&bytes[..len]).is_err(),
            "torn at {len} accepted"
        );
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(file::decode(&b).is_err(), "flip at {i} accepted");
    }
    let mut longer = bytes.clone();
    longer.push(b' ');
    assert!(matches!(
        file::decode(&longer),
        Err(file::RegistryFileError::Length { .. })
    ));
}

#[test]
fn a_checksummed_payload_that_makes_no_job_is_refused() {
    let mut a = target("a", "billing", "127.0.0.1:9100");
    a.interval_ms = 10;
    let e = file::decode(&file::encode(&[&a])).unwrap_err();
    assert!(e.to_string().contains("under 100ms"), "{e}");
    let b = target("a", "other", "127.0.0.1:9101");
    let ok = target("a", "billing", "127.0.0.1:9100");
    let e = file::decode(&file::encode(&[&ok, &b])).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
}

#[test]
fn registry_survives_reopening_and_refuses_duplicates_and_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::open(dir.path(), 2);
    assert!(r.is_empty() && r.load_problem().is_none());
    r.insert(target("a", "billing", "127.0.0.1:9100")).unwrap();
    assert!(matches!(
        r.insert(target("a", "x", "127.0.0.1:1")),
        Err(RegistryError::DuplicateId(_))
    ));
    match r.insert(target("b", "billing", "127.0.0.1:9100")) {
        Err(RegistryError::DuplicateUrl { existing, .. }) => assert_eq!(existing, "a"),
        other => panic!("{other:?}"),
    }
    r.insert(target("b", "other", "127.0.0.1:9100")).unwrap();
    assert!(matches!(
        r.insert(target("c", "x", "127.0.0.1:2")),
        Err(RegistryError::Full(2))
    ));
    let r2 = Registry::open(dir.path(), 2);
    assert_eq!(r2.len(), 2);
    assert_eq!(r2.get("a"), r.get("a"));
    let jobs = r2.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].name, "target:a");
    assert_eq!(jobs[0].static_configs[0].labels["job"], "billing");
    assert_eq!(jobs[0].static_configs[0].labels["team"], "core");
    assert!(r.remove("a").unwrap().is_some());
    assert!(r.remove("a").unwrap().is_none());
    assert_eq!(Registry::open(dir.path(), 2).len(), 1);
    let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_damaged_file_is_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::open(dir.path(), 10);
    r.insert(target("a", "billing", "127.0.0.1:9100")).unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let r = Registry::open(dir.path(), 10);
    assert!(r.is_empty());
    let problem = r.load_problem().unwrap();
    assert!(problem.contains("checksum"), "{problem}");
    assert!(!path.exists());
    assert_eq!(
        std::fs::read(dir.path().join("targets.registry.corrupt")).unwrap(),
        bytes
    );
    // The next registration starts a fresh file.
    let mut r = r;
    r.insert(target("b", "billing", "127.0.0.1:9100")).unwrap();
    assert_eq!(Registry::open(dir.path(), 10).len(), 1);
}

#[test]
fn urls_carry_path_and_params() {
    let t = target("a", "billing", "127.0.0.1:9100");
    assert_eq!(
        t.endpoint.unwrap().url(),
        "http://127.0.0.1:9100/metrics?module=a+b"
    );
}

fn push_source(id: &str, source: &str, method: &str) -> RegisteredTarget {
    RegisteredTarget {
        target_id: id.into(),
        source_id: source.into(),
        collection_method: method.into(),
        endpoint: None,
        interval_ms: 300_000,
        timeout_ms: 0,
        credentials: None,
        filters: Vec::new(),
        retention_policy: None,
        labels: BTreeMap::new(),
        created_ms: 1_700_000_000_000,
        histograms: None,
    }
}

#[test]
fn version_2_round_trips_push_sources_beside_pulled_targets() {
    let a = target("a", "billing", "127.0.0.1:9100");
    let p = push_source("p", "batch", "PUSH_GATEWAY");
    let s = push_source("s", "prometheus", "STREAMING");
    let u = push_source("u", "loader", "BATCH_UPLOAD");
    let bytes = file::encode_version(&[&a, &p, &s, &u], 2);
    assert_eq!(bytes[4], 2);
    assert_eq!(file::decode(&bytes).unwrap(), vec![a, p, s, u]);
    file::fuzz_decode(&bytes);
}

#[test]
fn version_1_files_are_still_read_and_hold_only_pulled_targets() {
    let a = target("a", "billing", "127.0.0.1:9100");
    // Version 1's payload: `endpoint` always an object.
    let v1 = file::encode_version(&[&a], 1);
    assert_eq!(v1[4], 1);
    assert!(String::from_utf8_lossy(&v1[13..]).contains(r#""endpoint":{"scheme":"http""#));
    assert_eq!(file::decode(&v1).unwrap(), vec![a.clone()]);
    file::fuzz_decode(&v1);
    let p = push_source("p", "batch", "PUSH_GATEWAY");
    let err = file::decode(&file::encode_version(&[&p], 1)).unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    assert!(file::decode(&file::encode_version(&[&a], 4)).is_err());
}

#[test]
fn version_3_round_trips_histogram_keys_and_older_versions_hold_none() {
    let mut a = target("a", "billing", "127.0.0.1:9100");
    a.histograms = Some(crate::scrape::config::HistogramKeys {
        convert_classic_histograms_to_nhcb: Some(true),
        scrape_native_histograms: Some(false),
        ..Default::default()
    });
    let b = target("b", "billing", "127.0.0.1:9101");
    let bytes = file::encode(&[&a, &b]);
    assert_eq!(bytes[4], 3);
    let payload = String::from_utf8_lossy(&bytes[13..]).to_string();
    assert!(
        payload.contains(r#""histograms":{"scrape_native_histograms":false,"convert_classic_histograms_to_nhcb":true}"#),
        "{payload}"
    );
    assert_eq!(file::decode(&bytes).unwrap(), vec![a.clone(), b.clone()]);
    file::fuzz_decode(&bytes);
    // A target without keys is written as version 2 wrote it.
    assert_eq!(
        file::decode(&file::encode_version(&[&b], 2)).unwrap(),
        vec![b.clone()]
    );
    for old in [1, 2] {
        let err = file::decode(&file::encode_version(&[&a], old)).unwrap_err();
        assert!(err.to_string().contains("no histogram keys"), "{err}");
    }
    // The job takes the keys over the file's global ones when composed.
    let job = to_job(&a).unwrap();
    assert_eq!(job.inherits_histograms, a.histograms);
    assert_eq!(
        to_job(&b).unwrap().inherits_histograms,
        Some(Default::default())
    );
}

#[test]
fn push_sources_are_not_scraped_and_one_per_source_and_method() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Registry::open(dir.path(), 10);
    r.insert(target("a", "batch", "127.0.0.1:9100")).unwrap();
    r.insert(push_source("p", "batch", "PUSH_GATEWAY")).unwrap();
    r.insert(push_source("s", "batch", "STREAMING")).unwrap();
    let dup = r
        .insert(push_source("q", "batch", "PUSH_GATEWAY"))
        .unwrap_err();
    assert!(
        matches!(dup, RegistryError::DuplicateSource { .. }),
        "{dup}"
    );
    assert_eq!(r.jobs().len(), 1);
    let again = Registry::open(dir.path(), 10);
    assert_eq!(again.len(), 3);
    assert!(again.get("p").unwrap().endpoint.is_none());
}

#[test]
fn a_push_source_with_an_endpoint_or_an_unknown_method_is_refused() {
    let mut p = push_source("p", "batch", "PUSH_GATEWAY");
    p.endpoint = target("a", "b", "127.0.0.1:1").endpoint;
    assert!(file::decode(&file::encode(&[&p])).is_err());
    let q = push_source("q", "batch", "CARRIER_PIGEON");
    assert!(file::decode(&file::encode(&[&q])).is_err());
}
