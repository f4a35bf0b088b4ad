//! The compaction journal: which partitions one swap replaces by which,
//! written and fsynced before the new partition becomes visible, so that
//! a crash between "new visible" and "old removed" is finished at open
//! instead of serving both. Layout in `FORMAT.md` beside this file.

use crate::encoding::put_uvarint;
use crate::sealed::{self, Reader, SealedError};

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
        let mut out = sealed::header(MAGIC, VERSION, 64 + self.inputs.len() * 24);
        put_uvarint(&mut out, self.inputs.len() as u64);
        for n in &self.inputs {
            sealed::put_str(&mut out, n);
        }
        sealed::put_str(&mut out, self.output.as_deref().unwrap_or(""));
        sealed::seal(out)
    }

    /// Parses and checks journal bytes.
    pub(crate) fn decode(b: &[u8]) -> Result<Journal, JournalError> {
        let err = |e: SealedError| JournalError {
            offset: e.offset,
            reason: e.reason,
        };
        let mut r = Reader::open(b, MAGIC, VERSION).map_err(err)?;
        let n = r.count(MAX_INPUTS, "too many inputs").map_err(err)?;
        let mut inputs = Vec::with_capacity(n);
        for _ in 0..n {
            let at = r.pos();
            let s = r.string().map_err(err)?;
            if !valid_name(&s) {
                return Err(JournalError {
                    offset: at,
                    reason: "bad input name",
                });
            }
            inputs.push(s);
        }
        let at = r.pos();
        let o = r.string().map_err(err)?;
        let bad = |reason| JournalError { offset: at, reason };
        let output = if o.is_empty() {
            None
        } else if valid_name(&o) {
            Some(o)
        } else {
            return Err(bad("bad output name"));
        };
        r.finish().map_err(err)?;
        if output.as_ref().is_some_and(|o| inputs.contains(o)) {
            return Err(bad("output is also an input"));
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
