//! Pushed metrics below HTTP: the Pushgateway's groups (grouping keys,
//! what each group last pushed, the groups file), the custom-metrics model
//! and its bounded JSON decoder, and the counters both push endpoints
//! share. The handlers are in `api/push/`.

pub(crate) mod custom_list;
pub(crate) mod custom_model;
mod group;
mod group_file;
pub(crate) mod grouping;
pub(crate) mod groups;

pub(crate) use group::Families;

#[doc(hidden)]
pub use custom_list::fuzz_one as fuzz_custom_metrics_json;

use std::sync::atomic::{AtomicU64, Ordering};

/// Which push endpoint, for the counters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path {
    Pushgateway = 0,
    Custom = 1,
}

const PATHS: [(Path, &str); 2] = [(Path::Pushgateway, "pushgateway"), (Path::Custom, "custom")];

/// State shared by the push endpoints.
#[derive(Default)]
pub struct PushState {
    pub(crate) groups: groups::Groups,
    accepted: [AtomicU64; 2],
    rejected: [AtomicU64; 2],
    refused_requests: [AtomicU64; 2],
}

/// The Pushgateway groups file of a data directory.
pub(crate) fn groups_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join(GROUPS_FILE)
}

/// Checks a groups file's bytes (`hourglass verify`): the groups it holds,
/// or the byte offset and reason of its first problem.
pub(crate) fn check_groups_file(bytes: &[u8]) -> Result<usize, (u64, String)> {
    group_file::check(bytes)
}

/// Decodes arbitrary bytes as a groups file; for the `group_file` fuzz
/// target (a decode error is fine, a panic is not).
#[doc(hidden)]
pub fn fuzz_group_file(data: &[u8]) {
    // The bytes as a whole file, and as the payload of a file with a
    // matching checksum (which random bytes would hardly ever have).
    let mut framed = b"HGPG\x01".to_vec();
    framed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    framed.extend_from_slice(data);
    for input in [data, &framed] {
        fuzz_group_file_once(input);
    }
}

fn fuzz_group_file_once(data: &[u8]) {
    if let Ok(groups) = group_file::decode(data) {
        // What decodes encodes and decodes to the same bytes.
        let bytes = group_file::encode(&groups);
        if let Ok(again) = group_file::decode(&bytes) {
            assert_eq!(group_file::encode(&again), bytes);
        }
    }
}

/// Parses arbitrary text as a Pushgateway path: never panics, and a key
/// that parses has a non-empty `job` and prints back to a path that parses
/// to the same key. For the `push_grouping` fuzz target.
#[doc(hidden)]
pub fn fuzz_push_grouping(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = grouping::parse(path) {
        assert!(key.iter().any(|(n, v)| n == "job" && !v.is_empty()));
        let again = grouping::parse(&grouping::to_path(&key));
        assert_eq!(again.as_ref(), Ok(&key), "{path:?}");
    }
}

/// The groups file's name in the data directory.
const GROUPS_FILE: &str = "pushgateway.groups";

impl PushState {
    /// Push state with the Pushgateway groups saved in `data_dir`.
    pub fn open(data_dir: &std::path::Path) -> PushState {
        PushState {
            groups: groups::Groups::load(&data_dir.join(GROUPS_FILE)),
            ..PushState::default()
        }
    }

    /// Saves the Pushgateway groups to `data_dir` if they changed.
    pub fn save_groups(&self, data_dir: &std::path::Path) {
        match self.groups.save(&data_dir.join(GROUPS_FILE)) {
            Ok(true) => tracing::debug!("pushgateway groups saved"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "saving pushgateway groups failed; will retry"),
        }
    }

    pub(crate) fn count(&self, path: Path, accepted: u64, rejected: u64) {
        self.accepted[path as usize].fetch_add(accepted, Ordering::Relaxed);
        self.rejected[path as usize].fetch_add(rejected, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, path: Path) {
        self.refused_requests[path as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// `(path, result, samples)` for `hourglass_push_samples_total`.
    pub fn sample_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut v = Vec::new();
        for (p, name) in PATHS {
            v.push((
                name,
                "accepted",
                self.accepted[p as usize].load(Ordering::Relaxed),
            ));
            v.push((
                name,
                "rejected",
                self.rejected[p as usize].load(Ordering::Relaxed),
            ));
        }
        v
    }

    /// `(path, requests)` for `hourglass_push_requests_refused_total`:
    /// requests refused as a whole (unparseable body, bad path, …).
    pub fn refused_counts(&self) -> Vec<(&'static str, u64)> {
        PATHS
            .iter()
            .map(|(p, name)| {
                (
                    *name,
                    self.refused_requests[*p as usize].load(Ordering::Relaxed),
                )
            })
            .collect()
    }
}

/// Now in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
