//! The compaction journal: which partitions one swap replaces by which,
//! written and fsynced before the new partition becomes visible, so that
//! a crash between "new visible" and "old removed" is finished at open
//! instead of serving both. Layout in `FORMAT.md` beside this file.

use crate::encoding::{VarintError, put_uvarint, read_uvarint};

/// File name of the journal under `parts/`.
pub const JOURNAL: &str = "COMPACTION";
const MAGIC: &[u8; 4] = b"HGCJ";
const VERSION: u8 = 1;
/// Most inputs one swap may name.
pub(crate) const MAX_INPUTS: usize = 100_000;

/// One swap: `inputs` are replaced by `output` (none when nothing is left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Journal {
    pub(crate) inputs: Vec<String>,
    pub(crate) output: Option<String>,
}

/// Why journal bytes cannot be used (a torn write, or damage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compaction journal invalid at byte {offset}: {reason}")]
pub(crate) struct JournalError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

/// A partition directory name: one path component, no leading dot.
fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 255 && !n.starts_with('.') && !n.contains(['/', '\\', '\0'])
}

impl Journal {
    /// The journal's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.inputs.len() * 24);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        put_uvarint(&mut out, self.inputs.len() as u64);
        for n in &self.inputs {
            put_uvarint(&mut out, n.len() as u64);
            out.extend_from_slice(n.as_bytes());
        }
        let o = self.output.as_deref().unwrap_or("");
        put_uvarint(&mut out, o.len() as u64);
        out.extend_from_slice(o.as_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and checks journal bytes.
    pub(crate) fn decode(b: &[u8]) -> Result<Journal, JournalError> {
        let err = |offset, reason| JournalError { offset, reason };
        let body = b
            .len()
            .checked_sub(4)
            .filter(|&n| n >= 8)
            .ok_or(err(0, "too short"))?;
        if &b[..4] != MAGIC || b[4] != VERSION {
            return Err(err(0, "bad magic or version"));
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
        let name = |pos: &mut usize| -> Result<String, JournalError> {
            let at = *pos;
            let len = usize::try_from(varint(pos)?).map_err(|_| err(at, "name too long"))?;
            let s = b
                .get(*pos..pos.saturating_add(len))
                .ok_or(err(at, "ends early"))?;
            *pos += len;
            String::from_utf8(s.to_vec()).map_err(|_| err(at, "name is not UTF-8"))
        };
        let at = pos;
        let n = varint(&mut pos)?;
        if n > MAX_INPUTS as u64 {
            return Err(err(at, "too many inputs"));
        }
        let mut inputs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let at = pos;
            let s = name(&mut pos)?;
            if !valid_name(&s) {
                return Err(err(at, "bad input name"));
            }
            inputs.push(s);
        }
        let at = pos;
        let o = name(&mut pos)?;
        let output = if o.is_empty() {
            None
        } else if valid_name(&o) {
            Some(o)
        } else {
            return Err(err(at, "bad output name"));
        };
        if pos != b.len() {
            return Err(err(pos, "trailing bytes"));
        }
        if output.as_ref().is_some_and(|o| inputs.contains(o)) {
            return Err(err(at, "output is also an input"));
        }
        Ok(Journal { inputs, output })
    }
}

/// Checks journal bytes for `hourglass verify`: the inputs and output
/// they name, or the byte offset and reason of a problem (a torn journal
/// never committed).
pub fn check_journal(bytes: &[u8]) -> Result<(Vec<String>, Option<String>), (usize, String)> {
    Journal::decode(bytes)
        .map(|j| (j.inputs, j.output))
        .map_err(|e| (e.offset, e.reason.to_string()))
}

/// Fuzz body for `fuzz/fuzz_targets/compaction_journal.rs`: decoding never
/// panics, and what decodes re-encodes to the same bytes.
#[doc(hidden)]
pub fn fuzz_journal(bytes: &[u8]) {
    if let Ok(j) = Journal::decode(bytes) {
        assert_eq!(j.encode(), bytes, "a decoded journal re-encodes exactly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_round_trips_and_refuses_damage() {
        let j = Journal {
            inputs: vec!["2025-11-22T18".into(), "2025-11-22T18-1".into()],
            output: Some("2025-11-22T18-2".into()),
        };
        let b = j.encode();
        assert_eq!(Journal::decode(&b).unwrap(), j);
        for cut in 0..b.len() {
            assert!(Journal::decode(&b[..cut]).is_err(), "torn at {cut}");
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x40;
            assert!(Journal::decode(&d).is_err(), "flipped byte {i}");
        }
        let none = Journal {
            inputs: vec!["a".into()],
            output: None,
        };
        assert_eq!(Journal::decode(&none.encode()).unwrap(), none);
        fuzz_journal(&b);
    }

    #[test]
    fn journal_refuses_names_that_leave_the_directory() {
        for bad in ["../x", ".tmp-x", "a/b", ""] {
            let j = Journal {
                inputs: vec![bad.into()],
                output: Some("ok".into()),
            };
            assert!(Journal::decode(&j.encode()).is_err(), "{bad:?}");
        }
    }
}
