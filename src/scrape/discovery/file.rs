//! `file_sd_configs`: JSON or YAML files of target groups, re-read when a
//! matching file appears, changes or vanishes (checked by [`FileSd::poll`],
//! cheap enough to call every second) and every `refresh_interval`.
//!
//! A file that fails to read or parse keeps its previous groups; a file
//! that vanished loses them. Each group gets `__meta_filepath`.

use super::TargetGroup;
use crate::scrape::config::{FileSd as FileSdConfig, StaticConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// State of one `file_sd_configs` entry.
#[derive(Debug)]
pub struct FileSd {
    config: FileSdConfig,
    /// What the files looked like at the last read: path → (mtime, length).
    seen: BTreeMap<PathBuf, (Option<SystemTime>, u64)>,
    /// Groups per file from its last good read.
    groups: BTreeMap<PathBuf, Vec<TargetGroup>>,
    last_read: Option<Instant>,
}

impl FileSd {
    /// Starts with nothing read.
    pub fn new(config: FileSdConfig) -> FileSd {
        FileSd {
            config,
            seen: BTreeMap::new(),
            groups: BTreeMap::new(),
            last_read: None,
        }
    }

    /// Re-reads the files when something changed or the refresh interval
    /// passed; `true` when the groups may differ.
    pub fn poll(&mut self) -> bool {
        let now = self.stat();
        let due = self
            .last_read
            .is_none_or(|t| t.elapsed() >= self.config.refresh_interval);
        if !due && now == self.seen {
            return false;
        }
        let before = self.groups.clone();
        self.groups.retain(|p, _| now.contains_key(p));
        for path in now.keys() {
            match read(path) {
                Ok(groups) => {
                    self.groups.insert(path.clone(), groups);
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "file SD: keeping the previous targets");
                }
            }
        }
        self.seen = now;
        self.last_read = Some(Instant::now());
        before != self.groups
    }

    /// All groups from the last good reads.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.groups.values().flatten()
    }

    fn stat(&self) -> BTreeMap<PathBuf, (Option<SystemTime>, u64)> {
        let mut out = BTreeMap::new();
        for pattern in &self.config.files {
            for path in expand(pattern) {
                if let Ok(md) = std::fs::metadata(&path)
                    && md.is_file()
                {
                    out.insert(path, (md.modified().ok(), md.len()));
                }
            }
        }
        out
    }
}

/// The paths a pattern names: `*` and `?` allowed in the last element.
pub(crate) fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![path.to_path_buf()];
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|f| wildcard(name, f)))
        .map(|e| dir.join(e.file_name()))
        .collect();
    out.sort();
    out
}

/// Shell-style match of `*` (any run) and `?` (one character).
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            back = Some((pi, ni));
            pi += 1;
        } else if let Some((bp, bn)) = back {
            pi = bp + 1;
            ni = bn + 1;
            back = Some((bp, bn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Why a file's groups could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// JSON that is not a list of groups.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// YAML that is not a list of groups.
    #[error("invalid YAML: {0}")]
    Yaml(String),
}

/// Reads one file of groups (JSON by `.json`, else YAML).
pub fn read(path: &Path) -> Result<Vec<TargetGroup>, FileSdError> {
    let text = std::fs::read_to_string(path)?;
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    parse_groups(&text, is_json, &path.display().to_string())
}

/// Parses the text of a file SD file named `file`.
pub fn parse_groups(
    text: &str,
    is_json: bool,
    file: &str,
) -> Result<Vec<TargetGroup>, FileSdError> {
    let configs: Vec<StaticConfig> = if is_json {
        serde_json::from_str(text)?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str(text).map_err(|e| FileSdError::Yaml(e.to_string()))?
    };
    Ok(TargetGroup::from_configs(configs, "__meta_filepath", file))
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("t?.yml", "t1.yml"));
        assert!(!wildcard("*.json", "a.yml"));
        assert!(wildcard("a*b*c", "aXbYbc"));
    }
}
