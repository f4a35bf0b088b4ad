//! Tombstones: deletions not yet applied to disk. Each hides the samples
//! of the series its matchers select in `[start, end]` (inclusive) from
//! every query at once, and compaction removes those samples (and series
//! left empty, with their label values) from the partitions it rewrites.
//! The file `<data>/tombstones` is versioned and checksummed; layout in
//! `TOMBSTONES.md` beside this file.

use crate::compact::RewriteStep;
use crate::encoding::{VarintError, put_uvarint, put_zvarint, read_uvarint, unzigzag};
use crate::error::StorageError;
use crate::model::labels::Labels;
use crate::model::matcher::{MatchOp, Matcher};
use crate::model::sample::Sample;
use crate::partition::Partition;
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
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(m.name()).unwrap_or("")))
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
    let mut out = Vec::with_capacity(16 + list.len() * 48);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, 0, 0, 0]);
    put_uvarint(&mut out, list.len() as u64);
    for t in list {
        put_zvarint(&mut out, t.start);
        put_zvarint(&mut out, t.end);
        put_uvarint(&mut out, t.matchers.len() as u64);
        for m in &t.matchers {
            out.push(op_byte(m.op()));
            for s in [m.name(), m.value()] {
                put_uvarint(&mut out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes and checks a tombstones file.
pub fn decode(b: &[u8]) -> Result<Vec<Tombstone>, TombstoneError> {
    let err = |offset: usize, reason: &str| TombstoneError {
        offset,
        reason: reason.to_string(),
    };
    let body = b
        .len()
        .checked_sub(4)
        .filter(|&n| n >= 8)
        .ok_or_else(|| err(0, "too short"))?;
    if &b[..4] != MAGIC {
        return Err(err(0, "bad magic"));
    }
    if b[4] != VERSION {
        return Err(err(4, "unknown version"));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[body..]);
    if u32::from_le_bytes(crc) != crc32fast::hash(&b[..body]) {
        return Err(err(body, "checksum mismatch"));
    }
    let b = &b[..body];
    let mut pos = 8;
    let varint = |pos: &mut usize| {
        let at = *pos;
        read_uvarint(b, pos).map_err(|e| match e {
            VarintError::Truncated => err(at, "ends early"),
            VarintError::Overflow => err(at, "varint overflow"),
        })
    };
    let string = |pos: &mut usize| -> Result<String, TombstoneError> {
        let at = *pos;
        let len = usize::try_from(varint(pos)?).map_err(|_| err(at, "too long"))?;
        let s = b
            .get(*pos..pos.saturating_add(len))
            .ok_or_else(|| err(at, "ends early"))?;
        *pos += len;
        String::from_utf8(s.to_vec()).map_err(|_| err(at, "not UTF-8"))
    };
    let n = varint(&mut pos)?;
    if n > MAX_TOMBSTONES as u64 {
        return Err(err(8, "too many tombstones"));
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = unzigzag(varint(&mut pos)?);
        let end = unzigzag(varint(&mut pos)?);
        if start > end {
            return Err(err(pos, "start after end"));
        }
        let at = pos;
        let nm = varint(&mut pos)?;
        if nm == 0 || nm > MAX_MATCHERS as u64 {
            return Err(err(at, "matcher count out of range"));
        }
        let mut matchers = Vec::with_capacity(nm as usize);
        for _ in 0..nm {
            let at = pos;
            let op = match b.get(pos) {
                Some(0) => MatchOp::Equal,
                Some(1) => MatchOp::NotEqual,
                Some(2) => MatchOp::RegexMatch,
                Some(3) => MatchOp::RegexNoMatch,
                _ => return Err(err(at, "bad matcher operator")),
            };
            pos += 1;
            let name = string(&mut pos)?;
            let value = string(&mut pos)?;
            matchers.push(Matcher::new(op, name, value).map_err(|e| err(at, &e.to_string()))?);
        }
        out.push(Tombstone {
            matchers,
            start,
            end,
        });
    }
    if pos != b.len() {
        return Err(err(pos, "trailing bytes"));
    }
    Ok(out)
}

/// Hides and removes the samples of a tombstone list.
#[derive(Debug)]
pub(crate) struct Deletions<'a>(pub(crate) &'a [Tombstone]);

impl Deletions<'_> {
    /// Removes deleted samples from one series' samples.
    pub(crate) fn filter(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        for t in self.0.iter().filter(|t| t.selects(labels)) {
            samples.retain(|s| !t.covers(s.t));
        }
    }

    /// True when some tombstone selects `labels`.
    pub(crate) fn touches_series(&self, labels: &Labels) -> bool {
        self.0.iter().any(|t| t.selects(labels))
    }
}

impl RewriteStep for Deletions<'_> {
    fn touches(&self, p: &Partition) -> bool {
        self.0.iter().any(|t| {
            !p.select(&t.matchers, t.start, t.end).is_empty()
                || p.downsampled()
                    .iter()
                    .any(|s| t.selects(&s.labels) && s.iv.iter().any(|i| t.covers(i.last_t)))
        })
    }

    fn apply(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        self.filter(labels, samples);
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
