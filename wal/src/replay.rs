//! Reading records back, oldest first.

use crate::error::{Error, Result};
use crate::reader::{End, Position, Scanner};
use crate::record::{Lsn, Record};

/// Records read back by [`crate::Wal::replay`].
pub struct Replay {
    scanner: Scanner,
    /// Damage reported when the log was opened: skipped without an error.
    known: Vec<Position>,
    /// Entries of the scanner's damage list looked at so far.
    seen: usize,
    done: bool,
}

impl Replay {
    /// Records `scanner` reads, with the damage `known` at open skipped.
    pub(crate) fn new(scanner: Scanner, known: Vec<Position>) -> Replay {
        Replay {
            scanner,
            known,
            seen: 0,
            done: false,
        }
    }
}

impl Iterator for Replay {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let next = self.scanner.next_record();
        // Damage that appeared since the log was opened stops replay.
        while let Some(d) = self.scanner.damages.get(self.seen) {
            self.seen += 1;
            if !self.known.contains(&d.at) {
                self.done = true;
                return Some(Err(corrupt(d.at, d.reason)));
            }
        }
        match next {
            Ok(Some((lsn, data))) => Some(Ok(Record {
                lsn: Lsn(lsn),
                data,
            })),
            Ok(None) => {
                self.done = true;
                match self.scanner.end() {
                    Some(End::Corrupt { at, reason, .. }) => Some(Err(corrupt(*at, reason))),
                    _ => None,
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn corrupt(at: Position, reason: &str) -> Error {
    Error::Corrupt {
        segment: at.segment,
        offset: at.offset,
        reason: reason.to_string(),
    }
}
