//! The Pushgateway groups on disk, so the first push after a restart can
//! still end the series the group had before it.
//!
//! ```text
//! file    = magic "HGPG" | version u8 (=1) | crc32 u32 LE of payload | payload
//! payload = JSON: [{"key": [[name, value], …], "last_t": ms,
//!                   "families": {family: [[[name, value], …], …]}}, …]
//! ```
//!
//! Written whole to a temporary file, synced and renamed over the old one.

use super::group::{Families, Group};
use super::grouping::GroupKey;
use hourglass_storage::Labels;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const MAGIC: &[u8; 4] = b"HGPG";
const VERSION: u8 = 1;
const HEADER: usize = 9;

/// Why a groups file was not read.
#[derive(Debug, thiserror::Error)]
pub enum GroupFileError {
    /// Shorter than its header, or another file.
    #[error("not a groups file (bad magic or too short)")]
    NotGroups,
    /// Written by a newer version.
    #[error("groups file version {0}, this build reads {VERSION}")]
    Version(u8),
    /// The payload does not match its checksum.
    #[error("groups file checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum {
        /// From the header.
        stored: u32,
        /// Over the payload.
        computed: u32,
    },
    /// Checksum right, content wrong.
    #[error("groups file payload: {0}")]
    Payload(#[from] serde_json::Error),
    /// Reading or writing.
    #[error("groups file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    key: GroupKey,
    last_t: i64,
    families: BTreeMap<String, Vec<Vec<(String, String)>>>,
}

/// Encodes all groups.
pub(super) fn encode(groups: &HashMap<GroupKey, Group>) -> Vec<u8> {
    // Sorted throughout, so the same groups always give the same bytes.
    let mut stored: Vec<Stored> = groups
        .iter()
        .map(|(key, g)| Stored {
            key: key.clone(),
            last_t: g.last_t,
            families: g
                .families
                .iter()
                .map(|(f, set)| {
                    let mut series: Vec<Vec<(String, String)>> = set
                        .iter()
                        .map(|l| {
                            l.iter()
                                .map(|x| (x.name.to_string(), x.value.to_string()))
                                .collect()
                        })
                        .collect();
                    series.sort();
                    (f.clone(), series)
                })
                .collect(),
        })
        .collect();
    stored.sort_by(|a, b| a.key.cmp(&b.key));
    // Plain data of strings and integers always serialises.
    let payload = serde_json::to_vec(&stored).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes what [`encode`] wrote.
pub(super) fn decode(bytes: &[u8]) -> Result<HashMap<GroupKey, Group>, GroupFileError> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return Err(GroupFileError::NotGroups);
    }
    if bytes[4] != VERSION {
        return Err(GroupFileError::Version(bytes[4]));
    }
    let stored = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
    let payload = &bytes[HEADER..];
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return Err(GroupFileError::Checksum { stored, computed });
    }
    let list: Vec<Stored> = serde_json::from_slice(payload)?;
    Ok(list
        .into_iter()
        .map(|s| {
            let families: Families = s
                .families
                .into_iter()
                .map(|(f, series)| (f, series.into_iter().map(Labels::from_pairs).collect()))
                .collect();
            (
                s.key,
                Group {
                    last_t: s.last_t,
                    families,
                },
            )
        })
        .collect())
}

/// Checks a groups file for `hourglass verify`: the groups it holds, or
/// the byte offset and reason of its first problem.
pub(super) fn check(bytes: &[u8]) -> Result<usize, (u64, String)> {
    decode(bytes).map(|g| g.len()).map_err(|e| {
        let offset = match &e {
            GroupFileError::NotGroups | GroupFileError::Io { .. } => 0,
            GroupFileError::Version(_) => 4,
            GroupFileError::Checksum { .. } => 5,
            GroupFileError::Payload(j) => HEADER as u64 + j.column().saturating_sub(1) as u64,
        };
        (offset, e.to_string())
    })
}

/// Writes `bytes` to `path` atomically and durably.
pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), GroupFileError> {
    crate::data_dir::replace_file(path, "tmp", 0o666, bytes).map_err(|source| GroupFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> HashMap<GroupKey, Group> {
        let mut families = Families::new();
        families.insert(
            "jobs".into(),
            [
                Labels::from_pairs([("__name__", "jobs"), ("job", "batch"), ("q", "a")]),
                Labels::from_pairs([("__name__", "jobs"), ("job", "batch"), ("q", "ü")]),
            ]
            .into_iter()
            .collect(),
        );
        let mut m = HashMap::new();
        m.insert(
            vec![("job".to_string(), "batch".to_string())],
            Group {
                last_t: 1_700_000_000_123,
                families,
            },
        );
        m
    }

    #[test]
    fn round_trip_and_damage() {
        let bytes = encode(&sample());
        let back = decode(&bytes).unwrap();
        assert_eq!(encode(&back), bytes);
        assert!(matches!(
            decode(&bytes[..5]),
            Err(GroupFileError::NotGroups)
        ));
        let mut v = bytes.clone();
        v[4] = 9;
        assert!(matches!(decode(&v), Err(GroupFileError::Version(9))));
        for at in HEADER..bytes.len() {
            let mut v = bytes.clone();
            v[at] ^= 0x20;
            assert!(
                matches!(decode(&v), Err(GroupFileError::Checksum { .. })),
                "{at}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut v = b"HGPG\x01".to_vec();
            v.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
            v.extend_from_slice(&data);
            let _ = decode(&v);
            let _ = decode(&data);
        }
    }
}
