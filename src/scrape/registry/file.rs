//! The registry file: `magic | version | length | crc32 | JSON payload`,
//! written whole through a temporary file (see `FORMAT.md`).

use super::RegisteredTarget;
use std::path::Path;

const MAGIC: &[u8; 4] = b"HGTR";
const VERSION: u8 = 3;
/// Pulled targets only (`endpoint` always present); still read.
const VERSION_1: u8 = 1;
/// Push sources, no histogram keys; still read.
const VERSION_2: u8 = 2;
const HEADER: usize = 13;

/// Why a registry file was not read or written.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFileError {
    /// Shorter than its header, or another file.
    #[error("not a targets registry (bad magic or shorter than the header)")]
    NotRegistry,
    /// Written by another version.
    #[error("registry version {0}, this build reads {VERSION_1} to {VERSION}")]
    Version(u8),
    /// Torn: fewer or more payload bytes than the header says.
    #[error("registry torn: header says {expected} payload bytes, file holds {found}")]
    Length {
        /// From the header.
        expected: u64,
        /// In the file.
        found: u64,
    },
    /// The payload does not match its checksum.
    #[error("registry checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum {
        /// From the header.
        stored: u32,
        /// Over the payload.
        computed: u32,
    },
    /// Checksum right, content wrong.
    #[error("registry payload: {0}")]
    Payload(String),
    /// Reading or writing.
    #[error("registry file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}

#[derive(serde::Serialize)]
struct Out<'a> {
    targets: &'a [&'a RegisteredTarget],
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    targets: Vec<RegisteredTarget>,
}

/// Encodes `targets` (in the order given), in the current version.
pub fn encode(targets: &[&RegisteredTarget]) -> Vec<u8> {
    encode_version(targets, VERSION)
}

/// Encodes `targets` as `version` wrote them (tests of older files).
pub fn encode_version(targets: &[&RegisteredTarget], version: u8) -> Vec<u8> {
    // Plain data of strings, integers and maps always serialises.
    let payload = serde_json::to_vec(&Out { targets }).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(version);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes what [`encode`] wrote; every target must still make a valid
/// scrape job and ids must be unique.
pub fn decode(bytes: &[u8]) -> Result<Vec<RegisteredTarget>, RegistryFileError> {
    let (Some(magic), Some(&version)) = (bytes.get(..4), bytes.get(4)) else {
        return Err(RegistryFileError::NotRegistry);
    };
    if magic != MAGIC {
        return Err(RegistryFileError::NotRegistry);
    }
    if !(VERSION_1..=VERSION).contains(&version) {
        return Err(RegistryFileError::Version(version));
    }
    let word = |at: usize| -> Result<u32, RegistryFileError> {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or(RegistryFileError::NotRegistry)
    };
    let len = word(5)?;
    let stored = word(9)?;
    let payload = bytes.get(HEADER..).unwrap_or_default();
    if payload.len() as u64 != u64::from(len) {
        return Err(RegistryFileError::Length {
            expected: u64::from(len),
            found: payload.len() as u64,
        });
    }
    let computed = crc32fast::hash(payload);
    if stored != computed {
        return Err(RegistryFileError::Checksum { stored, computed });
    }
    let parsed: In =
        serde_json::from_slice(payload).map_err(|e| RegistryFileError::Payload(e.to_string()))?;
    let mut ids = std::collections::BTreeSet::new();
    for t in &parsed.targets {
        if !ids.insert(t.target_id.as_str()) {
            return Err(RegistryFileError::Payload(format!(
                "target {:?} listed twice",
                t.target_id
            )));
        }
        if version == VERSION_1 && t.endpoint.is_none() {
            return Err(RegistryFileError::Payload(format!(
                "target {:?}: version 1 holds only scraped targets",
                t.target_id
            )));
        }
        if version <= VERSION_2 && t.histograms.is_some() {
            return Err(RegistryFileError::Payload(format!(
                "target {:?}: version {version} holds no histogram keys",
                t.target_id
            )));
        }
        super::validate(t)
            .map_err(|e| RegistryFileError::Payload(format!("target {:?}: {e}", t.target_id)))?;
    }
    Ok(parsed.targets)
}

/// Writes `bytes` to `path` atomically and durably: a temporary file,
/// fsynced, renamed over the old one, then the directory fsynced. The file
/// holds scrape credentials, so it is created readable by its owner only.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), RegistryFileError> {
    crate::data_dir::replace_file(path, "registry.tmp", 0o600, bytes).map_err(|source| {
        RegistryFileError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}

/// The body of the `target_registry` fuzz target: decoding never panics,
/// and what decodes re-encodes to bytes that decode to the same targets.
pub fn fuzz_decode(data: &[u8]) {
    if let Ok(list) = decode(data) {
        let refs: Vec<&RegisteredTarget> = list.iter().collect();
        let again = encode(&refs);
        match decode(&again) {
            Ok(back) => assert_eq!(back, list, "round trip changed the targets"),
            Err(e) => panic!("re-encoded registry does not decode: {e}"),
        }
    }
}
