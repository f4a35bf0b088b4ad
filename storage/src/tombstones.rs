//! Tombstones: deletions not yet applied to disk. Each hides the samples
//! of the series its matchers select in `[start, end]` (inclusive) from
//! every query at once, and compaction removes those samples (and series
//! left empty, with their label values) from the partitions it rewrites.
//! The file `<data>/tombstones` is versioned and checksummed; layout in
//! `TOMBSTONES.md` beside this file.

use crate::compact::RewriteStep;
use crate::encoding::{put_uvarint, put_zvarint, unzigzag};
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::model::sample::Sample;
use crate::partition::Partition;
use crate::sealed::{self, Reader, SealedError};
use hourglass_wal::fs::Fs;
use std::path::Path;

/// File name under the data directory.
pub(crate) const FILE: &str = "tombstones";
const MAGIC: &[u8; 4] = b"HGTS";
const VERSION: u8 = 1;
/// Most tombstones kept at once; a delete beyond it is refused.
pub const MAX_TOMBSTONES: usize = 10_000;
/// Most matchers in one tombstone.
const MAX_MATCHERS: usize = 64;

/// One deletion: series selected by `matchers`, samples in `[start, end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    /// Selects the series (all must match).
    pub matchers: Vec<Matcher>,
    /// First deleted timestamp (inclusive).
    pub start: i64,
    /// Last deleted timestamp (inclusive).
    pub end: i64,
}

impl Tombstone {
    /// True when `labels` satisfies every matcher.
    pub fn selects(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|m| m.matches_labels(labels))
    }

    /// True when `t` is deleted for a selected series.
    pub fn covers(&self, t: i64) -> bool {
        self.start <= t && t <= self.end
    }
}

/// Why tombstone bytes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tombstones file invalid at byte {offset}: {reason}")]
pub struct TombstoneError {
    /// Where.
    pub offset: usize,
    /// What.
    pub reason: String,
}

fn op_byte(op: MatchOp) -> u8 {
    match op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::RegexMatch => 2,
        MatchOp::RegexNoMatch => 3,
    }
}

/// Encodes a tombstone list.
pub fn encode(list: &[Tombstone]) -> Vec<u8> {
    let mut out = sealed::header(MAGIC, VERSION, list.len() * 48);
    put_uvarint(&mut out, list.len() as u64);
    for t in list {
        put_zvarint(&mut out, t.start);
        put_zvarint(&mut out, t.end);
        put_uvarint(&mut out, t.matchers.len() as u64);
        for m in &t.matchers {
            out.push(op_byte(m.op()));
            sealed::put_str(&mut out, m.name());
            sealed::put_str(&mut out, m.value());
        }
    }
    sealed::seal(out)
}

impl From<SealedError> for TombstoneError {
    fn from(e: SealedError) -> Self {
        TombstoneError {
            offset: e.offset,
            reason: e.reason.to_string(),
        }
    }
}

/// Decodes and checks a tombstones file.
pub fn decode(b: &[u8]) -> Result<Vec<Tombstone>, TombstoneError> {
    let mut r = Reader::open(b, MAGIC, VERSION)?;
    let n = r.count(MAX_TOMBSTONES, "too many tombstones")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = unzigzag(r.uvarint()?);
        let end = unzigzag(r.uvarint()?);
        if start > end {
            return Err(r.error("start after end").into());
        }
        let at = r.pos();
        let nm = r.count(MAX_MATCHERS, "matcher count out of range")?;
        if nm == 0 {
            return Err(TombstoneError {
                offset: at,
                reason: "matcher count out of range".into(),
            });
        }
        let mut matchers = Vec::with_capacity(nm);
        for _ in 0..nm {
            let at = r.pos();
            let op = match r.byte()? {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::RegexMatch,
                3 => MatchOp::RegexNoMatch,
                _ => {
                    return Err(TombstoneError {
                        offset: at,
                        reason: "bad matcher operator".into(),
                    });
                }
            };
            let name = r.string()?;
            let value = r.string()?;
            matchers.push(Matcher::new(op, name, value).map_err(|e| TombstoneError {
                offset: at,
                reason: e.to_string(),
            })?);
        }
        out.push(Tombstone {
            matchers,
            start,
            end,
        });
    }
    r.finish()?;
    Ok(out)
}

/// Hides and removes the samples of a tombstone list.
#[derive(Debug)]
pub(crate) struct Deletions<'a>(pub(crate) &'a [Tombstone]);

impl Deletions<'_> {
    /// Removes deleted samples from one series' samples.
    pub(crate) fn filter(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        self.filter_times(labels, samples, |s| s.t);
    }

    /// Removes deleted items (timed by `time`) from one series' items.
    pub(crate) fn filter_times<T>(
        &self,
        labels: &Labels,
        items: &mut Vec<T>,
        time: impl Fn(&T) -> i64,
    ) {
        for t in self.0.iter().filter(|t| t.selects(labels)) {
            items.retain(|x| !t.covers(time(x)));
        }
    }

    /// True when some tombstone selects `labels`.
    pub(crate) fn touches_series(&self, labels: &Labels) -> bool {
        self.0.iter().any(|t| t.selects(labels))
    }
}

impl RewriteStep for Deletions<'_> {
    fn touches(&self, p: &Partition) -> bool {
        self.0
            .iter()
            .any(|t| !p.labels_in(&t.matchers, t.start, t.end).is_empty())
    }

    fn apply(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        self.filter(labels, samples);
    }

    fn keeps_histogram(&self, labels: &Labels, t: i64) -> bool {
        !self.0.iter().any(|d| d.selects(labels) && d.covers(t))
    }
}

/// Reads `<dir>/tombstones`; a damaged file is set aside (and logged),
/// never a reason not to start.
pub(crate) fn load(fs: &dyn Fs, dir: &Path) -> Result<Vec<Tombstone>, StorageError> {
    let path = dir.join(FILE);
    if !fs.exists(&path) {
        return Ok(Vec::new());
    }
    let io = |source| StorageError::Io {
        path: path.clone(),
        source,
    };
    let bytes = fs.read(&path).map_err(io)?;
    match decode(&bytes) {
        Ok(list) => Ok(list),
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "tombstones damaged: set aside; deleted samples are visible again");
            fs.rename(&path, &dir.join(format!("{}.corrupt", FILE)))
                .map_err(io)?;
            Ok(Vec::new())
        }
    }
}

/// Replaces `<dir>/tombstones` durably (temp file, fsync, rename, fsync).
pub(crate) fn save(fs: &dyn Fs, dir: &Path, list: &[Tombstone]) -> Result<(), StorageError> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{}.tmp", FILE));
    let io = |source| StorageError::Io {
        path: path.clone(),
        source,
    };
    let f = fs.create(&tmp).map_err(io)?;
    let written = f
        .write_all(&encode(list))
        .and_then(|()| f.sync())
        .and_then(|()| fs.rename(&tmp, &path))
        .and_then(|()| fs.sync_dir(dir));
    if let Err(e) = written {
        let _ = fs.remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Fuzz body for `fuzz/fuzz_targets/tombstones.rs`: decoding never panics,
/// and what decodes re-encodes to the same bytes.
#[doc(hidden)]
pub fn fuzz_tombstones(bytes: &[u8]) {
    if let Ok(list) = decode(bytes) {
        assert_eq!(encode(&list), bytes, "a decoded list re-encodes exactly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn tombstones_round_trip_and_refuse_damage() {
        let list = vec![
            Tombstone {
                matchers: vec![
                    m(MatchOp::Equal, "__name__", "up"),
                    m(MatchOp::RegexMatch, "job", "a|b"),
                ],
                start: i64::MIN,
                end: i64::MAX,
            },
            Tombstone {
                matchers: vec![m(MatchOp::NotEqual, "instance", "")],
                start: -5,
                end: 1_763_769_600_000,
            },
        ];
        let b = encode(&list);
        assert_eq!(decode(&b).unwrap(), list);
        fuzz_tombstones(&b);
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "torn at {cut}");
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x08;
            assert!(decode(&d).is_err(), "flipped byte {i}");
        }
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn deletions_remove_only_selected_series_in_range() {
        let list = [Tombstone {
            matchers: vec![m(MatchOp::Equal, "job", "debug")],
            start: 10,
            end: 20,
        }];
        let d = Deletions(&list);
        let debug = Labels::from_pairs([("__name__", "x"), ("job", "debug")]);
        let prod = Labels::from_pairs([("__name__", "x"), ("job", "prod")]);
        let all: Vec<Sample> = (0..30).map(|t| Sample::new(t, 1.0)).collect();
        let mut s = all.clone();
        d.filter(&debug, &mut s);
        assert_eq!(s.len(), 19);
        assert!(s.iter().all(|x| x.t < 10 || x.t > 20));
        let mut s = all.clone();
        d.filter(&prod, &mut s);
        assert_eq!(s, all);
    }
}
